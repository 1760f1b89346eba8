"""Staff login with throttling, the second factor and an audit entry, in one transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from ansim.domain.staff import StaffUser
from ansim.security import access, audit, throttle, totp
from ansim.services import staff
from ansim.store import outbox

# The audit action /metrics counts (ansim_login_spraying_suspected_total), durable and cluster-wide.
SPRAYING_SUSPECTED = "login.spraying_suspected"


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
    """Checks lock, password and second factor; records the outcome; opens a session on success.

    A locked user is refused. A locked address (shared behind a balancer or a station's NAT) refuses
    everything but a full credential: the right password with a valid one-time code for an unlocked
    user is never refused because of other people's failures.
    """
    user_key, address_key = f"user:{attempt.username.lower()}", f"ip:{attempt.ip}"
    keys = [user_key, address_key]
    actor = audit.Actor(name=attempt.username, role="unknown", ip=attempt.ip)
    locks = {lock.key: lock for lock in throttle.locked_keys(session, keys=keys, at=at)}
    if user_key in locks:
        return _refuse_locked(session, actor, locks[user_key], at)
    user = staff.check_password(session, username=attempt.username, password=attempt.password)
    if address_key in locks and not _full_credential(session, user, attempt, at, require_totp):
        if user is None:
            throttle.fail(session, keys=keys, at=at, policy=policy)
        return _refuse_locked(session, actor, locks[address_key], at)
    if user is None:
        return _failed(session, keys, actor, at, policy, "wrong user name or password")
    actor = audit.Actor(name=user.username, role=user.role.value, ip=attempt.ip)
    needs_factor = require_totp and user.role in access.SECOND_FACTOR_ROLES
    enrolment_only = False
    if address_key in locks:
        pass  # the one-time code was checked by _full_credential (and is now used up)
    elif needs_factor and totp.enrolled(session, user_id=user.id):
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
    throttle.succeed(session, keys=[user_key])
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


def _full_credential(
    session: Session,
    user: StaffUser | None,
    attempt: LoginAttempt,
    at: datetime,
    require_totp: bool,
) -> bool:
    """The right password and a valid one-time code of an enrolled authenticator."""
    if user is None or not attempt.otp or not require_totp:
        return False
    if user.role not in access.SECOND_FACTOR_ROLES or not totp.enrolled(session, user_id=user.id):
        return False
    return totp.check_code(session, user_id=user.id, code=attempt.otp, at=at)


def _refuse_locked(
    session: Session, actor: audit.Actor, lock: throttle.Locked, at: datetime
) -> LoginResult:
    audit.record(session, actor=actor, action="login.locked", at=at, subject=lock.key)
    return LoginResult(refusal="too many failed attempts; wait", locked_until=lock.until)


def _failed(
    session: Session,
    keys: list[str],
    actor: audit.Actor,
    at: datetime,
    policy: throttle.Policy,
    reason: str,
) -> LoginResult:
    user_key, address_key = keys
    was_locked = {lock.key for lock in throttle.locked_keys(session, keys=keys, at=at)}
    locked_until = throttle.fail(session, keys=keys, at=at, policy=policy)
    audit.record(session, actor=actor, action="login.failed", at=at, detail={"reason": reason})
    now_locked = {lock.key for lock in throttle.locked_keys(session, keys=keys, at=at)}
    if address_key in now_locked - was_locked and user_key not in now_locked:
        # The address tripped while this name did not: the failures are spread over many names.
        _report_spraying(session, actor, address_key, at)
    return LoginResult(refusal=reason, locked_until=locked_until)


def _report_spraying(session: Session, actor: audit.Actor, address_key: str, at: datetime) -> None:
    """Password spraying: an audit entry, a metric and a notice on the supervisor's board."""
    address = address_key.removeprefix("ip:")
    audit.record(
        session,
        actor=actor,
        action=SPRAYING_SUSPECTED,
        at=at,
        subject=address_key,
        detail={"address": address, "last_name_tried": actor.name},
    )
    outbox.emit(
        session,
        "security.login_spraying",
        {"address": address, "at": at, "reason": "failed logins under several names"},
        at=at,
    )
