"""Road graph files: OSMnx GraphML, OSM XML extracts and ansim's compact gzip JSON."""

from __future__ import annotations

import ast
import gzip
import json
import math
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element, ParseError

import numpy as np
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import parse as parse_xml

from ansim.geo.geodesy import LocalFrame, haversine_many_m
from ansim.geo.roads import URBAN_SPEED_KMH, RoadGraph, RoadImportError

COMPACT_FORMAT = "ansim-roads"
COMPACT_VERSION = 1
# Douglas-Peucker tolerance for stored edge shapes: well under a lane width.
SIMPLIFY_TOLERANCE_M = 3.0
_GRAPHML_NS = "{http://graphml.graphdrawing.org/xmlns}"
_DRIVABLE = frozenset(URBAN_SPEED_KMH) | {"road"}
_ONEWAY_FORWARD = frozenset({"yes", "true", "1"})
_ONEWAY_REVERSE = frozenset({"-1", "reverse"})
_NO_ACCESS = frozenset({"no", "private"})
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def read_road_file(path: Path) -> RoadGraph:
    """Reads a road graph, telling the format from the file's first bytes."""
    try:
        with path.open("rb") as f:
            head = f.read(4096)
    except OSError as err:
        raise RoadImportError(f"cannot read road file {path}: {err}") from err
    if head[:2] == b"\x1f\x8b" or head.lstrip()[:1] == b"{":
        return read_compact(path)
    if b"<graphml" in head:
        return read_graphml(path)
    if b"<osm" in head:
        return read_osm_xml(path)
    raise RoadImportError(f"{path} is neither GraphML, OSM XML nor an ansim road file")


def _parse_tree(path: Path) -> Element:
    try:
        with path.open("rb") as f:
            root: Element = parse_xml(f).getroot()
    except OSError as err:
        raise RoadImportError(f"cannot read road file {path}: {err}") from err
    except (ParseError, DefusedXmlException) as err:
        raise RoadImportError(f"{path} is not well-formed XML: {err}") from err
    return root


def _first_text(value: str) -> str:
    """OSMnx writes merged attributes as Python list literals; keeps them readable."""
    if value.startswith("["):
        try:
            items = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            return value
        if isinstance(items, list):
            return "/".join(str(i) for i in items)
    return value


def _maxspeed(value: str | None) -> float:
    numbers = [float(n) for n in _NUMBER.findall(value or "")]
    if not numbers:
        return math.nan
    return min(numbers) * (1.609344 if "mph" in (value or "") else 1.0)


def read_graphml(path: Path) -> RoadGraph:
    """Reads an OSMnx GraphML drive network (directed multigraph, OSM node ids)."""
    root = _parse_tree(path)
    keys = {k.get("id"): k.get("attr.name") for k in root.iter(f"{_GRAPHML_NS}key")}
    graph = root.find(f"{_GRAPHML_NS}graph")
    if graph is None:
        raise RoadImportError(f"{path} has no <graph> element")

    def attrs(el: Element) -> dict[str, str]:
        return {str(keys.get(d.get("key"))): d.text or "" for d in el.findall(f"{_GRAPHML_NS}data")}

    index: dict[str, int] = {}
    ids: list[int] = []
    lats: list[float] = []
    lons: list[float] = []
    for node in graph.iter(f"{_GRAPHML_NS}node"):
        a, nid = attrs(node), node.get("id", "")
        try:
            lat, lon, osm_id = float(a["y"]), float(a["x"]), int(nid)
        except (KeyError, ValueError) as err:
            raise RoadImportError(f"node {nid!r} in {path} lacks numeric x/y: {err}") from err
        index[nid] = len(ids)
        ids.append(osm_id)
        lats.append(lat)
        lons.append(lon)
    edges: list[dict[str, Any]] = []
    for edge in graph.iter(f"{_GRAPHML_NS}edge"):
        a = attrs(edge)
        src, dst = edge.get("source", ""), edge.get("target", "")
        if src not in index or dst not in index:
            raise RoadImportError(f"edge {src}->{dst} in {path} refers to an unknown node")
        u, v = index[src], index[dst]
        shape = _wkt_points(a.get("geometry")) or [(lats[u], lons[u]), (lats[v], lons[v])]
        try:
            length = float(a["length"])
        except (KeyError, ValueError) as err:
            raise RoadImportError(f"edge {src}->{dst} in {path} has no numeric length") from err
        edges.append(
            {
                "u": u,
                "v": v,
                "length": length,
                "shape": shape,
                "highway": _first_text(a.get("highway", "road")).split("/")[0],
                "oneway": a.get("oneway", "False") == "True",
                "maxspeed": _maxspeed(a.get("maxspeed")),
                "name": _first_text(a.get("name", "")),
            }
        )
    return _assemble(ids, lats, lons, edges)


def _wkt_points(wkt: str | None) -> list[tuple[float, float]]:
    if not wkt or not wkt.startswith("LINESTRING"):
        return []
    inner = wkt[wkt.find("(") + 1 : wkt.rfind(")")]
    try:
        pairs = [p.split() for p in inner.split(",")]
        return [(float(lat), float(lon)) for lon, lat in pairs]
    except ValueError as err:
        raise RoadImportError(f"bad edge geometry {wkt[:60]!r}") from err


def read_osm_xml(path: Path) -> RoadGraph:
    """Reads drivable ways from an OSM XML extract, splitting them at junctions."""
    root = _parse_tree(path)
    coords: dict[int, tuple[float, float]] = {}
    try:
        for n in root.iter("node"):
            coords[int(n.get("id", ""))] = (float(n.get("lat", "")), float(n.get("lon", "")))
    except ValueError as err:
        raise RoadImportError(f"{path} has a node without numeric id/lat/lon") from err
    ways: list[tuple[list[int], dict[str, str]]] = []
    for w in root.iter("way"):
        tags = {t.get("k", ""): t.get("v", "") for t in w.iter("tag")}
        if tags.get("highway") not in _DRIVABLE or tags.get("access") in _NO_ACCESS:
            continue
        refs = [int(r.get("ref", "0")) for r in w.iter("nd")]
        refs = [r for r in refs if r in coords]
        if len(refs) >= 2:
            ways.append((refs, tags))
    if not ways:
        raise RoadImportError(f"{path} contains no drivable OSM ways")
    uses: dict[int, int] = {}
    for refs, _ in ways:
        for r in refs:
            uses[r] = uses.get(r, 0) + 1
        uses[refs[0]] += 1
        uses[refs[-1]] += 1
    index: dict[int, int] = {}
    edges: list[dict[str, Any]] = []
    for refs, tags in ways:
        oneway = tags.get("oneway", "").lower()
        roundabout = tags.get("junction") in {"roundabout", "circular"}
        forward_only = oneway in _ONEWAY_FORWARD or roundabout
        forward_only = forward_only or (tags["highway"] == "motorway" and oneway != "no")
        if oneway in _ONEWAY_REVERSE:
            refs, forward_only = refs[::-1], True
        start = 0
        for i in range(1, len(refs)):
            if uses[refs[i]] > 1 or i == len(refs) - 1:
                _add_way_piece(refs[start : i + 1], tags, forward_only, coords, index, edges)
                start = i
    ids = list(index)
    return _assemble(ids, [coords[i][0] for i in ids], [coords[i][1] for i in ids], edges)


def _add_way_piece(
    refs: list[int],
    tags: dict[str, str],
    oneway: bool,
    coords: dict[int, tuple[float, float]],
    index: dict[int, int],
    edges: list[dict[str, Any]],
) -> None:
    shape = [coords[r] for r in refs]
    lat, lon = np.array([p[0] for p in shape]), np.array([p[1] for p in shape])
    length = float(haversine_many_m(lat[:-1], lon[:-1], lat[1:], lon[1:]).sum())
    u, v = (index.setdefault(r, len(index)) for r in (refs[0], refs[-1]))
    base = {
        "length": length,
        "highway": tags["highway"],
        "oneway": oneway,
        "maxspeed": _maxspeed(tags.get("maxspeed")),
        "name": tags.get("name", ""),
    }
    edges.append({**base, "u": u, "v": v, "shape": shape})
    if not oneway:
        edges.append({**base, "u": v, "v": u, "shape": shape[::-1]})


def _assemble(
    ids: list[int], lats: list[float], lons: list[float], edges: list[dict[str, Any]]
) -> RoadGraph:
    if not ids or not edges:
        raise RoadImportError("the road file holds no nodes or no edges")
    offsets, glat, glon = [0], [], []
    for e in edges:
        for lat, lon in e["shape"]:
            glat.append(lat)
            glon.append(lon)
        offsets.append(len(glat))
    return RoadGraph(
        node_ids=ids,
        node_lat=lats,
        node_lon=lons,
        edge_from=[e["u"] for e in edges],
        edge_to=[e["v"] for e in edges],
        edge_length_m=[e["length"] for e in edges],
        edge_highway=[e["highway"] for e in edges],
        edge_oneway=[e["oneway"] for e in edges],
        edge_maxspeed_kmh=[e["maxspeed"] for e in edges],
        edge_name=[e["name"] for e in edges],
        geom_offsets=offsets,
        geom_lat=glat,
        geom_lon=glon,
    )


def simplify_polyline(
    points: list[tuple[float, float]], frame: LocalFrame, tolerance_m: float = SIMPLIFY_TOLERANCE_M
) -> list[tuple[float, float]]:
    """Douglas-Peucker simplification of a (lat, lon) polyline; always keeps both ends."""
    if len(points) <= 2:
        return list(points)
    xy = [frame.to_metres(lat, lon) for lat, lon in points]
    keep = [False] * len(points)
    keep[0] = keep[-1] = True
    stack = [(0, len(points) - 1)]
    while stack:
        a, b = stack.pop()
        (ax, ay), (bx, by) = xy[a], xy[b]
        dx, dy = bx - ax, by - ay
        norm = math.hypot(dx, dy)
        best, best_d = -1, tolerance_m
        for i in range(a + 1, b):
            px, py = xy[i]
            if norm > 0:
                d = abs(dx * (ay - py) - dy * (ax - px)) / norm
            else:
                d = math.hypot(px - ax, py - ay)
            if d > best_d:
                best, best_d = i, d
        if best >= 0:
            keep[best] = True
            stack.extend([(a, best), (best, b)])
    return [p for p, k in zip(points, keep, strict=True) if k]


def _e6(values: Iterable[float]) -> list[int]:
    return [round(v * 1e6) for v in values]


def compact_document(graph: RoadGraph, *, attribution: str) -> dict[str, Any]:
    """The compact JSON form of a graph: coordinates in micro-degrees, shapes simplified."""
    classes = sorted(set(graph.edge_highway))
    names = sorted(set(graph.edge_name))
    class_code = {c: i for i, c in enumerate(classes)}
    name_code = {n: i for i, n in enumerate(names)}
    shapes = []
    for e in range(graph.edge_count):
        inner = simplify_polyline(graph.edge_polyline(e), graph.frame)[1:-1]
        shapes.append([v for lat, lon in inner for v in _e6((lat, lon))])
    return {
        "format": COMPACT_FORMAT,
        "version": COMPACT_VERSION,
        "attribution": attribution,
        "nodes": {
            "id": graph.node_ids.tolist(),
            "lat_e6": _e6(graph.node_lat),
            "lon_e6": _e6(graph.node_lon),
        },
        "edges": {
            "from": graph.edge_from.tolist(),
            "to": graph.edge_to.tolist(),
            "length_m": [round(x, 2) for x in graph.edge_length_m.tolist()],
            "classes": classes,
            "class": [class_code[h] for h in graph.edge_highway],
            "oneway": [int(x) for x in graph.edge_oneway],
            "maxspeed_kmh": [0 if math.isnan(x) else round(x) for x in graph.edge_maxspeed_kmh],
            "names": names,
            "name": [name_code[n] for n in graph.edge_name],
            "shape_e6": shapes,
        },
    }


def write_compact(graph: RoadGraph, path: Path, *, attribution: str) -> None:
    """Writes the compact gzip JSON form of a graph (deterministic bytes)."""
    text = json.dumps(
        compact_document(graph, attribution=attribution), ensure_ascii=False, separators=(",", ":")
    )
    path.write_bytes(gzip.compress(text.encode("utf-8"), mtime=0))


def read_compact(path: Path) -> RoadGraph:
    """Reads ansim's compact road file (gzip JSON or plain JSON)."""
    try:
        raw = path.read_bytes()
        text = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
        return graph_from_compact(json.loads(text))
    except (OSError, EOFError, gzip.BadGzipFile, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise RoadImportError(f"{path} is not a readable ansim road file: {err}") from err


def graph_from_compact(doc: dict[str, Any]) -> RoadGraph:
    """Builds a graph from the compact JSON document."""
    if not isinstance(doc, dict) or doc.get("format") != COMPACT_FORMAT:
        raise RoadImportError("not an ansim road document")
    if doc.get("version") != COMPACT_VERSION:
        raise RoadImportError(f"unsupported ansim road file version {doc.get('version')!r}")
    try:
        nodes, edges = doc["nodes"], doc["edges"]
        lat = np.asarray(nodes["lat_e6"], np.float64) / 1e6
        lon = np.asarray(nodes["lon_e6"], np.float64) / 1e6
        u, v = np.asarray(edges["from"], np.int64), np.asarray(edges["to"], np.int64)
        if len(u) and (min(u.min(), v.min()) < 0 or max(u.max(), v.max()) >= len(lat)):
            raise RoadImportError("an edge refers to a node that does not exist")
        offsets, glat, glon = [0], [], []
        for a, b, inner in zip(u.tolist(), v.tolist(), edges["shape_e6"], strict=True):
            glat.append(lat[a])
            glon.append(lon[a])
            glat.extend(x / 1e6 for x in inner[0::2])
            glon.extend(x / 1e6 for x in inner[1::2])
            glat.append(lat[b])
            glon.append(lon[b])
            offsets.append(len(glat))
        classes, names = edges["classes"], edges["names"]
        return RoadGraph(
            node_ids=nodes["id"],
            node_lat=lat,
            node_lon=lon,
            edge_from=u,
            edge_to=v,
            edge_length_m=edges["length_m"],
            edge_highway=[classes[c] for c in edges["class"]],
            edge_oneway=[bool(x) for x in edges["oneway"]],
            edge_maxspeed_kmh=[float(x) if x else math.nan for x in edges["maxspeed_kmh"]],
            edge_name=[names[n] for n in edges["name"]],
            geom_offsets=offsets,
            geom_lat=glat,
            geom_lon=glon,
        )
    except (KeyError, TypeError, IndexError, ValueError) as err:
        raise RoadImportError(f"malformed ansim road document: {err!r}") from err
