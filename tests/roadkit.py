"""Small hand-built road networks written as OSM XML, shared by the road and routing tests."""

from pathlib import Path

from ansim.geo.geodesy import LocalFrame
from ansim.geo.road_files import read_osm_xml
from ansim.geo.roads import RoadGraph

FRAME = LocalFrame(37.56, 126.98)


Ways = list[tuple[list[int], dict[str, str]]]


def osm_xml(nodes: dict[int, tuple[float, float]], ways: Ways) -> str:
    """OSM XML for nodes given in metres (east, north) of FRAME and tagged ways."""
    parts = ["<?xml version='1.0' encoding='UTF-8'?>", "<osm version='0.6'>"]
    for node_id, (east, north) in nodes.items():
        lat, lon = FRAME.to_latlon(east, north)
        parts.append(f"<node id='{node_id}' lat='{lat:.7f}' lon='{lon:.7f}'/>")
    for way_id, (refs, tags) in enumerate(ways, start=1):
        parts.append(f"<way id='{way_id}'>")
        parts += [f"<nd ref='{r}'/>" for r in refs]
        parts += [f"<tag k='{k}' v='{v}'/>" for k, v in tags.items()]
        parts.append("</way>")
    parts.append("</osm>")
    return "\n".join(parts)


def build(
    tmp_path: Path,
    nodes: dict[int, tuple[float, float]],
    ways: Ways,
) -> RoadGraph:
    path = tmp_path / "roads.osm"
    path.write_text(osm_xml(nodes, ways), encoding="utf-8")
    return read_osm_xml(path)


def at(east: float, north: float) -> tuple[float, float]:
    """(lat, lon) of a point given in metres of FRAME."""
    return FRAME.to_latlon(east, north)
