"""A car-like track on the bundled Seoul roads: GNSS fixes along a routed drive."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

from ansim.domain.fixes import FixMethod, LocationFix
from ansim.geo.demo_data import load_road_graph
from ansim.geo.geodesy import haversine_m, initial_bearing_deg
from ansim.geo.routing import NoRoute, route

CITY_HALL = (37.5665, 126.9780)
TOWARD_JONGNO = (37.5700, 126.9900)


def car_fixes(
    start_at: datetime,
    *,
    origin: tuple[float, float] = CITY_HALL,
    toward: tuple[float, float] = TOWARD_JONGNO,
    speed_mps: float = 12.0,
    every_s: int = 5,
    count: int = 12,
) -> list[LocationFix]:
    """Exact positions along the routed drive every `every_s` s, with Doppler speed and heading."""
    graph = load_road_graph()
    drive = route(graph, graph.snap(*origin), graph.snap(*toward))
    assert not isinstance(drive, NoRoute)
    line = list(drive.polyline)
    cum = [0.0]
    for a, b in itertools.pairwise(line):
        cum.append(cum[-1] + haversine_m(*a, *b))
    fixes = []
    for k in range(count):
        along = min(speed_mps * every_s * k, cum[-1])
        i = min(max(j for j in range(len(cum)) if cum[j] <= along), len(line) - 2)
        (alat, alon), (blat, blon) = line[i], line[i + 1]
        share = min(1.0, (along - cum[i]) / max(cum[i + 1] - cum[i], 1e-9))
        fixes.append(
            LocationFix(
                lat=alat + share * (blat - alat),
                lon=alon + share * (blon - alon),
                radius_m=15.0,
                method=FixMethod.GNSS,
                observed_at=start_at + timedelta(seconds=every_s * k),
                source="car",
                speed_mps=speed_mps,
                heading_deg=initial_bearing_deg(alat, alon, blat, blon),
            )
        )
    return fixes
