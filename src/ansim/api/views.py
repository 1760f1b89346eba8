"""Turns domain objects into response bodies."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from ansim.api.schemas import (
    AssignmentOut,
    CandidateOut,
    DeviceHealthOut,
    GuardianOut,
    IncidentDetailOut,
    IncidentOut,
    LocationOut,
    PersonOut,
    PlaceOut,
    RelocationOut,
    TimelineEntryOut,
    UnitOut,
)
from ansim.domain.errors import InvalidInput
from ansim.domain.incidents import Incident
from ansim.domain.people import Subscriber
from ansim.domain.units import Unit
from ansim.geo.place import describe_place
from ansim.services import dispatch, incidents, people, relocation, terminals
from ansim.services.ranking import UnitRanker


def place_out(lat: float, lon: float) -> PlaceOut | None:
    """The place description of a position, or None when the bundled data knows nothing of it."""
    try:
        place = describe_place(lat, lon)
    except InvalidInput:
        return None
    ko, en = place.text("ko"), place.text("en")
    return PlaceOut(ko=ko, en=en) if ko else None


def incident_out(incident: Incident, subscriber: Subscriber | None) -> IncidentOut:
    location = incidents.location_of(incident)
    return IncidentOut(
        id=incident.id,
        channel=incident.channel.value,
        status=incident.status,
        priority=int(incident.priority),
        received_at=incident.received_at,
        updated_at=incident.updated_at,
        subscriber_id=incident.subscriber_id,
        subscriber_name=subscriber.name if subscriber else None,
        caller_number=incident.caller_number,
        unknown_caller=incident.unknown_caller,
        location=LocationOut(**location) if location else None,
        duress=incident.duress,
        drill=incident.drill,
        sos_count=incident.sos_count,
        place=place_out(location["lat"], location["lon"]) if location else None,
        previous_incident_id=incident.previous_incident_id,
        waiting_for_units=incident.waiting_for_units,
        waiting_since=incident.waiting_since,
        no_location=location is None,
    )


def unit_out(unit: Unit) -> UnitOut:
    return UnitOut(
        id=unit.id,
        call_sign=unit.call_sign,
        station_id=unit.station_id,
        status=unit.status,
        status_at=unit.status_at,
        lat=unit.lat,
        lon=unit.lon,
    )


def incident_detail(
    session: Session,
    *,
    incident_id: str,
    ranker: UnitRanker,
    at: datetime | None = None,
    rest_s: float = 0.0,
) -> IncidentDetailOut:
    """The incident with its person, orders and recommended units (rested units left out)."""
    incident = incidents.get(session, incident_id=incident_id)
    subscriber = (
        people.get_subscriber(session, subscriber_id=incident.subscriber_id)
        if incident.subscriber_id
        else None
    )
    call_signs = {unit.id: unit.call_sign for unit in dispatch.list_units(session)}
    candidates = (
        dispatch.rank_units(session, incident=incident, ranker=ranker, at=at, rest_s=rest_s)
        if incident.is_active
        else []
    )
    return IncidentDetailOut(
        incident=incident_out(incident, subscriber),
        person=PersonOut(
            name=subscriber.name,
            birth_year=subscriber.birth_year,
            school=subscriber.school,
            notes=subscriber.notes,
            photo_url=subscriber.photo_url,
            devices=[
                DeviceHealthOut(
                    terminal_id=t.id,
                    battery_pct=t.battery_pct,
                    low_battery=t.low_battery,
                    last_seen_at=t.last_seen_at,
                    lost=t.lost,
                    signal_dbm=t.signal_dbm,
                    reporting_interval_s=t.reporting_interval_s,
                )
                for t in terminals.list_for(session, subscriber_id=subscriber.id)
                if not t.disabled
            ],
        )
        if subscriber
        else None,
        guardians=[
            GuardianOut(name=g.name, phone=g.phone, relation=g.relation)
            for g in (
                people.guardians_of(session, subscriber_id=subscriber.id) if subscriber else []
            )
        ],
        timeline=[
            TimelineEntryOut(id=e.id or 0, kind=e.kind, at=e.at, actor=e.actor, data=e.data)
            for e in incidents.timeline(session, incident_id=incident.id)
        ],
        fixes=[
            LocationOut(
                lat=f["lat"],
                lon=f["lon"],
                radius_m=f["radius_m"],
                method=f["method"],
                located_at=f["observed_at"],
            )
            for f in incidents.fixes(session, incident_id=incident.id)
        ],
        assignments=[
            AssignmentOut(
                id=a.id,
                unit_id=a.unit_id,
                call_sign=call_signs.get(a.unit_id, "?"),
                state=a.state.value,
                ordered_at=a.ordered_at,
                ordered_by=a.ordered_by,
                acknowledged_at=a.acknowledged_at,
                arrived_at=a.arrived_at,
                cleared_at=a.cleared_at,
            )
            for a in dispatch.incident_assignments(session, incident_id=incident.id)
        ],
        candidates=[
            CandidateOut(
                unit_id=c.unit.id,
                call_sign=c.unit.call_sign,
                eta_s=c.eta_s,
                distance_m=c.distance_m,
                reason=c.reason,
            )
            for c in candidates[:10]
        ],
        relocation=relocation_out(found)
        if (found := relocation.latest(session, incident_id=incident.id))
        else None,
    )


def relocation_out(found: relocation.Relocation) -> RelocationOut:
    return RelocationOut(
        incident_id=found.incident_id,
        carrier_id=found.carrier_id,
        requested_at=found.requested_at,
        outcome=found.outcome,
        fixes=found.fixes,
        detail=found.detail,
    )
