"""Staff session commands: log in, log out, enrol and confirm a second factor (TOTP)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from ansim.domain.errors import Forbidden, NotFound
from ansim.domain.staff import StaffSession, StaffUser
from ansim.security import audit, login, throttle, totp
from ansim.security.login import LoginAttempt, LoginResult
from ansim.services import staff
from ansim.services.audit_trail import audited, name_of
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
    platform: Platform,
    *,
    user: StaffUser,
    enrolment_code: str | None = None,
    code_required: bool = False,
    actor: audit.Actor,
    session: Session | None = None,
) -> str:
    """Starts enrolling an authenticator app; returns the otpauth:// URI to scan.

    With `code_required` the person must bring the one-time code an admin issued (spent here), so a
    stolen password alone never enrols the thief's authenticator.
    """
    if code_required:
        with transaction(platform, session) as own:
            spent = enrolment_code is not None and totp.spend_enrolment_code(
                own, user_id=user.id, code=enrolment_code, at=platform.now()
            )
            if not spent:
                audit.record(own, actor=actor, action="totp.enrol_refused", at=platform.now())
        if not spent:
            raise Forbidden("enrolling a second factor needs the one-time code from an admin")
    with audited(platform, actor=actor, action="totp.enrol_started", session=session) as own:
        return totp.start(own, user=user, at=platform.now())


def do_issue_totp_enrolment_code(
    platform: Platform,
    *,
    username: str,
    valid_for: timedelta,
    actor: str | audit.Actor,
    session: Session | None = None,
) -> str:
    """Issues `username` a one-time code to enrol their authenticator; returns it (shown once)."""
    with audited(
        platform,
        actor=actor,
        action="totp.enrolment_code_issued",
        subject=username,
        session=session,
    ) as own:
        user = staff.find_user(own, username=username)
        if user is None:
            raise NotFound(f"no staff user {username!r}")
        return totp.issue_enrolment_code(
            own, user=user, issued_by=name_of(actor), at=platform.now(), valid_for=valid_for
        )


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
