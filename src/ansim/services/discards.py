"""Messages the intake refused or dropped: logged and counted, by channel and reason."""

from __future__ import annotations

import logging
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ansim.services.platform import Platform, transaction
from ansim.store.tables import intake_discards

log = logging.getLogger("ansim.intake")


def record(session: Session, *, channel: str, reason: str, at: datetime, detail: str = "") -> None:
    """Counts one discarded message; the detail is truncated, never the raw (possibly hostile) body."""
    log.warning("intake %s discarded (%s): %s", channel, reason, detail[:200])
    session.execute(
        intake_discards.insert().values(
            channel=channel[:20], reason=reason[:100], at=at, detail=detail[:500]
        )
    )


def counts(session: Session) -> dict[str, dict[str, int]]:
    """Discards so far, by channel then reason."""
    rows = session.execute(
        sa.select(intake_discards.c.channel, intake_discards.c.reason, sa.func.count()).group_by(
            intake_discards.c.channel, intake_discards.c.reason
        )
    ).all()
    result: dict[str, dict[str, int]] = {}
    for channel, reason, count in rows:
        result.setdefault(channel, {})[reason] = int(count)
    return result


def do_record_discard(
    platform: Platform,
    *,
    channel: str,
    reason: str,
    detail: str = "",
    session: Session | None = None,
) -> None:
    """Counts a refused message in a transaction of its own: nothing of the message itself is kept."""
    with transaction(platform, session) as tx:
        record(tx, channel=channel, reason=reason, at=platform.now(), detail=detail)
