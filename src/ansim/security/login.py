"""Staff login with throttling, the second factor and an audit entry, in one transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from ansim.domain.staff import StaffUser
from ansim.security import access, audit, throttle, totp
from ansim.services import staff


@dataclass(frozen=True)
class LoginAttempt:
    username: str
    password: str
    ip: str
    otp: str | None = None
    recovery_code: str | None = None


@dataclass(frozen=True)
class LoginResult:
    """Either a session (token set) or a refusal with the reason to show and a lock, if any."""

    user: StaffUser | None = None
    token: str = ""
    enrolment_only: bool = False
    refusal: str = ""
    locked_until: datetime | None = None
    second_factor_missing: bool = False


def do_log_in(
    session: Session,
    *,
    attempt: LoginAttempt,
    at: datetime,
    lifetime: timedelta,
    policy: throttle.Policy,
    require_totp: bool,
) -> LoginResult:
    """Checks lock, password and second factor; records the outcome; opens a session on success."""
    keys = [f"user:{attempt.username.lower()}", f"ip:{attempt.ip}"]
    actor = audit.Actor(name=attempt.username, role="unknown", ip=attempt.ip)
    try:
        throttle.check(session, keys=keys, at=at)
    except throttle.Locked as locked:
        audit.record(session, actor=actor, action="login.locked", at=at, subject=locked.key)
        return LoginResult(refusal="too many failed attempts; wait", locked_until=locked.until)
    user = staff.check_password(session, username=attempt.username, password=attempt.password)
    if user is None:
        return _failed(session, keys, actor, at, policy, "wrong user name or password")
    actor = audit.Actor(name=user.username, role=user.role.value, ip=attempt.ip)
    needs_factor = require_totp and user.role in access.SECOND_FACTOR_ROLES
    enrolment_only = False
    if needs_factor and totp.enrolled(session, user_id=user.id):
        if attempt.otp:
            passed = totp.check_code(session, user_id=user.id, code=attempt.otp, at=at)
        elif attempt.recovery_code:
            passed = totp.use_recovery_code(
                session, user_id=user.id, code=attempt.recovery_code, at=at
            )
        else:
            # Counted like a failure, or the answer would be a free password oracle.
            locked_until = throttle.fail(session, keys=keys, at=at, policy=policy)
            return LoginResult(
                refusal="one-time code required",
                second_factor_missing=True,
                locked_until=locked_until,
            )
        if not passed:
            return _failed(session, keys, actor, at, policy, "wrong one-time code")
    elif needs_factor:
        enrolment_only = True
    throttle.succeed(session, keys=keys[:1])
    token = staff.open_session(
        session, user=user, at=at, lifetime=lifetime, enrolment_only=enrolment_only
    )
    audit.record(
        session,
        actor=actor,
        action="login",
        at=at,
        subject=f"staff:{user.id}",
        detail={"enrolment_only": enrolment_only, "recovery_code": bool(attempt.recovery_code)},
    )
    return LoginResult(user=user, token=token, enrolment_only=enrolment_only)


def _failed(
    session: Session,
    keys: list[str],
    actor: audit.Actor,
    at: datetime,
    policy: throttle.Policy,
    reason: str,
) -> LoginResult:
    locked_until = throttle.fail(session, keys=keys, at=at, policy=policy)
    audit.record(session, actor=actor, action="login.failed", at=at, detail={"reason": reason})
    return LoginResult(refusal=reason, locked_until=locked_until)
