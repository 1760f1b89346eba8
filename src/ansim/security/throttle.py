"""Lockout and back-off after failed logins or codes, per user and per address, kept in the database.

After `max_failures` failures a key is locked for `lock`, doubling with each further failure (capped
at an hour); a success clears the key. Rows survive restarts and are shared by every API worker.
SOS intake never passes through here: a flood of SOS folds into the open incident instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ansim.store.tables import auth_throttle

MAX_LOCK = timedelta(hours=1)


@dataclass(frozen=True)
class Policy:
    max_failures: int = 5
    lock: timedelta = timedelta(seconds=30)


class Locked(Exception):
    """Too many failures: try again after `until`."""

    def __init__(self, key: str, until: datetime) -> None:
        super().__init__(f"{key} is locked until {until.isoformat()}")
        self.key = key
        self.until = until


def check(session: Session, *, keys: list[str], at: datetime) -> None:
    """Raises Locked when any of `keys` is locked at `at`."""
    rows = session.execute(
        sa.select(auth_throttle.c.key, auth_throttle.c.locked_until).where(
            auth_throttle.c.key.in_(keys)
        )
    ).all()
    for key, until in rows:
        if until is not None and until > at:
            raise Locked(key, until)


def fail(session: Session, *, keys: list[str], at: datetime, policy: Policy) -> datetime | None:
    """Counts a failure for each key; returns the latest lock it set, if any."""
    latest: datetime | None = None
    for key in keys:
        failures = session.execute(
            sa.select(auth_throttle.c.failures).where(auth_throttle.c.key == key)
        ).scalar_one_or_none()
        count = (failures or 0) + 1
        locked_until = None
        if count >= policy.max_failures:
            locked_until = at + min(policy.lock * 2 ** (count - policy.max_failures), MAX_LOCK)
            latest = max(latest, locked_until) if latest else locked_until
        values = {"failures": count, "last_failure_at": at, "locked_until": locked_until}
        if failures is None:
            session.execute(auth_throttle.insert().values(key=key, **values))
        else:
            session.execute(auth_throttle.update().where(auth_throttle.c.key == key).values(values))
    return latest


def succeed(session: Session, *, keys: list[str]) -> None:
    session.execute(auth_throttle.delete().where(auth_throttle.c.key.in_(keys)))


def hit(session: Session, *, key: str, at: datetime, limit: int, window: timedelta) -> None:
    """A plain rate limit (registrations, OTP sends): at most `limit` per `window`, else Locked."""
    row = (
        session.execute(sa.select(auth_throttle).where(auth_throttle.c.key == key))
        .mappings()
        .first()
    )
    if row is None or row["last_failure_at"] is None or row["last_failure_at"] <= at - window:
        values = {"failures": 1, "last_failure_at": at, "locked_until": None}
        if row is None:
            session.execute(auth_throttle.insert().values(key=key, **values))
        else:
            session.execute(auth_throttle.update().where(auth_throttle.c.key == key).values(values))
        return
    if row["failures"] >= limit:
        raise Locked(key, row["last_failure_at"] + window)
    session.execute(
        auth_throttle.update()
        .where(auth_throttle.c.key == key)
        .values(failures=auth_throttle.c.failures + 1)
    )
