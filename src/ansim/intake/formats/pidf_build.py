"""Producing PIDF-LO documents (RFC 4119 / RFC 5491 shapes / RFC 7459 confidence)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from xml.sax.saxutils import escape, quoteattr

from ansim.domain.errors import InvalidInput
from ansim.domain.fixes import check_position
from ansim.intake.formats.pidf_gml import CRS_2D, DEGREE, METRE, PidfError


def build_pidf_lo(
    *,
    entity: str,
    lat: float,
    lon: float,
    timestamp: datetime,
    method: str,
    circle_radius_m: float | None = None,
    ellipse: tuple[float, float, float] | None = None,
    polygon: Sequence[tuple[float, float]] | None = None,
    confidence_pct: int = 95,
) -> bytes:
    """Builds a one-device PIDF-LO: a Point, Circle, Ellipse or Polygon with its confidence.

    A `polygon` is a closed ring of (lat, lon), counter-clockwise (RFC 5491 section 5.2.2);
    (lat, lon) is then only the position the caller checks, the shape is the ring.
    """
    try:
        check_position(lat, lon)
    except InvalidInput as err:
        raise PidfError(str(err)) from err
    if not entity or not all(ch.isprintable() and not ch.isspace() for ch in entity):
        raise PidfError(f"entity {entity!r} must be a URI without spaces or control characters")
    if not method.strip() or not method.isprintable():
        raise PidfError(f"method {method!r} must be printable text")
    if timestamp.tzinfo is None:
        raise PidfError("timestamp must carry a time zone")
    if not 1 <= confidence_pct <= 99:
        raise PidfError(f"confidence {confidence_pct} % must be 1-99")
    if sum(shape is not None for shape in (circle_radius_m, ellipse, polygon)) > 1:
        raise PidfError("give one shape: a circle radius, an ellipse or a polygon")
    pos = f"<gml:pos>{_num(lat)} {_num(lon)}</gml:pos>"
    if circle_radius_m is not None:
        _check_distance(circle_radius_m, "circle radius")
        shape = (
            f'<gs:Circle srsName="{CRS_2D}">{pos}'
            f'<gs:radius uom="{METRE}">{_num(circle_radius_m)}</gs:radius></gs:Circle>'
        )
    elif ellipse is not None:
        major, minor, orientation = ellipse
        _check_distance(major, "semi-major axis")
        _check_distance(minor, "semi-minor axis")
        if minor > major:
            raise PidfError(f"semi-minor axis {minor} m exceeds semi-major axis {major} m")
        if not (math.isfinite(orientation) and 0 <= orientation <= 360):
            raise PidfError(f"orientation {orientation} must be 0-360 degrees")
        shape = (
            f'<gs:Ellipse srsName="{CRS_2D}">{pos}'
            f'<gs:semiMajorAxis uom="{METRE}">{_num(major)}</gs:semiMajorAxis>'
            f'<gs:semiMinorAxis uom="{METRE}">{_num(minor)}</gs:semiMinorAxis>'
            f'<gs:orientation uom="{DEGREE}">{_num(orientation)}</gs:orientation></gs:Ellipse>'
        )
    elif polygon is not None:
        shape = _polygon(polygon)
    else:
        shape = f'<gml:Point srsName="{CRS_2D}">{pos}</gml:Point>'
    moment = timestamp.astimezone(UTC).isoformat().replace("+00:00", "Z")
    document = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<presence xmlns="urn:ietf:params:xml:ns:pidf"'
        ' xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model"'
        ' xmlns:gp="urn:ietf:params:xml:ns:pidf:geopriv10"'
        ' xmlns:gml="http://www.opengis.net/gml"'
        ' xmlns:gs="http://www.opengis.net/pidflo/1.0"'
        ' xmlns:con="urn:ietf:params:xml:ns:geopriv:conf"'
        f" entity={quoteattr(entity)}>"
        '<dm:device id="device"><gp:geopriv><gp:location-info>'
        f'{shape}<con:confidence pdf="normal">{confidence_pct}</con:confidence>'
        f"</gp:location-info><gp:usage-rules/><gp:method>{escape(method.strip())}</gp:method>"
        f"</gp:geopriv><dm:timestamp>{moment}</dm:timestamp></dm:device></presence>\n"
    )
    return document.encode("utf-8")


def _polygon(ring: Sequence[tuple[float, float]]) -> str:
    if len(ring) < 4 or ring[0] != ring[-1]:
        raise PidfError("a polygon needs a closed ring of at least 4 positions")
    for lat, lon in ring:
        try:
            check_position(lat, lon)
        except InvalidInput as err:
            raise PidfError(str(err)) from err
    positions = " ".join(f"{_num(lat)} {_num(lon)}" for lat, lon in ring)
    return (
        f'<gml:Polygon srsName="{CRS_2D}"><gml:exterior><gml:LinearRing>'
        f"<gml:posList>{positions}</gml:posList></gml:LinearRing></gml:exterior></gml:Polygon>"
    )


def _check_distance(value: float, what: str) -> None:
    if not (math.isfinite(value) and 0 <= value <= 1_000_000):
        raise PidfError(f"{what} {value} must be 0-1,000,000 m")


def _num(value: float) -> str:
    # repr keeps every bit, so the parser reads back exactly the same float.
    return repr(float(value))
