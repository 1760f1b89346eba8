"""GML shapes of RFC 5491 (the geodetic part of PIDF-LO), read strictly."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from xml.etree.ElementTree import Element

from ansim.domain.errors import InvalidInput
from ansim.intake.formats.pidf_shapes import (
    ArcBand,
    Circle,
    Ellipse,
    Ellipsoid,
    Point,
    Polygon,
    Prism,
    Shape,
    Sphere,
)

GML = "http://www.opengis.net/gml"
GS = "http://www.opengis.net/pidflo/1.0"
CA = "urn:ietf:params:xml:ns:pidf:geopriv10:civicAddr"
CRS_2D = "urn:ogc:def:crs:EPSG::4326"
CRS_3D = "urn:ogc:def:crs:EPSG::4979"
METRE = "urn:ogc:def:uom:EPSG::9001"
DEGREE = "urn:ogc:def:uom:EPSG::9102"
MAX_DISTANCE_M = 1_000_000.0

_DOUBLE = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


class PidfError(InvalidInput):
    """A PIDF-LO document is unsafe, malformed or not conformant."""


def double(text: str | None, what: str) -> float:
    """Reads one xs:double (finite only) or raises PidfError naming `what`."""
    value = (text or "").strip()
    if not _DOUBLE.fullmatch(value) or not math.isfinite(number := float(value)):
        raise PidfError(f"{what} {value!r} is not a number")
    return number


def parse_shape(element: Element) -> Shape:
    """Parses one RFC 5491 shape element."""
    tag = element.tag if isinstance(element.tag, str) else ""
    reader = _READERS.get(tag)
    if reader is None:
        raise PidfError(f"{tag or 'a comment'} is not an RFC 5491 shape")
    srs = element.get("srsName")
    if srs not in (CRS_2D, CRS_3D):
        raise PidfError(f"{_name(element)} srsName {srs!r} is not EPSG::4326 or EPSG::4979")
    return reader(element, 3 if srs == CRS_3D else 2)


def _name(element: Element) -> str:
    return str(element.tag).rpartition("}")[2]


def _children(element: Element, allowed: dict[str, str]) -> dict[str, Element]:
    """Maps each allowed child (Clark name -> key) exactly once; anything else is an error."""
    found: dict[str, Element] = {}
    for child in element:
        key = allowed.get(str(child.tag))
        if key is None:
            raise PidfError(f"unexpected element {child.tag} in {_name(element)}")
        if key in found:
            raise PidfError(f"{_name(element)} has more than one {key}")
        found[key] = child
    missing = sorted(set(allowed.values()) - set(found))
    if missing:
        raise PidfError(f"{_name(element)} lacks {', '.join(missing)}")
    return found


def _positions(text: str | None, dimension: int, what: str) -> list[tuple[float, ...]]:
    values = [double(value, what) for value in (text or "").split()]
    if not values or len(values) % dimension:
        raise PidfError(f"{what} must hold {dimension} numbers per position, got {len(values)}")
    positions = [tuple(values[i : i + dimension]) for i in range(0, len(values), dimension)]
    for position in positions:
        lat, lon = position[0], position[1]
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise PidfError(f"{what} position {lat} {lon} is not a WGS84 latitude/longitude")
    return positions


def _measure(element: Element, uom: str, what: str, *, upper: float) -> float:
    if element.get("uom") != uom:
        raise PidfError(f"{what} uom {element.get('uom')!r} must be {uom}")
    value = double(element.text, what)
    if not 0 <= value <= upper:
        raise PidfError(f"{what} {value} is outside 0-{upper:g}")
    return value


def _centre(element: Element, dimension: int) -> tuple[float, ...]:
    positions = _positions(element.text, dimension, "gml:pos")
    if len(positions) != 1:
        raise PidfError(f"gml:pos must hold {dimension} numbers for this srsName")
    return positions[0]


def _point(element: Element, dimension: int) -> Point:
    parts = _children(element, {f"{{{GML}}}pos": "pos"})
    pos = _centre(parts["pos"], dimension)
    return Point(pos[0], pos[1], pos[2] if dimension == 3 else None)


def _require(dimension: int, wanted: int, shape: str) -> None:
    if dimension != wanted:
        crs = CRS_2D if wanted == 2 else CRS_3D
        raise PidfError(f"{shape} must use srsName {crs}")


def _circle(element: Element, dimension: int) -> Circle:
    _require(dimension, 2, "Circle")
    parts = _children(element, {f"{{{GML}}}pos": "pos", f"{{{GS}}}radius": "radius"})
    pos = _centre(parts["pos"], 2)
    return Circle(pos[0], pos[1], _measure(parts["radius"], METRE, "radius", upper=MAX_DISTANCE_M))


def _sphere(element: Element, dimension: int) -> Sphere:
    _require(dimension, 3, "Sphere")
    parts = _children(element, {f"{{{GML}}}pos": "pos", f"{{{GS}}}radius": "radius"})
    pos = _centre(parts["pos"], 3)
    radius = _measure(parts["radius"], METRE, "radius", upper=MAX_DISTANCE_M)
    return Sphere(pos[0], pos[1], pos[2], radius)


def _axes(parts: dict[str, Element]) -> tuple[float, float, float]:
    major = _measure(parts["semiMajorAxis"], METRE, "semiMajorAxis", upper=MAX_DISTANCE_M)
    minor = _measure(parts["semiMinorAxis"], METRE, "semiMinorAxis", upper=MAX_DISTANCE_M)
    if minor > major:
        raise PidfError(f"semiMinorAxis {minor} is larger than semiMajorAxis {major}")
    orientation = _measure(parts["orientation"], DEGREE, "orientation", upper=360)
    return major, minor, orientation


_ELLIPSE = {
    f"{{{GML}}}pos": "pos",
    f"{{{GS}}}semiMajorAxis": "semiMajorAxis",
    f"{{{GS}}}semiMinorAxis": "semiMinorAxis",
    f"{{{GS}}}orientation": "orientation",
}


def _ellipse(element: Element, dimension: int) -> Ellipse:
    _require(dimension, 2, "Ellipse")
    parts = _children(element, _ELLIPSE)
    pos = _centre(parts["pos"], 2)
    return Ellipse(pos[0], pos[1], *_axes(parts))


def _ellipsoid(element: Element, dimension: int) -> Ellipsoid:
    _require(dimension, 3, "Ellipsoid")
    parts = _children(element, {**_ELLIPSE, f"{{{GS}}}verticalAxis": "verticalAxis"})
    pos = _centre(parts["pos"], 3)
    major, minor, orientation = _axes(parts)
    vertical = _measure(parts["verticalAxis"], METRE, "verticalAxis", upper=MAX_DISTANCE_M)
    return Ellipsoid(pos[0], pos[1], pos[2], major, minor, vertical, orientation)


def _arc_band(element: Element, dimension: int) -> ArcBand:
    _require(dimension, 2, "ArcBand")
    names = ("innerRadius", "outerRadius", "startAngle", "openingAngle")
    parts = _children(element, {f"{{{GML}}}pos": "pos", **{f"{{{GS}}}{n}": n for n in names}})
    pos = _centre(parts["pos"], 2)
    inner = _measure(parts["innerRadius"], METRE, "innerRadius", upper=MAX_DISTANCE_M)
    outer = _measure(parts["outerRadius"], METRE, "outerRadius", upper=MAX_DISTANCE_M)
    if inner > outer:
        raise PidfError(f"innerRadius {inner} is larger than outerRadius {outer}")
    start = _measure(parts["startAngle"], DEGREE, "startAngle", upper=360)
    opening = _measure(parts["openingAngle"], DEGREE, "openingAngle", upper=360)
    return ArcBand(pos[0], pos[1], inner, outer, start, opening)


def _ring(polygon: Element, dimension: int) -> list[tuple[float, ...]]:
    exterior = _children(polygon, {f"{{{GML}}}exterior": "exterior"})["exterior"]
    ring = _children(exterior, {f"{{{GML}}}LinearRing": "LinearRing"})["LinearRing"]
    members = list(ring)
    tags = {str(member.tag) for member in members}
    if tags == {f"{{{GML}}}posList"} and len(members) == 1:
        # Comments inside posList split its text; ElementTree drops them and joins the rest.
        positions = _positions(members[0].text, dimension, "gml:posList")
    elif tags == {f"{{{GML}}}pos"}:
        positions = [_centre(member, dimension) for member in members]
    else:
        raise PidfError("LinearRing must hold gml:pos elements or one gml:posList")
    if len(positions) < 4:
        raise PidfError(f"LinearRing needs at least 4 positions, got {len(positions)}")
    if positions[0] != positions[-1]:
        raise PidfError("LinearRing is not closed (first and last positions differ)")
    return positions


def _polygon(element: Element, dimension: int) -> Polygon:
    positions = _ring(element, dimension)
    alt = min(p[2] for p in positions) if dimension == 3 else None
    return Polygon(tuple((p[0], p[1]) for p in positions), alt)


def _prism(element: Element, dimension: int) -> Prism:
    _require(dimension, 3, "Prism")
    parts = _children(element, {f"{{{GS}}}base": "base", f"{{{GS}}}height": "height"})
    polygon = _children(parts["base"], {f"{{{GML}}}Polygon": "Polygon"})["Polygon"]
    # The base polygon inherits the prism's 3D CRS; a different srsName is a contradiction.
    if polygon.get("srsName") not in (None, CRS_3D):
        raise PidfError("Prism base polygon must use the prism's srsName")
    positions = _ring(polygon, 3)
    height = _measure(parts["height"], METRE, "height", upper=MAX_DISTANCE_M)
    return Prism(tuple((p[0], p[1], p[2]) for p in positions), height)


_READERS: dict[str, Callable[[Element, int], Shape]] = {
    f"{{{GML}}}Point": _point,
    f"{{{GML}}}Polygon": _polygon,
    f"{{{GS}}}Circle": _circle,
    f"{{{GS}}}Ellipse": _ellipse,
    f"{{{GS}}}ArcBand": _arc_band,
    f"{{{GS}}}Sphere": _sphere,
    f"{{{GS}}}Ellipsoid": _ellipsoid,
    f"{{{GS}}}Prism": _prism,
}
