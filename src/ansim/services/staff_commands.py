"""Staff session commands: log in, log out, enrol and confirm a second factor (TOTP)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from ansim.domain.staff import StaffSession, StaffUser
from ansim.security import audit, login, throttle, totp
from ansim.security.login import LoginAttempt, LoginResult
from ansim.services import staff
from ansim.services.audit_trail import audited
from ansim.services.platform import Platform, transaction


def do_log_in(
    platform: Platform,
    *,
    attempt: LoginAttempt,
    lifetime: timedelta,
    policy: throttle.Policy,
    require_totp: bool,
    session: Session | None = None,
) -> LoginResult:
    """Checks lock, password and second factor; records the outcome; opens a session on success."""
    with transaction(platform, session) as own:
        return login.do_log_in(
            own,
            attempt=attempt,
            at=platform.now(),
            lifetime=lifetime,
            policy=policy,
            require_totp=require_totp,
        )


def do_log_out(
    platform: Platform, *, token: str, actor: audit.Actor, session: Session | None = None
) -> None:
    """Revokes the staff session of `token`."""
    with audited(platform, actor=actor, action="logout", session=session) as own:
        staff.logout(own, token=token)


def do_start_totp_enrolment(
    platform: Platform, *, user: StaffUser, actor: audit.Actor, session: Session | None = None
) -> str:
    """Starts enrolling an authenticator app; returns the otpauth:// URI to scan."""
    with audited(platform, actor=actor, action="totp.enrol_started", session=session) as own:
        return totp.start(own, user=user, at=platform.now())


def do_confirm_totp_enrolment(
    platform: Platform,
    *,
    user: StaffUser,
    token: str,
    code: str,
    policy: throttle.Policy,
    actor: audit.Actor,
) -> list[str] | None:
    """Confirms the enrolment with a first code: recovery codes, or None for a wrong code.

    A wrong code is counted (and kept) in a transaction of its own; too many raise throttle.Locked.
    The session of `token` becomes a full one.
    """
    key = [f"otp:{user.id}"]
    at = platform.now()
    with transaction(platform) as own:
        throttle.check(own, keys=key, at=at)
        if not totp.check_code(own, user_id=user.id, code=code, at=at, pending=True):
            throttle.fail(own, keys=key, at=at, policy=policy)
            audit.record(own, actor=actor, action="totp.enrol_failed", at=at)
            return None
    with audited(platform, actor=actor, action="totp.enrolled") as own:
        codes = totp.confirm_checked(own, user=user, at=at)
        login_session = own.get(StaffSession, staff.token_hash(token))
        if login_session is not None:
            login_session.enrolment_only = False
        throttle.succeed(own, keys=key)
        return codes
