"""AML SMS: every published vector against its verdict, plus property tests."""

from __future__ import annotations

import base64
import contextlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansim.domain.fixes import MAX_RADIUS_M, FixMethod, radius_at_95
from ansim.intake.formats.aml import (
    AmlError,
    decode_aml_data_sms,
    parse_aml_data_sms,
    parse_aml_text,
)

VECTORS = Path(__file__).parent / "fixtures" / "conformance" / "aml"
EXPECTED: dict[str, Any] = json.loads((VECTORS / "expected.json").read_text())
SMS_VECTORS = sorted(name for name in EXPECTED if name.endswith((".txt", ".hex", ".b64")))
DIGITS = "0123456789"
RECEIVED = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


def _text_of(name: str) -> str:
    raw = (VECTORS / name).read_text()
    if name.endswith(".hex"):
        return decode_aml_data_sms(bytes.fromhex(raw))
    if name.endswith(".b64"):
        return decode_aml_data_sms(base64.b64decode(raw))
    return raw


def test_every_vector_file_has_a_verdict() -> None:
    on_disk = {p.name for p in VECTORS.iterdir() if p.suffix in (".txt", ".hex", ".b64", ".form")}
    assert on_disk == {name for name in EXPECTED if name != "_meta"}


@pytest.mark.parametrize("name", SMS_VECTORS)
def test_vector_matches_its_verdict(name: str) -> None:
    expected = EXPECTED[name]
    text = _text_of(name)
    if "decoded_text" in expected:
        assert text == expected["decoded_text"]
    if not expected["valid"]:
        with pytest.raises(AmlError):
            parse_aml_text(text, originating_number="+821012345678")
        return
    message = parse_aml_text(text, originating_number="+821012345678")
    assert message.originating_number == "+821012345678"
    assert message.version == expected["version"]
    assert message.lat == expected["lat"]
    assert message.lon == expected["lon"]
    assert message.radius_m == expected["radius_m"]
    assert message.confidence_pct == expected["confidence_pct"]
    assert message.method == expected["method"]
    assert message.imei == expected["imei"]
    assert message.imsi == expected["imsi"]
    if message.version == 1:
        assert message.message_length == expected["ml"] == len(text)
        assert (message.mcc, message.mnc) == (expected["mcc"], expected["mnc"])
        when = expected["time"]
        assert message.time_of_positioning == (
            None if when is None else datetime.fromisoformat(when)
        )
    else:
        assert message.emergency_number == expected["emergency_number"]
        assert message.call_started_at == datetime.fromisoformat(expected["call_start"])
        assert (message.mcc, message.mnc) == (expected["network_mcc"], expected["network_mnc"])
        assert (message.home_mcc, message.home_mnc) == (expected["home_mcc"], expected["home_mnc"])
        assert message.altitude_m == expected["altitude_m"]
        assert message.vertical_accuracy_m == expected["vertical_accuracy_m"]
        assert message.languages == (expected["languages"],)
        assert message.time_of_positioning == datetime(2020, 6, 26, 13, 13, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("aml-lib__v1_text_ml128.txt", "ml=128 but the message is 126 characters long"),
        ("gridgears__unknown_attribute.txt", "unknown version 1 attribute(s): kl"),
        ("gridgears__invalid_attribute_pair.txt", "'a==' is not a single key=value pair"),
        ("gridgears__empty_attributes.txt", "empty attribute"),
        ("gridgears__invalid_level_of_confidence.txt", "lc='99.9'"),
    ],
)
def test_errors_say_exactly_what_is_wrong(name: str, reason: str) -> None:
    with pytest.raises(AmlError, match=None) as caught:
        parse_aml_text(_text_of(name))
    assert reason in str(caught.value)


def test_fix_converts_radius_to_95_percent() -> None:
    message = parse_aml_text((VECTORS / "gridgears__valid.txt").read_text())
    fix = message.fix(RECEIVED)
    assert fix is not None
    assert fix.method is FixMethod.WIFI
    assert fix.radius_m == pytest.approx(radius_at_95(50, 0.90))
    assert fix.observed_at == datetime(2013, 7, 17, 14, 19, 35, tzinfo=UTC)


def test_no_location_form_gives_no_fix() -> None:
    message = parse_aml_text((VECTORS / "gridgears__valid_no_location.txt").read_text())
    assert message.radius_m is None
    assert message.fix(RECEIVED) is None


def test_message_without_latitude_gives_no_fix() -> None:
    message = parse_aml_text((VECTORS / "gridgears__no_latitude.txt").read_text())
    assert message.fix(RECEIVED) is None


def test_missing_time_of_positioning_falls_back_to_receipt() -> None:
    message = parse_aml_text((VECTORS / "gridgears__no_time_of_positioning.txt").read_text())
    fix = message.fix(RECEIVED)
    assert fix is not None
    assert fix.observed_at == RECEIVED


def test_version_2_fix_uses_altitude_and_gnss() -> None:
    fix = parse_aml_text((VECTORS / "aml-lib__v2_text.txt").read_text()).fix(RECEIVED)
    assert fix is not None
    assert fix.method is FixMethod.GNSS
    assert fix.altitude_m == -100.1
    assert fix.radius_m == pytest.approx(radius_at_95(2000.1, 0.68))


def test_data_sms_parses_directly() -> None:
    payload = bytes.fromhex((VECTORS / "aml-lib__v1_data_sms.hex").read_text())
    message = parse_aml_data_sms(payload, originating_number="+13105550000")
    assert (message.lat, message.lon, message.imsi) == (37.42175, -122.08461, "987654231")


def test_unknown_version_is_rejected() -> None:
    with pytest.raises(AmlError, match="unsupported AML version '3'"):
        parse_aml_text('A"ML=3;lt=1.0')


def test_bad_originating_number_is_rejected() -> None:
    with pytest.raises(AmlError, match="originating number"):
        parse_aml_text((VECTORS / "gridgears__valid.txt").read_text(), originating_number="x")


def test_empty_data_sms_is_rejected() -> None:
    with pytest.raises(AmlError, match="empty"):
        decode_aml_data_sms(b"")


def _with_length(body: str) -> str:
    """Appends ml= so that it states the final message length."""
    length = len(body) + len(";ml=") + 2
    while len(str(length)) + len(body) + len(";ml=") != length:
        length += 1
    return f"{body};ml={length}"


@st.composite
def v1_fields(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "lat": draw(st.integers(-9_000_000, 9_000_000)) / 100_000,
        "lon": draw(st.integers(-18_000_000, 18_000_000)) / 100_000,
        "radius": draw(st.integers(1, 20_000)),
        "top": draw(st.datetimes(datetime(2000, 1, 1), datetime(2099, 12, 31))).replace(
            microsecond=0, tzinfo=UTC
        ),
        "lc": draw(st.integers(1, 100)),
        "pm": draw(st.sampled_from("GWCU")),
        "si": draw(st.text(DIGITS, min_size=15, max_size=15)),
        "ei": draw(st.text(DIGITS, min_size=15, max_size=15)),
        "mcc": draw(st.text(DIGITS, min_size=3, max_size=3)),
        "mnc": draw(st.text(DIGITS, min_size=2, max_size=3)),
    }


@given(v1_fields())
def test_built_v1_text_parses_back_to_the_same_values(fields: dict[str, Any]) -> None:
    body = (
        f'A"ML=1;lt={fields["lat"]:+.5f};lg={fields["lon"]:+.5f};rd={fields["radius"]};'
        f"top={fields['top']:%Y%m%d%H%M%S};lc={fields['lc']};pm={fields['pm']};"
        f"si={fields['si']};ei={fields['ei']};mcc={fields['mcc']};mnc={fields['mnc']}"
    )
    message = parse_aml_text(_with_length(body))
    assert message.lat == pytest.approx(fields["lat"], abs=1e-9)
    assert message.lon == pytest.approx(fields["lon"], abs=1e-9)
    assert message.radius_m == fields["radius"]
    assert message.time_of_positioning == fields["top"]
    assert message.confidence_pct == fields["lc"]
    assert message.method == fields["pm"]
    assert (message.imsi, message.imei) == (fields["si"], fields["ei"])
    assert (message.mcc, message.mnc) == (fields["mcc"], fields["mnc"])
    if fields["lat"] == 0 and fields["lon"] == 0:
        # Null Island is the handsets' "no position".
        assert message.fix(RECEIVED) is None
    elif radius_at_95(fields["radius"], min(fields["lc"], 99) / 100) > MAX_RADIUS_M:
        with pytest.raises(AmlError, match="beyond"):
            message.fix(RECEIVED)
    else:
        fix = message.fix(RECEIVED)
        assert fix is not None
        assert fix.lat == message.lat


@given(st.text(max_size=300))
def test_arbitrary_text_raises_only_aml_error(text: str) -> None:
    with contextlib.suppress(AmlError):
        parse_aml_text(text)


@given(st.text(alphabet='A"ML=12;ltgrdopcmsieN+-.,0123456789', max_size=200))
def test_aml_like_text_raises_only_aml_error(text: str) -> None:
    try:
        message = parse_aml_text('A"ML=' + text)
        message.fix(RECEIVED)
    except AmlError:
        pass


@given(st.binary(max_size=200))
def test_arbitrary_bytes_decode_or_raise_aml_error(payload: bytes) -> None:
    with contextlib.suppress(AmlError):
        parse_aml_data_sms(payload)
