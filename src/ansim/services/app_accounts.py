"""112 app accounts: phone-number OTP, install credentials, the person's cancel and duress PINs."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from datetime import datetime, timedelta
from enum import StrEnum

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import VerificationError
from sqlalchemy.orm import Session

from ansim.domain.deliveries import DeliveryChannel, RecipientKind
from ansim.domain.errors import Forbidden, InvalidInput
from ansim.domain.incidents import Channel
from ansim.domain.people import Subscriber
from ansim.notify.templates import render
from ansim.security import audit
from ansim.services import deliveries, people
from ansim.store.tables import deliveries as deliveries_table
from ansim.store.tables import otp_challenges, subscriber_pins

OTP_TTL = timedelta(minutes=5)
OTP_MAX_ATTEMPTS = 5
# At most this many codes per number per window and per client per window.
PER_NUMBER = (3, timedelta(minutes=15))
PER_CLIENT = (10, timedelta(hours=1))
# PINs are short: only a slow hash keeps a stolen table from giving them away.
_pin_hasher = PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1)


class RateLimited(Forbidden):
    """Too many codes asked for this number or by this client (HTTP 429)."""


class CodeCheck(StrEnum):
    OK = "ok"
    WRONG = "wrong"
    EXPIRED = "expired"
    EXHAUSTED = "exhausted"


class PinVerdict(StrEnum):
    CANCEL = "cancel"
    DURESS = "duress"
    WRONG = "wrong"


def request_code(session: Session, *, phone_number: str, client_id: str, at: datetime) -> str:
    """Creates a 6-digit code for the number and queues its SMS; returns the challenge id."""
    for column, value, (limit, window) in (
        (otp_challenges.c.phone_number, phone_number, PER_NUMBER),
        (otp_challenges.c.client_id, client_id, PER_CLIENT),
    ):
        recent = session.execute(
            sa.select(sa.func.count())
            .select_from(otp_challenges)
            .where(column == value, otp_challenges.c.created_at > at - window)
        ).scalar_one()
        if recent >= limit:
            raise RateLimited(
                f"at most {limit} codes per {int(window.total_seconds() // 60)} min; try later"
            )
    challenge_id = str(uuid.uuid4())
    code = f"{secrets.randbelow(10**6):06d}"
    session.execute(
        otp_challenges.insert().values(
            id=challenge_id,
            phone_number=phone_number,
            client_id=client_id,
            code_hash=_code_hash(challenge_id, code),
            created_at=at,
            expires_at=at + OTP_TTL,
            attempts=0,
        )
    )
    # The code leaves like every message: a delivery record the notifier sends through the configured
    # SMS channel, with the same retries and delivery reports as a guardian's alert.
    text = render("app_otp", "ko", code=code)
    deliveries.queue(
        session,
        delivery_id=str(uuid.uuid4()),
        channel=DeliveryChannel.SMS,
        recipient_kind=RecipientKind.APP_USER,
        recipient_id=challenge_id,
        address=phone_number,
        language="ko",
        template="app_otp",
        subject=text.subject,
        body=text.body,
        at=at,
        dedupe_key=f"app_otp:{challenge_id}",
    )
    return challenge_id


def check_code(
    session: Session, *, challenge_id: str, phone_number: str, code: str, at: datetime
) -> CodeCheck:
    """Checks a code; counts the attempt (the caller commits even when the answer is no)."""
    row = (
        session.execute(
            sa.select(otp_challenges)
            .where(
                otp_challenges.c.id == challenge_id, otp_challenges.c.phone_number == phone_number
            )
            .with_for_update()
        )
        .mappings()
        .first()
    )
    if row is None or row["verified_at"] is not None:
        return CodeCheck.EXPIRED
    if row["attempts"] >= OTP_MAX_ATTEMPTS:
        return CodeCheck.EXHAUSTED
    if at > row["expires_at"]:
        return CodeCheck.EXPIRED
    good = hmac.compare_digest(row["code_hash"], _code_hash(challenge_id, code))
    session.execute(
        otp_challenges.update()
        .where(otp_challenges.c.id == challenge_id)
        .values(attempts=row["attempts"] + 1, verified_at=at if good else None)
    )
    return CodeCheck.OK if good else CodeCheck.WRONG


def register_install(
    session: Session,
    *,
    phone_number: str,
    name: str | None,
    birth_year: int | None,
    pin: str,
    duress_pin: str,
    at: datetime,
) -> tuple[str, str]:
    """After a verified code: the person (found by number, or new) and a new install credential."""
    bound = people.binding(session, channel=Channel.ONE_TOUCH, address=phone_number)
    if bound is not None:
        subscriber_id = bound.subscriber_id
        # Whoever proves the number now holds it: an earlier install (a lost or sold phone, a
        # number given to someone else) must no longer read or replace the person's profile.
        revoked = people.revoke_app_installs(session, subscriber_id=subscriber_id)
        if revoked:
            audit.record(
                session,
                actor=audit.Actor(name="app-registration", role="device"),
                action="app.installs_revoked",
                at=at,
                subject=f"subscriber:{subscriber_id}",
                detail={"installs": revoked, "reason": "number registered again"},
            )
    else:
        if not name or birth_year is None:
            raise InvalidInput("a new person needs a name and a birth year")
        subscriber = Subscriber(
            id=str(uuid.uuid4()), name=name, birth_year=birth_year, created_at=at, consent_at=at
        )
        session.add(subscriber)
        session.flush()
        subscriber_id = subscriber.id
        # The number is the person's: a call from it (and its AML) identifies them too.
        people.bind(
            session,
            subscriber_id=subscriber_id,
            channel=Channel.ONE_TOUCH,
            address=phone_number,
            at=at,
        )
    set_pins(session, subscriber_id=subscriber_id, pin=pin, duress_pin=duress_pin, at=at)
    return subscriber_id, people.issue_app_credential(session, subscriber_id=subscriber_id, at=at)


def set_pins(
    session: Session, *, subscriber_id: str, pin: str, duress_pin: str, at: datetime
) -> None:
    """Sets the cancel PIN and the duress PIN (which must differ)."""
    for value in (pin, duress_pin):
        if not (value.isdigit() and 4 <= len(value) <= 8):
            raise InvalidInput("a PIN is 4 to 8 digits")
    if pin == duress_pin:
        raise InvalidInput("the duress PIN must differ from the PIN")
    values = {
        "pin_hash": _pin_hasher.hash(pin),
        "duress_pin_hash": _pin_hasher.hash(duress_pin),
        "set_at": at,
        "failed_attempts": 0,
    }
    updated = session.execute(
        subscriber_pins.update()
        .where(subscriber_pins.c.subscriber_id == subscriber_id)
        .values(**values)
    )
    if not updated.rowcount:  # type: ignore[attr-defined]
        session.execute(subscriber_pins.insert().values(subscriber_id=subscriber_id, **values))


def judge_pin(session: Session, *, subscriber_id: str, pin: str) -> tuple[PinVerdict, int]:
    """Which PIN this is; a wrong one is counted. Returns the verdict and the failures so far."""
    row = (
        session.execute(
            sa.select(subscriber_pins).where(subscriber_pins.c.subscriber_id == subscriber_id)
        )
        .mappings()
        .first()
    )
    if row is None:
        return PinVerdict.WRONG, 0
    # Both hashes are always checked: the answer time must not tell a duress PIN from the PIN.
    is_pin = _pin_matches(row["pin_hash"], pin)
    is_duress = _pin_matches(row["duress_pin_hash"], pin)
    if is_pin or is_duress:
        return (PinVerdict.CANCEL if is_pin else PinVerdict.DURESS), row["failed_attempts"]
    failures = row["failed_attempts"] + 1
    session.execute(
        subscriber_pins.update()
        .where(subscriber_pins.c.subscriber_id == subscriber_id)
        .values(failed_attempts=failures)
    )
    return PinVerdict.WRONG, failures


def outbox_messages(session: Session, *, to_number: str) -> list[str]:
    """The one-time code messages queued for a number, oldest first (the demo phone shows them).

    Addresses are encrypted with a random nonce, so the number is compared after decryption.
    """
    rows = session.execute(
        sa.select(deliveries_table.c.address, deliveries_table.c.body)
        .where(deliveries_table.c.recipient_kind == RecipientKind.APP_USER)
        .order_by(deliveries_table.c.created_at)
    ).all()
    return [body for address, body in rows if address == to_number]


def _pin_matches(stored: str, pin: str) -> bool:
    try:
        return _pin_hasher.verify(stored, pin)
    except VerificationError:
        return False


def _code_hash(challenge_id: str, code: str) -> str:
    return hashlib.sha256(f"{challenge_id}:{code}".encode()).hexdigest()
