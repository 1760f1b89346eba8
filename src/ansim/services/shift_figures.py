"""The supervisor's live figures since the start of the current shift: open incidents by code,
press → order and order → acknowledgement times, verification outcomes."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from statistics import median
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ansim.domain.incidents import OPEN_STATUSES
from ansim.store.tables import assignments, incidents, verifications

SEOUL = ZoneInfo("Asia/Seoul")


def shift_start(now: datetime, changes: list[time]) -> datetime:
    """The last shift change at or before `now` (changes are Seoul wall-clock times)."""
    local = now.astimezone(SEOUL)
    starts = [
        datetime.combine(local.date() - timedelta(days=back), change, tzinfo=SEOUL)
        for back in (0, 1)
        for change in changes
    ]
    return max(s for s in starts if s <= local).astimezone(now.tzinfo)


def _spread(seconds: list[float]) -> dict[str, float | int | None]:
    ordered = sorted(seconds)
    return {
        "count": len(ordered),
        "median_s": round(median(ordered), 1) if ordered else None,
        "p90_s": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))], 1)
        if ordered
        else None,
    }


def figures(session: Session, *, now: datetime, changes: list[time]) -> dict[str, Any]:
    since = shift_start(now, changes)
    open_by_code = {str(code): 0 for code in range(5)}
    for priority, count in session.execute(
        sa.select(incidents.c.priority, sa.func.count())
        .where(incidents.c.status.in_(sorted(OPEN_STATUSES)))
        .group_by(incidents.c.priority)
    ):
        open_by_code[str(int(priority))] = int(count)
    first_order = (
        sa.select(
            assignments.c.incident_id, sa.func.min(assignments.c.ordered_at).label("ordered_at")
        )
        .group_by(assignments.c.incident_id)
        .subquery()
    )
    press_to_order = [
        (row.ordered_at - row.received_at).total_seconds()
        for row in session.execute(
            sa.select(incidents.c.received_at, first_order.c.ordered_at)
            .join(first_order, first_order.c.incident_id == incidents.c.id)
            .where(incidents.c.received_at >= since)
        )
    ]
    order_to_ack = [
        (row.acknowledged_at - row.ordered_at).total_seconds()
        for row in session.execute(
            sa.select(assignments.c.ordered_at, assignments.c.acknowledged_at).where(
                assignments.c.ordered_at >= since, assignments.c.acknowledged_at.is_not(None)
            )
        )
    ]
    outcomes: dict[str, int] = {}
    for state, count in session.execute(
        sa.select(verifications.c.state, sa.func.count())
        .where(verifications.c.started_at >= since)
        .group_by(verifications.c.state)
    ):
        outcomes[str(getattr(state, "value", state))] = int(count)
    received = session.execute(
        sa.select(sa.func.count()).select_from(incidents).where(incidents.c.received_at >= since)
    ).scalar_one()
    return {
        "shift_started_at": since,
        "now": now,
        "received": int(received),
        "open_by_code": open_by_code,
        "press_to_order": _spread(press_to_order),
        "order_to_ack": _spread(order_to_ack),
        "verification_outcomes": outcomes,
    }
