"""PIDF-LO: every published vector against its verdict, hostile XML, and the producer."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansim.domain.fixes import FixMethod, radius_at_95
from ansim.intake.formats.pidf import PidfError, PidfLocation, parse_pidf_lo
from ansim.intake.formats.pidf_build import build_pidf_lo
from ansim.intake.formats.pidf_shapes import (
    ArcBand,
    Circle,
    Ellipse,
    Ellipsoid,
    Point,
    Polygon,
    Prism,
    Sphere,
)

VECTORS = Path(__file__).parent / "fixtures" / "conformance" / "pidf"
EXPECTED: dict[str, Any] = json.loads((VECTORS / "expected.json").read_text())
NAMES = sorted(name for name in EXPECTED if name != "_meta")
RECEIVED = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
SHAPE_NAMES = {
    Point: "Point", Circle: "Circle", Ellipse: "Ellipse", ArcBand: "ArcBand",
    Polygon: "Polygon", Sphere: "Sphere", Ellipsoid: "Ellipsoid", Prism: "Prism",
}  # fmt: skip


def _when(text: str | None) -> datetime | None:
    if text is None:
        return None
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _check_shape(location: PidfLocation, want: dict[str, Any]) -> None:
    shape = location.shape
    assert SHAPE_NAMES[type(shape)] == want["shape"]
    simple = {
        "lat": "lat", "lon": "lon", "radius_m": "radius_m", "alt_m": "alt_m",
        "semi_major_m": "semi_major_m", "semi_minor_m": "semi_minor_m",
        "orientation_deg": "orientation_deg", "vertical_axis_m": "vertical_axis_m",
        "inner_radius_m": "inner_radius_m", "outer_radius_m": "outer_radius_m",
        "start_angle_deg": "start_angle_deg", "opening_angle_deg": "opening_angle_deg",
        "height_m": "height_m",
    }  # fmt: skip
    for key, attribute in simple.items():
        if key in want:
            assert getattr(shape, attribute) == pytest.approx(want[key]), key
    if "exterior" in want:
        assert isinstance(shape, Polygon)
        assert [list(vertex) for vertex in shape.exterior] == want["exterior"]
    if "base_exterior" in want:
        assert isinstance(shape, Prism)
        assert [list(vertex) for vertex in shape.base] == want["base_exterior"]


@pytest.mark.parametrize("name", NAMES)
def test_vector_matches_its_verdict(name: str) -> None:
    expected = EXPECTED[name]
    document = (VECTORS / name).read_bytes()
    if not expected["valid"]:
        with pytest.raises(PidfError):
            parse_pidf_lo(document)
        return
    parsed = parse_pidf_lo(document)
    assert parsed.container == expected["container"].split("-")[0]
    wanted = expected["locations"]
    assert len(parsed.locations) == len(wanted)
    for location, want in zip(parsed.locations, wanted, strict=True):
        if want["shape"] == "civic":
            assert location.shape is None
            assert location.civic == expected["civic"]
        else:
            _check_shape(location, want)
            assert location.civic is None
        if want.get("element"):
            assert f"dm:{location.holder}" == want["element"]
        assert location.method == expected["method"]
        # expected.json records one timestamp per document; a holder without one has None.
        assert location.timestamp in (None, _when(expected["timestamp"]))
    if parsed.locations:
        assert parsed.locations[0].timestamp == _when(expected["timestamp"])
    confidence = expected["confidence"]
    for location in parsed.geodetic:
        if confidence is None:
            assert location.confidence_pct is None
            assert location.effective_confidence_pct == 95
        else:
            assert location.confidence_pct == confidence["value"]
            assert location.confidence_pdf == confidence["pdf"]
        fix = location.to_fix(received_at=RECEIVED)
        assert fix.radius_m >= 0


def test_confidence_85_is_widened_to_95() -> None:
    parsed = parse_pidf_lo((VECTORS / "dec112__wifi-location__location.xml").read_bytes())
    fix = parsed.locations[0].to_fix()
    assert fix.radius_m == pytest.approx(radius_at_95(270.0, 0.85))
    assert fix.observed_at == datetime(2021, 1, 11, 7, 0, 10, tzinfo=UTC)


def test_polygon_fix_covers_every_vertex() -> None:
    parsed = parse_pidf_lo((VECTORS / "ng911lib__RFC5491TuplePolygonLocation.xml").read_bytes())
    location = parsed.locations[0]
    fix = location.to_fix()
    assert fix.method is FixMethod.MANUAL
    assert 43.111 < fix.lat < 43.411
    assert -73.422 < fix.lon < -73.122
    # The hexagon spans about 0.3 degrees of latitude: roughly 17 km from centre to a corner.
    assert 10_000 < fix.radius_m < 25_000


def test_arc_band_fix_lies_inside_the_band_direction() -> None:
    parsed = parse_pidf_lo((VECTORS / "ng911lib__RFC5491TupleArcBandLocation.xml").read_bytes())
    fix = parsed.locations[0].to_fix()
    assert fix.lat > -43.5723  # start 20°, opening 20°: north-east of the antenna
    assert fix.lon > 153.2176
    assert fix.radius_m < 4148


def test_civic_address_has_no_fix() -> None:
    parsed = parse_pidf_lo((VECTORS / "ng911lib__DeviceCivicLocation.xml").read_bytes())
    with pytest.raises(PidfError, match="civic"):
        parsed.locations[0].to_fix(received_at=RECEIVED)


def test_point_without_timestamp_needs_receive_time() -> None:
    parsed = parse_pidf_lo((VECTORS / "ng911lib__DevicePointLocation.xml").read_bytes())
    with pytest.raises(PidfError, match="no timestamp"):
        parsed.locations[0].to_fix()
    assert parsed.locations[0].to_fix(received_at=RECEIVED).method is FixMethod.WIFI


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="&lol3;"/>"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE presence [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="pres:x">&xxe;</presence>"""
PLAIN_DTD = b"""<?xml version="1.0"?><!DOCTYPE presence SYSTEM "http://example.com/p.dtd">
<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="pres:x"/>"""


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        (BILLION_LAUGHS, "forbidden XML feature"),
        (EXTERNAL_ENTITY, "forbidden XML feature"),
        (PLAIN_DTD, "forbidden XML feature"),
        (b"<presence>" + b" " * (1024 * 1024) + b"</presence>", "limit is 65536"),
        (b'<presence xmlns="urn:example:not-pidf" entity="pres:x"/>', "not a PIDF presence"),
        (b"", "not well-formed"),
        (b"\xff\xfe<", "not well-formed"),
    ],
)
def test_hostile_documents_are_rejected(document: bytes, reason: str) -> None:
    with pytest.raises(PidfError, match=reason):
        parse_pidf_lo(document)


def test_shape_in_wrong_namespace_is_rejected() -> None:
    good = build_pidf_lo(
        entity="tel:+821012345678", lat=37.5, lon=127.0, timestamp=RECEIVED, method="GPS",
        circle_radius_m=30,
    )  # fmt: skip
    wrong = good.replace(b"http://www.opengis.net/pidflo/1.0", b"http://www.opengis.net/pidflo/2.0")
    with pytest.raises(PidfError, match="unexpected element"):
        parse_pidf_lo(wrong)


def test_producer_rejects_nonsense() -> None:
    with pytest.raises(PidfError, match="semi-minor"):
        build_pidf_lo(entity="tel:1", lat=0, lon=0, timestamp=RECEIVED, method="GPS",
                      ellipse=(10, 20, 0))  # fmt: skip
    with pytest.raises(PidfError, match="time zone"):
        build_pidf_lo(entity="tel:1", lat=0, lon=0, timestamp=datetime(2025, 1, 1), method="GPS")
    with pytest.raises(PidfError, match="latitude"):
        build_pidf_lo(entity="tel:1", lat=91, lon=0, timestamp=RECEIVED, method="GPS")


@st.composite
def producer_arguments(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["point", "circle", "ellipse"]))
    arguments: dict[str, Any] = {
        "entity": "tel:+82" + draw(st.text("0123456789", min_size=6, max_size=10)),
        "lat": draw(st.floats(-90, 90, allow_nan=False, allow_infinity=False)),
        "lon": draw(st.floats(-180, 180, allow_nan=False, allow_infinity=False)),
        "timestamp": draw(st.datetimes(datetime(1990, 1, 1), datetime(2090, 1, 1))).replace(
            tzinfo=UTC
        )
        + timedelta(0),
        "method": draw(st.sampled_from(["GPS", "802.11", "Cell", "Manual", "A-GPS & hybrid"])),
        "confidence_pct": draw(st.integers(1, 99)),
    }
    if kind == "circle":
        arguments["circle_radius_m"] = draw(
            st.floats(0, 10_000, allow_nan=False, allow_infinity=False)
        )
    elif kind == "ellipse":
        major = draw(st.floats(0, 10_000, allow_nan=False, allow_infinity=False))
        minor = draw(st.floats(0, 1, allow_nan=False, allow_infinity=False)) * major
        arguments["ellipse"] = (
            major,
            minor,
            draw(st.floats(0, 360, allow_nan=False, allow_infinity=False)),
        )
    return arguments


@given(producer_arguments())
def test_build_then_parse_round_trips(arguments: dict[str, Any]) -> None:
    parsed = parse_pidf_lo(build_pidf_lo(**arguments))
    assert parsed.entity == arguments["entity"]
    (location,) = parsed.locations
    shape = location.shape
    assert isinstance(shape, Point | Circle | Ellipse)
    assert (shape.lat, shape.lon) == (arguments["lat"], arguments["lon"])
    if "circle_radius_m" in arguments:
        assert isinstance(shape, Circle)
        assert shape.radius_m == arguments["circle_radius_m"]
    elif "ellipse" in arguments:
        assert isinstance(shape, Ellipse)
        assert (shape.semi_major_m, shape.semi_minor_m, shape.orientation_deg) == arguments[
            "ellipse"
        ]
    else:
        assert isinstance(shape, Point)
    assert location.confidence_pct == arguments["confidence_pct"]
    assert location.method == arguments["method"]
    assert location.timestamp == arguments["timestamp"]


@given(st.binary(max_size=400))
def test_arbitrary_bytes_raise_only_pidf_error(document: bytes) -> None:
    with contextlib.suppress(PidfError):
        parse_pidf_lo(document)


SEED = (VECTORS / "ng911lib__RFC5491TupleEllipsoidLocation.xml").read_bytes()


@given(st.integers(0, len(SEED)), st.integers(0, 40), st.binary(max_size=20))
def test_mutated_documents_raise_only_pidf_error(start: int, length: int, junk: bytes) -> None:
    mutated = SEED[:start] + junk + SEED[start + length :]
    try:
        for location in parse_pidf_lo(mutated).geodetic:
            location.to_fix(received_at=RECEIVED)
    except PidfError:
        pass
