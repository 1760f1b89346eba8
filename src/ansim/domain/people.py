"""Registered people (subscribers), their guardians and the channels that identify them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ansim.domain.deliveries import language_for_phone
from ansim.domain.incidents import Channel


@dataclass
class Subscriber:
    """The registered person an SOS is about: a pupil, a woman, an elderly person."""

    id: str
    name: str
    birth_year: int
    created_at: datetime
    photo_url: str = ""
    notes: str = ""
    school: str = ""
    consent_at: datetime | None = None


@dataclass
class Guardian:
    id: str
    subscriber_id: str
    name: str
    phone: str
    relation: str
    email: str = ""
    call_order: int = 1
    # The language of their messages ("ko", "en"); empty means "as the phone number suggests".
    language: str = ""

    def __post_init__(self) -> None:
        self.language = self.language or language_for_phone(self.phone)


@dataclass
class ChannelBinding:
    """Ties a channel address (phone number, app install, terminal id) to a subscriber."""

    id: str
    subscriber_id: str
    channel: Channel
    address: str
    created_at: datetime
    # App installs and terminals authenticate; a hash of their credential is kept, never the secret.
    credential_hash: str = ""
