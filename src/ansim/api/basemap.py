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

router = APIRouter(prefix="/api/v1/map", tags=["map"])
# Drawn wider and darker on the board, so a dispatcher reads the street hierarchy at a glance.
MAJOR_ROADS = {"motorway", "trunk", "primary", "secondary"}


@cache
def roads_geojson() -> bytes:
    """Each street once (two-way roads have twin edges), coordinates rounded to ~1 m."""
    import json

    graph = load_road_graph()
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
async def get_roads(_user: AnyStaff) -> Response:
    """The bundled central-Seoul road network as GeoJSON (© OpenStreetMap contributors, ODbL)."""
    body = await run_in_threadpool(roads_geojson)
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
