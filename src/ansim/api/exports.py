"""An incident for other systems: its location as PIDF-LO, the whole case as a NENA EIDO."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from ansim.api.auth import ConsoleUser, ContextDep
from ansim.domain.errors import NotFound
from ansim.domain.estimate import RoadRegion
from ansim.intake.formats import EidoIncident, EidoTimelineEntry, build_eido, build_pidf_lo
from ansim.services import incidents, location, people

router = APIRouter(prefix="/api/v1/incidents", tags=["exchange"])
AGENCY_ID = "urn:ansim:agency:112"
AGENCY_NAME = "112 종합상황실 / 112 situation room"
PIDF_MEDIA_TYPE = "application/pidf+xml"


def _entity(incident: Any) -> str:
    if incident.caller_number:
        return f"tel:{incident.caller_number}"
    return f"urn:ansim:incident:{incident.id}"


def _road_region(session: Session, incident_id: str, now: datetime) -> RoadRegion | None:
    """A car's road region now, or None: the incident's circle is sent."""
    estimate = location.estimate(session, incident_id=incident_id, now=now)
    return estimate.region if estimate is not None else None


def _ring(region: RoadRegion | None) -> tuple[tuple[float, float], ...] | None:
    """The ring (lat, lon) enclosing the region: PIDF-LO takes one simple polygon."""
    if region is None:
        return None
    return tuple((lat, lon) for lon, lat in region.enclosing_ring)


@router.get(
    "/{incident_id}/pidf-lo",
    operation_id="export_incident_pidf_lo",
    response_class=Response,
    responses={200: {"content": {PIDF_MEDIA_TYPE: {}}}},
)
async def export_incident_pidf_lo(
    incident_id: str, context: ContextDep, user: ConsoleUser
) -> Response:
    """The incident's current location at 95 % confidence: a Circle, or for a car on the mapped
    roads a Polygon enclosing its road-shaped region (grown to now)."""

    def build() -> bytes:
        with context.uow.read() as session:
            incident = incidents.get(session, incident_id=incident_id)
            ring = _ring(_road_region(session, incident_id, context.now()))
        if incident.lat is None or incident.lon is None or incident.located_at is None:
            raise NotFound(f"incident {incident_id} has no location yet")
        return build_pidf_lo(
            entity=_entity(incident),
            lat=incident.lat,
            lon=incident.lon,
            timestamp=incident.located_at,
            method=(incident.location_method or "unknown").upper(),
            circle_radius_m=None if ring else incident.radius_m or 0.0,
            polygon=ring,
            confidence_pct=95,
        )

    return Response(await run_in_threadpool(build), media_type=PIDF_MEDIA_TYPE)


@router.get(
    "/{incident_id}/eido", operation_id="export_incident_eido", response_model=dict[str, Any]
)
async def export_incident_eido(
    incident_id: str, context: ContextDep, user: ConsoleUser
) -> dict[str, Any]:
    """The incident as a NENA EIDO JSON document (validates against the published schema)."""

    def build() -> dict[str, Any]:
        with context.uow.read() as session:
            incident = incidents.get(session, incident_id=incident_id)
            timeline = incidents.timeline(session, incident_id=incident_id)
            region = _road_region(session, incident_id, context.now())
            person = (
                people.get_subscriber(session, subscriber_id=incident.subscriber_id)
                if incident.subscriber_id
                else None
            )
        notes = [f"channel {incident.channel.value}"]
        if person is not None:
            notes.append(f"registered person: {person.name} ({person.birth_year})")
        if incident.duress:
            notes.append("DURESS: cancelled with the duress PIN")
        return build_eido(
            incident=EidoIncident(
                incident_id=incident.id,
                created_at=incident.received_at,
                updated_at=incident.updated_at,
                status=incident.status.value,
                priority_code=int(incident.priority),
                incident_type_text="silent SOS",
                agency_name=AGENCY_NAME,
                agency_id=AGENCY_ID,
                lat=incident.lat,
                lon=incident.lon,
                radius_m=region.radius_m if region else incident.radius_m,
                region_ring=_ring(region),
                location_method=incident.location_method,
                caller_number=incident.caller_number,
                notes=tuple(notes),
                timeline=tuple(
                    EidoTimelineEntry(at=entry.at, text=f"{entry.kind} by {entry.actor}")
                    for entry in timeline
                ),
            )
        )

    return await run_in_threadpool(build)
