"""Android ELS / AML-over-HTTPS form posts: published vectors, HMAC and property tests."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansim.domain.fixes import FixMethod, radius_at_95
from ansim.intake.formats.els import (
    ElsError,
    parse_els_body,
    parse_els_form,
    verify_els_hmac,
)

VECTORS = Path(__file__).parent / "fixtures" / "conformance" / "aml"
EXPECTED: dict[str, Any] = json.loads((VECTORS / "expected.json").read_text())
FORM_VECTORS = sorted(name for name in EXPECTED if name.endswith(".form"))


@pytest.mark.parametrize("name", FORM_VECTORS)
def test_form_vector_matches_its_verdict(name: str) -> None:
    expected = EXPECTED[name]
    message = parse_els_body((VECTORS / name).read_bytes())
    assert expected["valid"]
    assert message.version == expected["version"]
    assert message.phone_number == expected["device_number"]
    assert (message.lat, message.lon) == (expected["lat"], expected["lon"])
    assert message.accuracy_m == expected["radius_m"]
    assert message.location_source == expected["method"]
    assert message.confidence == pytest.approx(expected["confidence_pct"] / 100)
    assert message.location_time == datetime.fromisoformat(expected["time"])
    assert message.imei == expected.get("imei")
    assert message.imsi == expected.get("imsi")
    fix = message.fix()
    assert fix is not None
    assert fix.method is FixMethod.GNSS
    assert fix.radius_m == pytest.approx(radius_at_95(expected["radius_m"], 0.83))


def test_full_form_fields() -> None:
    message = parse_els_body((VECTORS / "aml-lib__https_v1_full.form").read_bytes())
    assert message.device_model == "ABC ABC Detente 530"
    assert message.floor == 5
    assert message.altitude_m == 0.0
    assert (message.home_mcc, message.home_mnc) == ("234", "15")
    assert (message.network_mcc, message.network_mnc) == ("234", "15")
    assert ("cell_id", "0213454321") in message.raw_fields


def test_hmac_vector_authenticates_and_tampering_fails() -> None:
    body = (VECTORS / "aml-lib__https_v1_hmac.form").read_bytes()
    assert verify_els_hmac(body, key=b"AML")
    assert parse_els_body(body, hmac_key=b"AML").phone_number == "+33611223344"
    tampered = body.replace(b"0.85732", b"0.85733")
    assert not verify_els_hmac(tampered, key=b"AML")
    with pytest.raises(ElsError, match="hmac"):
        parse_els_body(tampered, hmac_key=b"AML")
    assert not verify_els_hmac(body, key=b"other")


def test_location_confidence_is_a_fraction() -> None:
    message = parse_els_form(
        {
            "location_latitude": "37.5665",
            "location_longitude": "126.978",
            "location_accuracy": "20",
            "location_confidence": "0.95",
            "location_time": "1735732800000",
            "location_source": "wifi",
        }
    )
    fix = message.fix()
    assert fix is not None
    assert fix.radius_m == pytest.approx(20)
    assert fix.method is FixMethod.WIFI
    assert fix.observed_at == datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("form", "reason"),
    [
        ({"location_latitude": "91", "location_longitude": "0"}, "outside ±90"),
        ({"location_latitude": "1"}, "must come together"),
        ({"location_confidence": "83"}, "fraction"),
        ({"location_certainty": "120"}, "percentage"),
        ({"device_imei": "12ab"}, "device_imei"),
        ({"time": "yesterday"}, "not an integer"),
        ({"location_accuracy": "-4"}, "must not be negative"),
        ({"location_latitude": "nan", "location_longitude": "0"}, "not a number"),
    ],
)
def test_bad_fields_are_rejected_with_a_reason(form: dict[str, str], reason: str) -> None:
    with pytest.raises(ElsError, match=reason):
        parse_els_form(form)


def test_post_without_position_gives_no_fix() -> None:
    assert parse_els_form({"device_number": "+821012345678"}).fix() is None


def test_fix_needs_some_time() -> None:
    message = parse_els_form({"location_latitude": "1", "location_longitude": "2"})
    with pytest.raises(ElsError, match="no location_time"):
        message.fix()
    received = datetime(2025, 1, 1, tzinfo=UTC)
    fix = message.fix(received)
    assert fix is not None
    assert fix.observed_at == received


def test_duplicate_field_in_body_is_rejected() -> None:
    with pytest.raises(ElsError, match="twice"):
        parse_els_body(b"v=1&v=2")


@given(st.dictionaries(st.sampled_from(sorted(
    ["v", "time", "location_latitude", "location_longitude", "location_accuracy",
     "location_confidence", "location_certainty", "location_time", "location_floor",
     "location_bearing", "location_speed", "device_imei", "device_number", "cell_home_mcc"]
)), st.text(alphabet="0123456789.-+eE ", max_size=14)))  # fmt: skip
def test_arbitrary_forms_raise_only_els_error(form: dict[str, str]) -> None:
    with contextlib.suppress(ElsError):
        parse_els_form(form).fix(datetime(2025, 1, 1, tzinfo=UTC))


@given(st.binary(max_size=300))
def test_arbitrary_bodies_raise_only_els_error(body: bytes) -> None:
    with contextlib.suppress(ElsError):
        parse_els_body(body, hmac_key=None)
