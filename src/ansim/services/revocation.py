"""Revocation everywhere: an app install, a terminal, a carrier (and a carrier's secret rotated).

Staff accounts are disabled in services.staff_admin. Each command here is audited in the
transaction that makes the change, and the CLI (`ansim admin ...`) and the admin API share it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ansim.domain.errors import NotFound
from ansim.security import audit
from ansim.services import people
from ansim.services.platform import Platform, transaction
from ansim.store.tables import carriers, terminals


@dataclass(frozen=True)
class InstallView:
    install_id: str
    created_at: datetime


def _who(actor: str | audit.Actor) -> audit.Actor:
    return actor if isinstance(actor, audit.Actor) else audit.Actor(name=actor, role="admin")


def list_app_installs(session: Session, *, subscriber_id: str) -> list[InstallView]:
    return sorted(
        (
            InstallView(b.address, b.created_at)
            for b in people.app_installs(session, subscriber_id=subscriber_id)
        ),
        key=lambda v: v.created_at,
    )


def do_revoke_app_installs(
    platform: Platform,
    *,
    subscriber_id: str,
    actor: str | audit.Actor,
    install_id: str | None = None,
    session: Session | None = None,
) -> list[str]:
    """Revokes one install of a person (or all of them); the credential stops working at once."""
    with transaction(platform, session) as tx:
        people.get_subscriber(tx, subscriber_id=subscriber_id)
        revoked = people.revoke_app_installs(tx, subscriber_id=subscriber_id, install_id=install_id)
        if install_id is not None and not revoked:
            raise NotFound(f"no app install {install_id}")
        audit.record(
            tx,
            actor=_who(actor),
            action="app.installs_revoked",
            at=platform.now(),
            subject=f"subscriber:{subscriber_id}",
            detail={"installs": revoked},
        )
        return revoked


def do_set_terminal_disabled(
    platform: Platform,
    *,
    terminal_id: str,
    disabled: bool,
    actor: str | audit.Actor,
    session: Session | None = None,
) -> None:
    """A disabled terminal's messages are refused (a lost or stolen device); enabling undoes it."""
    with transaction(platform, session) as tx:
        _set_disabled(tx, terminals, "terminal", terminal_id, disabled, _who(actor), platform.now())
        tx.expire_all()  # Terminal objects of the session see the new flag


def do_set_carrier_disabled(
    platform: Platform,
    *,
    carrier_id: str,
    disabled: bool,
    actor: str | audit.Actor,
    session: Session | None = None,
) -> None:
    """A disabled carrier's signed calls are refused as from an unknown carrier."""
    with transaction(platform, session) as tx:
        _set_disabled(tx, carriers, "carrier", carrier_id, disabled, _who(actor), platform.now())


def _set_disabled(
    tx: Session,
    table: sa.Table,
    noun: str,
    key: str,
    disabled: bool,
    actor: audit.Actor,
    at: datetime,
) -> None:
    """Sets the `disabled` flag of `noun` `key` (a terminal, a carrier) with its audit entry."""
    changed = tx.execute(table.update().where(table.c.id == key).values(disabled=disabled))
    if not changed.rowcount:  # type: ignore[attr-defined]
        raise NotFound(f"no {noun} {key}")
    audit.record(
        tx,
        actor=actor,
        action=f"{noun}.disable" if disabled else f"{noun}.enable",
        at=at,
        subject=f"{noun}:{key}",
    )


def do_rotate_carrier_secret(
    platform: Platform, *, carrier_id: str, actor: str | audit.Actor, session: Session | None = None
) -> str:
    """Gives the carrier a new shared secret (returned once); the old one stops working at once."""
    fresh = secrets.token_urlsafe(32)
    with transaction(platform, session) as tx:
        known = tx.execute(sa.select(carriers.c.id).where(carriers.c.id == carrier_id)).first()
        if known is None:
            raise NotFound(f"no carrier {carrier_id}")
        tx.execute(carriers.update().where(carriers.c.id == carrier_id).values(secret=fresh))
        audit.record(
            tx,
            actor=_who(actor),
            action="carrier.secret_rotated",
            at=platform.now(),
            subject=f"carrier:{carrier_id}",
        )
    return fresh
