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


@cache
def districts_geojson() -> bytes:
    """The 자치구 the bundled road network reaches (the center's area), with the network's bounds."""
    import json

    from ansim.geo.demo_data import load_districts

    graph = load_road_graph()
    south, north = float(graph.node_lat.min()), float(graph.node_lat.max())
    west, east = float(graph.node_lon.min()), float(graph.node_lon.max())
    features = [
        {
            "type": "Feature",
            "properties": {"name_ko": d.name_ko, "name_en": d.name_en, "code": d.code},
            "geometry": {
                "type": "MultiPolygon",
                "coordinates": [
                    [[[round(lon, 5), round(lat, 5)] for lon, lat in ring] for ring in polygon]
                    for polygon in d.polygons
                ],
            },
        }
        for d in load_districts()
        if d.bbox[0] <= east and d.bbox[2] >= west and d.bbox[1] <= north and d.bbox[3] >= south
    ]
    collection = {
        "type": "FeatureCollection",
        # [[south, west], [north, east]]: what the maps open on.
        "area": [[round(south, 5), round(west, 5)], [round(north, 5), round(east, 5)]],
        "features": features,
    }
    return json.dumps(collection, ensure_ascii=False, separators=(",", ":")).encode()


@router.get("/districts", operation_id="get_base_map_districts")
async def get_districts(_user: AnyStaff) -> Response:
    """The districts of the covered area as GeoJSON, and `area`: the bounds the consoles open on."""
    body = await run_in_threadpool(districts_geojson)
    return Response(
        body, media_type="application/geo+json", headers={"Cache-Control": "private, max-age=3600"}
    )
