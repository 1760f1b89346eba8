"""Lockout and back-off after failed logins or codes, per user and per address, kept in the database.

After `max_failures` failures a key is locked for `lock`, doubling with each further failure (capped
at an hour). Counts decay: they halve every `half_life` without a failure, so a shared address (a
balancer, a station's NAT) is not locked for good by the typos of many people over a shift. A success
clears the user's key only: an attacker's own valid login must not reset an address's count. Rows
survive restarts and are shared by every API worker.
SOS intake never passes through here: a flood of SOS folds into the open incident instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ansim.settings import Settings
from ansim.store.tables import auth_throttle

MAX_LOCK = timedelta(hours=1)


@dataclass(frozen=True)
class Policy:
    max_failures: int = 5
    lock: timedelta = timedelta(seconds=30)
    half_life: timedelta = timedelta(minutes=10)

    @classmethod
    def from_settings(cls, settings: Settings) -> Policy:
        return cls(
            max_failures=settings.login_max_failures,
            lock=timedelta(seconds=settings.login_lock_s),
            half_life=timedelta(seconds=settings.login_decay_s),
        )


class Locked(Exception):
    """Too many failures: try again after `until`."""

    def __init__(self, key: str, until: datetime) -> None:
        super().__init__(f"{key} is locked until {until.isoformat()}")
        self.key = key
        self.until = until


def check(session: Session, *, keys: list[str], at: datetime) -> None:
    """Raises Locked when any of `keys` is locked at `at`."""
    locked = locked_keys(session, keys=keys, at=at)
    if locked:
        raise locked[0]


def locked_keys(session: Session, *, keys: list[str], at: datetime) -> list[Locked]:
    """The locks among `keys` that still hold at `at`, in the order of `keys`."""
    rows = dict(
        session.execute(
            sa.select(auth_throttle.c.key, auth_throttle.c.locked_until).where(
                auth_throttle.c.key.in_(keys)
            )
        ).all()
    )
    return [
        Locked(key, until) for key in keys if (until := rows.get(key)) is not None and until > at
    ]


def decayed(failures: int, *, since: datetime | None, at: datetime, half_life: timedelta) -> int:
    """The failures that still count at `at`: halved for every `half_life` since the last one."""
    if since is None or at <= since:
        return failures
    kept: float = 0.5 ** ((at - since) / half_life)
    return math.floor(failures * kept)


def fail(session: Session, *, keys: list[str], at: datetime, policy: Policy) -> datetime | None:
    """Counts a failure for each key; returns the latest lock it set, if any."""
    latest: datetime | None = None
    for key in keys:
        row = session.execute(
            sa.select(auth_throttle.c.failures, auth_throttle.c.last_failure_at).where(
                auth_throttle.c.key == key
            )
        ).first()
        before = decayed(row[0], since=row[1], at=at, half_life=policy.half_life) if row else 0
        count = before + 1
        locked_until = None
        if count >= policy.max_failures:
            locked_until = at + min(policy.lock * 2 ** (count - policy.max_failures), MAX_LOCK)
            latest = max(latest, locked_until) if latest else locked_until
        values = {"failures": count, "last_failure_at": at, "locked_until": locked_until}
        if row is None:
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
