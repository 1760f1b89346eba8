"""Who may watch what: operators see active incidents of their own district, and every look is logged."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ansim.domain.errors import Forbidden, InvalidInput
from ansim.domain.incidents import OPEN_STATUSES, Incident
from ansim.domain.staff import Role, StaffUser
from ansim.geo.demo_data import district_named, load_districts
from ansim.geo.geodesy import LocalFrame
from ansim.services import incidents
from ansim.store.tables import cctv_view_log, staff_districts

# Roles that work a whole city; an operator works the districts assigned to them.
CITY_ROLES = frozenset({Role.DISPATCHER, Role.SUPERVISOR, Role.ADMIN})
# Polling consoles would log the same list every few seconds; one row per distinct list per window.
LIST_LOG_WINDOW = timedelta(minutes=5)


def assign_area(session: Session, *, user: StaffUser, gu: str, actor: str, at: datetime) -> str:
    """Gives a CCTV operator one district (replacing any others); returns its Korean name."""
    if user.role != Role.CCTV_OPERATOR:
        raise InvalidInput(f"{user.username} is a {user.role}, not a cctv_operator")
    return set_districts(session, user=user, districts=[gu], actor=actor, at=at)[0]


def check_district(name: str) -> str:
    """The Korean name of a district given in Korean or English, or InvalidInput listing them."""
    district = district_named(name.strip())
    if district is None:
        names = ", ".join(d.name_ko for d in load_districts())
        raise InvalidInput(f"unknown district {name!r}; one of {names}")
    return district.name_ko


def set_districts(
    session: Session, *, user: StaffUser, districts: list[str], actor: str, at: datetime
) -> list[str]:
    """Replaces the districts a staff member works; returns their Korean names, sorted."""
    names = sorted({check_district(d) for d in districts})
    session.execute(staff_districts.delete().where(staff_districts.c.user_id == user.id))
    for name in names:
        session.execute(
            staff_districts.insert().values(
                user_id=user.id, district=name, assigned_at=at, assigned_by=actor
            )
        )
    session.flush()
    return names


def districts_of(session: Session, *, user_id: str) -> list[str]:
    return list(
        session.execute(
            sa.select(staff_districts.c.district)
            .where(staff_districts.c.user_id == user_id)
            .order_by(staff_districts.c.district)
        ).scalars()
    )


def area_of(session: Session, *, user_id: str) -> str | None:
    """The operator's districts as one label ("강남구, 종로구"), or None when none is assigned."""
    return ", ".join(districts_of(session, user_id=user_id)) or None


def in_any_area(incident: Incident, districts: list[str]) -> bool:
    return any(in_area(incident, gu) for gu in districts)


def in_area(incident: Incident, gu: str) -> bool:
    """True when the incident's uncertainty circle touches the district (centre or rim)."""
    district = district_named(gu)
    if district is None or incident.lat is None or incident.lon is None:
        return False
    if district.contains(incident.lat, incident.lon):
        return True
    radius = incident.radius_m or 0.0
    if radius <= 0:
        return False
    frame = LocalFrame(incident.lat, incident.lon)
    for k in range(16):
        angle = 2 * math.pi * k / 16
        lat, lon = frame.to_latlon(radius * math.sin(angle), radius * math.cos(angle))
        if district.contains(lat, lon):
            return True
    return False


def check_may_watch(session: Session, *, user: StaffUser, incident: Incident) -> None:
    """Raises Forbidden unless `user` may see this incident on the CCTV console now."""
    if user.role in CITY_ROLES:
        return
    if user.role != Role.CCTV_OPERATOR:
        raise Forbidden(f"role {user.role} has no CCTV console")
    if not incident.is_active:
        raise Forbidden("the incident is no longer active; CCTV access ended with it")
    districts = districts_of(session, user_id=user.id)
    if not districts:
        raise Forbidden("no district is assigned to this operator")
    if not in_any_area(incident, districts):
        raise Forbidden(f"the incident is outside {', '.join(districts)}")


def watchable_incidents(session: Session, *, user: StaffUser) -> list[Incident]:
    """Active, located incidents this user may watch, newest first."""
    found = [
        i
        for i in incidents.list_recent(session, active_only=True)
        if i.status in OPEN_STATUSES and i.lat is not None
    ]
    if user.role in CITY_ROLES:
        return found
    districts = districts_of(session, user_id=user.id) if user.role == Role.CCTV_OPERATOR else []
    return [i for i in found if in_any_area(i, districts)]


def log_view(
    session: Session,
    *,
    user: StaffUser,
    action: str,
    at: datetime,
    incident_id: str | None = None,
    camera_id: str | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    """Appends one row to the view log (a repeated identical list inside the window is one row)."""
    data = data or {}
    if action == "list":
        last = session.execute(
            sa.select(cctv_view_log.c.data)
            .where(
                cctv_view_log.c.user_id == user.id,
                cctv_view_log.c.action == "list",
                cctv_view_log.c.at >= at - LIST_LOG_WINDOW,
            )
            .order_by(cctv_view_log.c.id.desc())
            .limit(1)
        ).scalar_one_or_none()
        if last == data:
            return
    session.execute(
        cctv_view_log.insert().values(
            user_id=user.id,
            username=user.username,
            incident_id=incident_id,
            camera_id=camera_id,
            action=action,
            at=at,
            data=data,
        )
    )


def view_log(
    session: Session, *, incident_id: str | None = None, limit: int = 500
) -> list[dict[str, Any]]:
    query = sa.select(cctv_view_log).order_by(cctv_view_log.c.id.desc()).limit(limit)
    if incident_id is not None:
        query = query.where(cctv_view_log.c.incident_id == incident_id)
    return [dict(row) for row in session.execute(query).mappings()]
