"""Outbound messages as delivery records: states, retry policy, and what a sender may report."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class DeliveryChannel(StrEnum):
    SMS = "sms"
    EMAIL = "email"
    # A signed notice to the wearer's U-안심 terminal over MQTT; the device acknowledges it.
    TERMINAL = "terminal"


class RecipientKind(StrEnum):
    GUARDIAN = "guardian"
    SCHOOL_GUARD = "school_guard"
    # The person themselves, on their own terminal (recipient_id: the person, address: the terminal).
    WEARER = "wearer"
    # Someone registering the 112 app: the one-time code (recipient_id: the OTP challenge).
    APP_USER = "app_user"


class DeliveryStatus(StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    # An attempt failed and another is scheduled (next_attempt_at).
    FAILED = "failed"
    # Out of attempts, or refused for good: the dead letter the board shows as "could not reach".
    DEAD = "dead"


RETRYABLE = frozenset({DeliveryStatus.QUEUED, DeliveryStatus.FAILED})
FINAL = frozenset({DeliveryStatus.DELIVERED, DeliveryStatus.DEAD})


class DeliveryError(Exception):
    """A sender could not hand the message over; `permanent` means retrying cannot help."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6
    base: timedelta = timedelta(seconds=5)
    cap: timedelta = timedelta(minutes=10)

    def delay(self, attempt: int) -> timedelta:
        """Exponential backoff after the `attempt`-th failure (1-based)."""
        backoff: timedelta = self.base * 2 ** max(0, attempt - 1)
        return min(self.cap, backoff)


@dataclass(frozen=True)
class Delivery:
    id: str
    incident_id: str | None
    subscriber_id: str | None
    recipient_kind: RecipientKind
    recipient_id: str
    channel: DeliveryChannel
    address: str
    language: str
    template: str
    subject: str
    body: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    updated_at: datetime
    sent_at: datetime | None = None
    delivered_at: datetime | None = None
    provider_ref: str = ""
    last_error: str = ""

    @property
    def message_id(self) -> str:
        """Stable per attempt, so a sender retried after a crash is recognised by the receiver."""
        return f"{self.id}.{self.attempts}"


def split_message_id(message_id: str) -> tuple[str, int] | None:
    delivery_id, _, attempt = message_id.rpartition(".")
    if not delivery_id or not attempt.isdigit():
        return None
    return delivery_id, int(attempt)


def language_for_phone(phone: str) -> str:
    """Korean for Korean numbers, English otherwise: a guardian's language when none was chosen."""
    digits = phone.replace(" ", "").replace("-", "")
    return "ko" if digits.startswith(("+82", "0")) else "en"
