"""Stations and units of the center: look-ups, CSV imports, edits and retirement."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ansim.domain.errors import NotFound
from ansim.domain.units import Station, Unit
from ansim.store.tables import stations, units


def unit_by_call_sign(session: Session, *, call_sign: str) -> Unit:
    found = session.execute(
        sa.select(Unit).where(units.c.call_sign == call_sign.strip())
    ).scalar_one_or_none()
    if found is None:
        raise NotFound(f"no unit {call_sign}")
    return found


def station_by_name(session: Session, *, name: str) -> Station | None:
    found: Station | None = session.execute(
        sa.select(Station).where(stations.c.name == name.strip())
    ).scalars().first()
    return found
