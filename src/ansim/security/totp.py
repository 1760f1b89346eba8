"""The staff second factor: TOTP (RFC 6238, 30 s, 6 digits) with single-use recovery codes."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

import pyotp
import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.orm import Session

from ansim.domain.errors import Conflict, InvalidInput
from ansim.domain.staff import StaffUser
from ansim.store.tables import (
    staff_enrolment_codes,
    staff_recovery_codes,
    staff_second_factors,
)

ISSUER = "ansim"
RECOVERY_CODES = 10
# Recovery codes are random (50 bits), so a cheap argon2 is plenty and keeps login quick.
_code_hasher = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)


def enrolled(session: Session, *, user_id: str) -> bool:
    """True once the user has confirmed a TOTP enrolment."""
    confirmed = session.execute(
        sa.select(staff_second_factors.c.confirmed_at).where(
            staff_second_factors.c.user_id == user_id
        )
    ).scalar_one_or_none()
    return confirmed is not None


def start(session: Session, *, user: StaffUser, at: datetime) -> str:
    """Starts (or restarts, while unconfirmed) an enrolment; returns the otpauth:// URI for the app."""
    if enrolled(session, user_id=user.id):
        raise Conflict("a second factor is already enrolled; an admin resets it")
    secret = pyotp.random_base32()
    session.execute(staff_second_factors.delete().where(staff_second_factors.c.user_id == user.id))
    session.execute(
        staff_second_factors.insert().values(
            user_id=user.id, totp_secret=secret, created_at=at, confirmed_at=None, last_step=0
        )
    )
    return pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=ISSUER)


def confirm(session: Session, *, user: StaffUser, code: str, at: datetime) -> list[str]:
    """Confirms an enrolment with a first code; returns the recovery codes (shown once, kept hashed)."""
    if not check_code(session, user_id=user.id, code=code, at=at, pending=True):
        raise InvalidInput("the code does not match; check the phone's clock and try again")
    return confirm_checked(session, user=user, at=at)


def confirm_checked(session: Session, *, user: StaffUser, at: datetime) -> list[str]:
    """Confirms an enrolment whose first code was just checked; returns fresh recovery codes."""
    row = _factor(session, user_id=user.id)
    if row is None:
        raise InvalidInput("start the enrolment first")
    if row["confirmed_at"] is not None:
        raise Conflict("the second factor is already enrolled")
    session.execute(
        staff_second_factors.update()
        .where(staff_second_factors.c.user_id == user.id)
        .values(confirmed_at=at)
    )
    codes = [f"{secrets.token_hex(4)}-{secrets.token_hex(3)}" for _ in range(RECOVERY_CODES)]
    session.execute(staff_recovery_codes.delete().where(staff_recovery_codes.c.user_id == user.id))
    for code_text in codes:
        session.execute(
            staff_recovery_codes.insert().values(
                user_id=user.id, code_hash=_code_hasher.hash(code_text)
            )
        )
    return codes


def check_code(
    session: Session, *, user_id: str, code: str, at: datetime, pending: bool = False
) -> bool:
    """True for a current code not used before (one step either side for clock drift)."""
    row = _factor(session, user_id=user_id)
    if row is None or (row["confirmed_at"] is None and not pending):
        return False
    totp = pyotp.TOTP(row["totp_secret"])
    step = int(at.timestamp()) // totp.interval
    for candidate in (step, step - 1, step + 1):
        if candidate <= row["last_step"]:
            continue  # a code is good once
        if secrets.compare_digest(totp.generate_otp(candidate), code.strip()):
            session.execute(
                staff_second_factors.update()
                .where(staff_second_factors.c.user_id == user_id)
                .values(last_step=candidate)
            )
            return True
    return False


def use_recovery_code(session: Session, *, user_id: str, code: str, at: datetime) -> bool:
    """Spends one unused recovery code; True if `code` was one."""
    rows = session.execute(
        sa.select(staff_recovery_codes.c.id, staff_recovery_codes.c.code_hash).where(
            staff_recovery_codes.c.user_id == user_id, staff_recovery_codes.c.used_at.is_(None)
        )
    ).all()
    for code_id, code_hash in rows:
        try:
            _code_hasher.verify(code_hash, code.strip())
        except (VerificationError, InvalidHashError):
            continue
        session.execute(
            staff_recovery_codes.update()
            .where(staff_recovery_codes.c.id == code_id)
            .values(used_at=at)
        )
        return True
    return False


def reset(session: Session, *, user_id: str) -> None:
    """Removes a user's second factor (an admin action after a lost phone)."""
    session.execute(staff_recovery_codes.delete().where(staff_recovery_codes.c.user_id == user_id))
    session.execute(staff_second_factors.delete().where(staff_second_factors.c.user_id == user_id))


def _factor(session: Session, *, user_id: str) -> sa.RowMapping | None:
    return (
        session.execute(
            sa.select(staff_second_factors).where(staff_second_factors.c.user_id == user_id)
        )
        .mappings()
        .first()
    )


def issue_enrolment_code(
    session: Session, *, user: StaffUser, issued_by: str, at: datetime, valid_for: timedelta
) -> str:
    """A fresh one-time enrolment code for `user` (replacing any earlier one), shown once."""
    if enrolled(session, user_id=user.id):
        raise Conflict("a second factor is already enrolled; an admin resets it first")
    code = f"{secrets.token_hex(4)}-{secrets.token_hex(4)}"
    session.execute(
        staff_enrolment_codes.delete().where(staff_enrolment_codes.c.user_id == user.id)
    )
    session.execute(
        staff_enrolment_codes.insert().values(
            user_id=user.id,
            code_hash=_code_hasher.hash(code),
            issued_by=issued_by,
            issued_at=at,
            expires_at=at + valid_for,
        )
    )
    return code


def spend_enrolment_code(session: Session, *, user_id: str, code: str, at: datetime) -> bool:
    """True (and the code is gone) when `code` is the user's unexpired enrolment code."""
    row = (
        session.execute(
            sa.select(staff_enrolment_codes).where(staff_enrolment_codes.c.user_id == user_id)
        )
        .mappings()
        .one_or_none()
    )
    if row is None or row["expires_at"] <= at:
        return False
    try:
        _code_hasher.verify(row["code_hash"], code.strip())
    except (VerificationError, InvalidHashError):
        return False
    session.execute(
        staff_enrolment_codes.delete().where(staff_enrolment_codes.c.user_id == user_id)
    )
    return True
