"""Staff accounts: argon2 password hashes, revocable sessions whose tokens we never store."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime, timedelta

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.orm import Session

from ansim.domain.errors import Conflict, InvalidInput
from ansim.domain.staff import Role, StaffSession, StaffUser
from ansim.store.tables import staff_sessions, staff_users

_hasher = PasswordHasher()
# Verifying against this keeps a login for an unknown name as slow as one for a known name.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


def configure_password_hashing(*, time_cost: int, memory_cost_kib: int) -> None:
    """Sets argon2's cost; the defaults are for production, test suites may choose cheaper ones."""
    global _hasher, _DUMMY_HASH
    _hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_cost_kib, parallelism=1)
    _DUMMY_HASH = _hasher.hash("not-a-real-password")


MIN_PASSWORD_LENGTH = 10


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_user(
    session: Session,
    *,
    username: str,
    password: str,
    role: Role,
    display_name: str,
    at: datetime,
    unit_id: str | None = None,
) -> StaffUser:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"password must have at least {MIN_PASSWORD_LENGTH} characters")
    if role == Role.OFFICER and unit_id is None:
        raise InvalidInput("an officer account belongs to a unit")
    if find_user(session, username=username) is not None:
        raise Conflict(f"user {username} exists")
    user = StaffUser(
        id=str(uuid.uuid4()),
        username=username,
        display_name=display_name,
        role=role,
        password_hash=_hasher.hash(password),
        created_at=at,
        unit_id=unit_id,
    )
    session.add(user)
    session.flush()
    return user


def find_user(session: Session, *, username: str) -> StaffUser | None:
    query = sa.select(StaffUser).where(staff_users.c.username == username)
    return session.execute(query).scalar_one_or_none()


def check_password(session: Session, *, username: str, password: str) -> StaffUser | None:
    """The enabled user whose password this is, or None (as slow for unknown names)."""
    user = find_user(session, username=username)
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or user.disabled:
        return None
    return user


def open_session(
    session: Session, *, user: StaffUser, at: datetime, lifetime: timedelta, enrolment_only: bool
) -> str:
    """Opens a login session for `user` and returns its token (only the hash is stored)."""
    token = secrets.token_urlsafe(32)
    session.add(
        StaffSession(
            token_hash=token_hash(token),
            user_id=user.id,
            created_at=at,
            expires_at=at + lifetime,
            enrolment_only=enrolment_only,
        )
    )
    return token


def login(
    session: Session, *, username: str, password: str, at: datetime, lifetime: timedelta
) -> tuple[StaffUser, str] | None:
    """Checks the password and opens a full session; returns (user, token) or None."""
    user = check_password(session, username=username, password=password)
    if user is None:
        return None
    return user, open_session(session, user=user, at=at, lifetime=lifetime, enrolment_only=False)


def authenticate_session(
    session: Session, *, token: str, at: datetime
) -> tuple[StaffUser, bool] | None:
    """The user a live session token belongs to, and whether the session is for enrolment only."""
    login_session = session.get(StaffSession, token_hash(token))
    if login_session is None or login_session.revoked or login_session.expires_at <= at:
        return None
    user = session.get(StaffUser, login_session.user_id)
    if user is None or user.disabled:
        return None
    return user, login_session.enrolment_only


def authenticate(session: Session, *, token: str, at: datetime) -> StaffUser | None:
    """The user a full (not enrolment-only) live session belongs to."""
    found = authenticate_session(session, token=token, at=at)
    return found[0] if found is not None and not found[1] else None


def revoke_all(session: Session, *, user_id: str) -> int:
    """Revokes every session of a user (a lost phone, a leaver); returns how many."""
    result = session.execute(
        staff_sessions.update()
        .where(staff_sessions.c.user_id == user_id, staff_sessions.c.revoked.is_(False))
        .values(revoked=True)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def logout(session: Session, *, token: str) -> None:
    login_session = session.get(StaffSession, token_hash(token))
    if login_session is not None:
        login_session.revoked = True
