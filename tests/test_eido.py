"""NENA EIDO export: our output and the published samples against the published schema."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ansim.intake.formats.eido import (
    EidoError,
    EidoIncident,
    EidoTimelineEntry,
    build_eido,
    eido_validator,
)
from ansim.intake.formats.pidf import parse_pidf_lo

VECTORS = Path(__file__).parent / "fixtures" / "conformance" / "eido"
EXPECTED: dict[str, Any] = json.loads((VECTORS / "expected.json").read_text())
SAMPLES = sorted(name for name in EXPECTED if name.startswith("samples/"))
CREATED = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)


def _errors(document: Any) -> list[str]:
    return sorted(
        "/" + "/".join(str(part) for part in error.absolute_path) + ": " + error.message
        for error in eido_validator().iter_errors(document)
    )


@pytest.mark.parametrize("name", SAMPLES)
def test_published_sample_matches_its_verdict(name: str) -> None:
    expected = EXPECTED[name]
    document = json.loads((VECTORS / name).read_text())
    errors = _errors(document)
    assert (not errors) == expected["schema_valid"]["schema/openapi.yaml"]
    assert errors == sorted(expected["schema_errors"]["schema/openapi.yaml"])


def _incident(**changes: Any) -> EidoIncident:
    fields: dict[str, Any] = {
        "incident_id": "2025-0301-000042",
        "created_at": CREATED,
        "updated_at": CREATED + timedelta(minutes=4),
        "status": "dispatched",
        "priority_code": 0,
        "incident_type_text": "silent SOS: suspected abduction",
        "agency_name": "서울경찰청 112 종합상황실",
        "agency_id": "112.seoul.police.example",
        "lat": 37.5665,
        "lon": 126.978,
        "radius_m": 18.0,
        "location_method": "GPS",
        "caller_number": "+821012345678",
        "notes": ("caller did not speak; background voices",),
        "timeline": (
            EidoTimelineEntry(CREATED + timedelta(seconds=28), "patrol car 12 dispatched"),
            EidoTimelineEntry(CREATED, "SOS received from terminal"),
        ),
    }
    fields.update(changes)
    return EidoIncident(**fields)


def test_export_validates_against_the_schema() -> None:
    eido = build_eido(incident=_incident())
    assert _errors(eido) == []
    assert eido["eidoVersion"] == "1.0"
    assert eido["incidentComponent"]["incidentPriorityInternalText"] == "112 code 0"
    notes = [note["notesActionComments"] for note in eido["notesComponent"]]
    assert notes[1:] == ["SOS received from terminal", "patrol car 12 dispatched"]
    assert eido["callbackComponent"][0]["callBackInformationUri"] == ["tel:+821012345678"]
    # The export survives JSON, which is how it leaves the system.
    assert _errors(json.loads(json.dumps(eido, ensure_ascii=False))) == []


def test_export_embeds_a_pidf_lo_our_parser_reads() -> None:
    eido = build_eido(incident=_incident())
    pidf = eido["locationComponent"][0]["locationByValue"].encode("utf-8")
    (location,) = parse_pidf_lo(pidf).locations
    fix = location.to_fix()
    assert (fix.lat, fix.lon) == (37.5665, 126.978)
    assert fix.radius_m == pytest.approx(18.0)


def test_minimal_export_without_location_or_caller_validates() -> None:
    eido = build_eido(
        incident=_incident(lat=None, lon=None, caller_number=None, notes=(), timeline=())
    )
    assert "locationComponent" not in eido
    assert "callbackComponent" not in eido
    assert _errors(eido) == []


def test_bad_incidents_are_refused() -> None:
    with pytest.raises(EidoError, match="priority code 7"):
        build_eido(incident=_incident(priority_code=7))
    with pytest.raises(EidoError, match="time zone"):
        build_eido(incident=_incident(updated_at=datetime(2025, 1, 1)))
    with pytest.raises(EidoError, match="latitude"):
        build_eido(incident=_incident(lat=95.0))


def test_validator_catches_a_broken_export() -> None:
    eido = build_eido(incident=_incident())
    del eido["agencyComponent"]
    eido["lastUpdateTimeStamp"] = "2025-03-01 09:30"
    assert _errors(eido) == [
        "/: 'agencyComponent' is a required property",
        "/lastUpdateTimeStamp: '2025-03-01 09:30' is not a 'date-time'",
    ]
