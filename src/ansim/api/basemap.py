"""The offline base map: the bundled road network and the police stations, as GeoJSON."""

from __future__ import annotations

from functools import cache
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from ansim.api.auth import AnyStaff, ContextDep
from ansim.domain.units import Station
from ansim.geo.demo_data import load_road_graph
from ansim.geo.roads import RoadGraph
from ansim.services.road_ranking import RoadRanker

router = APIRouter(prefix="/api/v1/map", tags=["map"])
# Drawn wider and darker on the board, so a dispatcher reads the street hierarchy at a glance.
MAJOR_ROADS = {"motorway", "trunk", "primary", "secondary"}


def roads_geojson(graph: RoadGraph | None = None) -> bytes:
    """Each street once (two-way roads have twin edges), coordinates rounded to ~1 m."""
    return _roads_geojson(graph or load_road_graph())


@cache
def _roads_geojson(graph: RoadGraph) -> bytes:
    import json

    twins = graph.edge_twin
    features: list[dict[str, Any]] = []
    for edge in range(graph.edge_count):
        twin = int(twins[edge])
        if 0 <= twin < edge:
            continue
        highway = graph.edge_highway[edge]
        features.append(
            {
                "type": "Feature",
                "properties": {"name": graph.edge_name[edge], "major": highway in MAJOR_ROADS},
                "geometry": {
                    "type": "LineString",
                    "coordinates": [
                        [round(lon, 5), round(lat, 5)] for lat, lon in graph.edge_polyline(edge)
                    ],
                },
            }
        )
    collection = {
        "type": "FeatureCollection",
        "attribution": "© OpenStreetMap contributors (ODbL 1.0)",
        "features": features,
    }
    return json.dumps(collection, ensure_ascii=False, separators=(",", ":")).encode()


@router.get("/roads", operation_id="get_base_map_roads")
async def get_roads(context: ContextDep, _user: AnyStaff) -> Response:
    """The road network units are ranked on (the center's imported one, else the bundled
    central-Seoul network) as GeoJSON (© OpenStreetMap contributors, ODbL)."""
    ranker = context.ranker
    graph = ranker.graph if isinstance(ranker, RoadRanker) else None
    body = await run_in_threadpool(roads_geojson, graph)
    return Response(
        body, media_type="application/geo+json", headers={"Cache-Control": "private, max-age=3600"}
    )


@router.get("/stations", operation_id="list_stations")
async def list_stations(context: ContextDep, _user: AnyStaff) -> list[dict[str, Any]]:
    """Police stations, 지구대 and 파출소 with their positions."""
    import sqlalchemy as sa

    def query() -> list[dict[str, Any]]:
        with context.uow.read() as session:
            return [
                {
                    "id": s.id,
                    "name": s.name,
                    "kind": s.kind.value,
                    "lat": s.lat,
                    "lon": s.lon,
                    "district": s.district,
                }
                for s in session.execute(sa.select(Station)).scalars()
            ]

    return await run_in_threadpool(query)
