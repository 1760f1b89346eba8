"""Staff administration commands: add, change role and districts, disable, reset TOTP, revoke sessions.

The CLI (`ansim admin ...`) and the admin API call the same commands; every one is audited in the
transaction that makes the change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session
from zxcvbn import zxcvbn

from ansim.cctv import access
from ansim.domain.errors import InvalidInput, NotFound
from ansim.domain.staff import Role, StaffUser
from ansim.security import audit, totp
from ansim.services import staff
from ansim.services.platform import Platform, transaction
from ansim.store.tables import staff_users

# An administrator's account opens every record: longer than the login floor, and not guessable.
MIN_NEW_PASSWORD_LENGTH = 12
# zxcvbn scores 0-4; 3 is "safely unguessable: moderate protection from offline slow-hash attacks".
MIN_STRENGTH = 3


@dataclass(frozen=True)
class StaffView:
    """What administrators see of an account (never its password hash or second-factor secret)."""

    username: str
    display_name: str
    role: Role
    districts: list[str]
    unit_id: str | None
    disabled: bool
    totp_enrolled: bool
    created_at: datetime


def check_password_strength(password: str, *, username: str, display_name: str = "") -> None:
    """Refuses a short or guessable password, saying why (zxcvbn's own warning and suggestion)."""
    if len(password) < MIN_NEW_PASSWORD_LENGTH:
        raise InvalidInput(f"the password must have at least {MIN_NEW_PASSWORD_LENGTH} characters")
    result = zxcvbn(password[:100], user_inputs=[username, display_name, "ansim", "112"])
    if result["score"] < MIN_STRENGTH:
        feedback = result.get("feedback") or {}
        hints = [feedback.get("warning") or "", *(feedback.get("suggestions") or [])]
        reason = " ".join(h for h in hints if h) or "it is too easy to guess."
        raise InvalidInput(f"the password is too weak: {reason}")


def _actor(actor: str | audit.Actor) -> audit.Actor:
    return actor if isinstance(actor, audit.Actor) else audit.Actor(name=actor, role="admin")


def _user(session: Session, username: str) -> StaffUser:
    user = staff.find_user(session, username=username)
    if user is None:
        raise NotFound(f"no staff user {username}")
    return user


def view_of(session: Session, user: StaffUser) -> StaffView:
    return StaffView(
        username=user.username,
        display_name=user.display_name,
        role=user.role,
        districts=access.districts_of(session, user_id=user.id),
        unit_id=user.unit_id,
        disabled=user.disabled,
        totp_enrolled=totp.enrolled(session, user_id=user.id),
        created_at=user.created_at,
    )


def list_staff(session: Session) -> list[StaffView]:
    users = session.execute(sa.select(StaffUser).order_by(staff_users.c.username)).scalars()
    return [view_of(session, u) for u in users]


def get_staff(session: Session, *, username: str) -> StaffView:
    return view_of(session, _user(session, username))


def do_add_staff_user(
    platform: Platform,
    *,
    username: str,
    password: str,
    role: Role,
    actor: str | audit.Actor,
    display_name: str = "",
    districts: list[str] | None = None,
    unit_id: str | None = None,
    session: Session | None = None,
) -> StaffView:
    """Creates a staff account after the strength check; its TOTP is enrolled at first login."""
    username = username.strip()
    if not username or len(username) > 100 or any(c.isspace() for c in username):
        raise InvalidInput("a username is 1-100 characters without spaces")
    display_name = display_name.strip() or username
    check_password_strength(password, username=username, display_name=display_name)
    who, at = _actor(actor), platform.now()
    with transaction(platform, session) as tx:
        user = staff.create_user(
            tx,
            username=username,
            password=password,
            role=role,
            display_name=display_name,
            at=at,
            unit_id=unit_id,
        )
        chosen = access.set_districts(
            tx, user=user, districts=districts or [], actor=who.name, at=at
        )
        audit.record(
            tx,
            actor=who,
            action="staff.add",
            at=at,
            subject=f"staff:{username}",
            detail={"role": role.value, "districts": chosen, "unit_id": unit_id},
        )
        return view_of(tx, user)


def do_change_staff_user(
    platform: Platform,
    *,
    username: str,
    actor: str | audit.Actor,
    role: Role | None = None,
    districts: list[str] | None = None,
    display_name: str | None = None,
    unit_id: str | None = None,
    session: Session | None = None,
) -> StaffView:
    """Changes role, districts, name or unit; a changed role ends the user's open sessions."""
    who, at = _actor(actor), platform.now()
    with transaction(platform, session) as tx:
        user = _user(tx, username)
        changes: dict[str, object] = {}
        if display_name is not None and display_name.strip() != user.display_name:
            user.display_name = changes["display_name"] = display_name.strip() or user.username
        if unit_id is not None and unit_id != user.unit_id:
            user.unit_id = unit_id or None
            changes["unit_id"] = user.unit_id
        if role is not None and role != user.role:
            if role == Role.OFFICER and user.unit_id is None:
                raise InvalidInput("an officer account belongs to a unit: give unit_id")
            changes["role"] = {"from": user.role.value, "to": role.value}
            user.role = role
            # A session opened under the old role must not keep its old rights.
            changes["sessions_revoked"] = staff.revoke_all(tx, user_id=user.id)
        if districts is not None:
            before = access.districts_of(tx, user_id=user.id)
            after = access.set_districts(tx, user=user, districts=districts, actor=who.name, at=at)
            if after != before:
                changes["districts"] = {"from": before, "to": after}
        tx.flush()
        if changes:
            audit.record(
                tx,
                actor=who,
                action="staff.change",
                at=at,
                subject=f"staff:{username}",
                detail=changes,
            )
        return view_of(tx, user)


def do_set_staff_disabled(
    platform: Platform,
    *,
    username: str,
    disabled: bool,
    actor: str | audit.Actor,
    session: Session | None = None,
) -> StaffView:
    """Disables (and logs out everywhere) or re-enables an account; history stays."""
    who, at = _actor(actor), platform.now()
    with transaction(platform, session) as tx:
        user = _user(tx, username)
        if disabled and who.name == username:
            raise InvalidInput("an administrator cannot disable their own account")
        revoked = staff.revoke_all(tx, user_id=user.id) if disabled else 0
        user.disabled = disabled
        tx.flush()
        audit.record(
            tx,
            actor=who,
            action="staff.disable" if disabled else "staff.enable",
            at=at,
            subject=f"staff:{username}",
            detail={"sessions_revoked": revoked},
        )
        return view_of(tx, user)


def do_reset_staff_totp(
    platform: Platform, *, username: str, actor: str | audit.Actor, session: Session | None = None
) -> StaffView:
    """Forgets the second factor (a lost phone): the next login enrols a new one. Ends sessions."""
    who, at = _actor(actor), platform.now()
    with transaction(platform, session) as tx:
        user = _user(tx, username)
        totp.reset(tx, user_id=user.id)
        revoked = staff.revoke_all(tx, user_id=user.id)
        audit.record(
            tx,
            actor=who,
            action="staff.totp_reset",
            at=at,
            subject=f"staff:{username}",
            detail={"sessions_revoked": revoked},
        )
        return view_of(tx, user)


def do_revoke_staff_sessions(
    platform: Platform, *, username: str, actor: str | audit.Actor, session: Session | None = None
) -> int:
    """Ends every open session of a user (a stolen laptop); returns how many were open."""
    who, at = _actor(actor), platform.now()
    with transaction(platform, session) as tx:
        user = _user(tx, username)
        revoked = staff.revoke_all(tx, user_id=user.id)
        audit.record(
            tx,
            actor=who,
            action="staff.sessions_revoked",
            at=at,
            subject=f"staff:{username}",
            detail={"sessions_revoked": revoked},
        )
        return revoked
