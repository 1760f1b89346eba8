"""NENA EIDO (NENA-STA-021) JSON export of an incident, and a validator for the published schema."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from ansim.domain.errors import InvalidInput
from ansim.domain.fixes import check_position
from ansim.intake.formats.pidf_build import build_pidf_lo

EIDO_VERSION = "1.0"
SCHEMA_DIR = Path(__file__).with_name("eido_schema")
SCHEMA_BASE = "https://eido.schema.invalid/Schema/"
ROOT_SCHEMA = "EmergencyIncidentDataObjectType"
# Korea's 112 priority codes run 0 (most urgent) to 4 (handed to another agency).
PRIORITY_CODES = range(5)


class EidoError(InvalidInput):
    """An incident cannot be expressed as a valid EIDO."""


@dataclass(frozen=True, slots=True)
class EidoTimelineEntry:
    """One timestamped line of the incident's history (status change, dispatch, remark)."""

    at: datetime
    text: str


@dataclass(frozen=True, slots=True)
class EidoIncident:
    """What ansim knows of an incident, in the shape the EIDO export needs."""

    incident_id: str
    created_at: datetime
    updated_at: datetime
    status: str
    priority_code: int
    incident_type_text: str
    agency_name: str
    agency_id: str
    lat: float | None = None
    lon: float | None = None
    radius_m: float | None = None
    location_method: str | None = None
    # A car's road-shaped region, as one enclosing ring of (lat, lon): sent instead of the circle.
    region_ring: tuple[tuple[float, float], ...] | None = None
    caller_number: str | None = None
    notes: tuple[str, ...] = ()
    timeline: tuple[EidoTimelineEntry, ...] = field(default_factory=tuple)
    issuing_element: str = "ansim"


def _stamp(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise EidoError("EIDO timestamps must carry a time zone")
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def build_eido(*, incident: EidoIncident) -> dict[str, Any]:
    """Builds the EIDO JSON object (as a dict) for one incident."""
    if incident.priority_code not in PRIORITY_CODES:
        raise EidoError(f"priority code {incident.priority_code} is not a 112 code 0-4")
    if not incident.incident_id or not incident.agency_id:
        raise EidoError("incident id and agency id must not be empty")
    uid = f"urn:emergency:uid:incidentid:{incident.incident_id}:{incident.agency_id}"
    agency = {"$ref": incident.agency_id}

    def prologue(component_id: str, at: datetime | None = None) -> dict[str, Any]:
        return {
            "$id": component_id,
            "lastUpdateTimeStamp": _stamp(at or incident.updated_at),
            "updatedByAgencyReference": dict(agency),
        }

    notes = [
        {**prologue(f"{uid}:note:{i}", incident.updated_at), "notesActionComments": text}
        for i, text in enumerate(incident.notes)
    ] + [
        {**prologue(f"{uid}:timeline:{i}", entry.at), "notesActionComments": entry.text}
        for i, entry in enumerate(sorted(incident.timeline, key=lambda e: e.at))
    ]
    eido: dict[str, Any] = {
        **prologue(uid),
        "eidoVersion": EIDO_VERSION,
        "issuingElementIdentification": incident.issuing_element,
        "agencyComponent": [
            {
                **prologue(incident.agency_id),
                "agencyJcard": f'["vcard",[["version",{{}},"text","4.0"],'
                f'["fn",{{}},"text",{json.dumps(incident.agency_name, ensure_ascii=False)}]]]',
                "agencyRoleDescriptionRegistryText": ["Dispatch"],
                "agencyType": ["police"],
                "incidentOwningAgencyIndicator": True,
            }
        ],
        "incidentComponent": {
            **prologue(f"{uid}:incident", incident.updated_at),
            "incidentTypeInternalText": incident.incident_type_text,
            "incidentTypeCommonRegistryText": "Law Enforcement",
            "incidentStatusInternalText": [incident.status],
            "incidentPriorityInternalText": f"112 code {incident.priority_code}",
            "internalIncidentId": incident.incident_id,
            "notesReference": [{"$ref": note["$id"]} for note in notes],
        },
    }
    if notes:
        eido["notesComponent"] = notes
    location = _location(incident, uid, prologue)
    if location is not None:
        eido["locationComponent"] = [location]
        eido["incidentComponent"]["locationReference"] = [{"$ref": location["$id"]}]
    if incident.caller_number:
        eido["callbackComponent"] = [
            {
                **prologue(f"{uid}:callback"),
                "callBackInformationUri": [f"tel:{incident.caller_number}"],
            }
        ]
    return eido


def _location(incident: EidoIncident, uid: str, prologue: Any) -> dict[str, Any] | None:
    if incident.lat is None or incident.lon is None:
        return None
    try:
        check_position(incident.lat, incident.lon)
    except InvalidInput as err:
        raise EidoError(str(err)) from err
    method = incident.location_method or "unknown"
    pidf = build_pidf_lo(
        entity=f"urn:emergency:uid:incidentid:{incident.incident_id}",
        lat=incident.lat,
        lon=incident.lon,
        timestamp=incident.updated_at,
        method=method,
        circle_radius_m=None if incident.region_ring else incident.radius_m,
        polygon=incident.region_ring,
    )
    radius = "" if incident.radius_m is None else f", ±{incident.radius_m:.0f} m at 95 %"
    if incident.region_ring:
        radius += " (on roads: the polygon)"
    return {
        **prologue(f"{uid}:location"),
        "locationTypeDescriptionRegistryText": "Caller",
        "locationByValue": pidf.decode("utf-8"),
        "locationDescriptionText": f"{method}{radius}",
    }


@cache
def eido_validator() -> Any:
    """A jsonschema validator for the published EIDO schema (copied under eido_schema/)."""
    # yaml and jsonschema are needed only by whoever validates, so import them here.
    import jsonschema
    import yaml
    from referencing import Registry
    from referencing.jsonschema import DRAFT4

    def load(name: str) -> Any:
        with (SCHEMA_DIR / name).open(encoding="utf-8") as handle:
            # CSafeLoader is the C build of safe_load: same safety, a second faster on j.yaml.
            loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
            return _fix_min_items(yaml.load(handle, Loader=loader))  # noqa: S506

    openapi = load("openapi.yaml")
    nc = load("NIEMComponents/nc.yaml")
    j = load("NIEMComponents/j.yaml")
    registry: Registry[Any] = Registry().with_resources(
        [
            (SCHEMA_BASE + "openapi.yaml", DRAFT4.create_resource(openapi)),
            (SCHEMA_BASE + "NIEMComponents/nc.yaml", DRAFT4.create_resource(nc)),
            (SCHEMA_BASE + "NIEMComponents//j.yaml", DRAFT4.create_resource(j)),
            (SCHEMA_BASE + "NIEMComponents/j.yaml", DRAFT4.create_resource(j)),
        ]
    )
    checker = jsonschema.FormatChecker()
    checker.checks("date-time", raises=ValueError)(_is_rfc3339)
    schema = {"$ref": f"{SCHEMA_BASE}openapi.yaml#/components/schemas/{ROOT_SCHEMA}"}
    return jsonschema.Draft4Validator(schema, registry=registry, format_checker=checker)


def _is_rfc3339(value: object) -> bool:
    """RFC 3339 date-time: date, 'T', time and a mandatory offset or 'Z'."""
    if not isinstance(value, str):
        return True
    if not re.fullmatch(
        r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})", value
    ):
        return False
    datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    return True


def _fix_min_items(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            key: int(value.rstrip(",")) if key == "minItems" and isinstance(value, str)
            else _fix_min_items(value)
            for key, value in node.items()
        }  # fmt: skip
    if isinstance(node, list):
        return [_fix_min_items(item) for item in node]
    return node
