"""The SOS path's cheaper ranking gives the same answer as ranking from scratch."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from ansim.domain.units import Unit, UnitStatus
from ansim.geo.demo_data import load_road_graph
from ansim.geo.roads import OffNetwork, RoadGraph
from ansim.geo.routing import eta_from_units
from ansim.services.road_ranking import RoadRanker

AT = datetime(2026, 12, 5, tzinfo=UTC)
CENTRE = (37.5665, 126.978)


def _fleet(rng: random.Random, size: int, first: int = 0) -> list[Unit]:
    return [
        Unit(
            id=f"u{first + i}",
            call_sign=f"순찰{i}",
            station_id="s",
            status=UnitStatus.AVAILABLE,
            status_at=AT,
            lat=CENTRE[0] + rng.uniform(-0.03, 0.03),
            lon=CENTRE[1] + rng.uniform(-0.03, 0.03),
        )
        for i in range(size)
    ]


def _from_scratch(
    graph: RoadGraph, lat: float, lon: float, units: list[Unit]
) -> list[tuple[str, float | None]]:
    """Every unit snapped anew and one Dijkstra: what ranking did before the snap cache."""
    target = graph.snap(lat, lon)
    placed = []
    for unit in units:
        assert unit.lat is not None
        assert unit.lon is not None
        try:
            placed.append((unit.id, graph.snap(unit.lat, unit.lon)))
        except OffNetwork:
            continue
    etas = eta_from_units(graph, target, [snap for _, snap in placed])
    return [(uid, eta) for (uid, _), eta in zip(placed, etas, strict=True)]


def test_ranking_with_cached_unit_snaps_equals_ranking_from_scratch_on_random_incidents() -> None:
    graph = load_road_graph()
    ranker = RoadRanker(graph)
    rng = random.Random(15)
    fleet = _fleet(rng, 40)
    for round_ in range(30):
        lat, lon = CENTRE[0] + rng.uniform(-0.02, 0.02), CENTRE[1] + rng.uniform(-0.02, 0.02)
        try:
            expected = dict(_from_scratch(graph, lat, lon, fleet))
        except OffNetwork:
            continue
        if rng.random() < 0.3:  # some units moved since the last SOS
            fleet = [*fleet[:30], *_fleet(rng, 10, first=100 * (round_ + 1))]
            expected = dict(_from_scratch(graph, lat, lon, fleet))
        ranked = ranker.rank(lat=lat, lon=lon, units=fleet)
        on_map = [r for r in ranked if r.unit.id in expected]
        assert {r.unit.id: r.eta_s for r in on_map} == expected
        etas = [r.eta_s for r in on_map if r.eta_s is not None]
        assert etas == sorted(etas)
