"""Guardian link tokens: compact, bound to one incident and one recipient, unforgeable, expiring."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from tests.factories import T0

from ansim.domain import guardian_links
from ansim.domain.deliveries import RecipientKind, RetryPolicy, language_for_phone
from ansim.domain.errors import Forbidden, InvalidInput
from ansim.domain.guardian_links import GuardianLink, LinkExpired

KEY = b"k" * 32


def test_a_link_round_trips_and_fits_an_sms() -> None:
    link = GuardianLink(
        str(uuid.uuid4()), str(uuid.uuid4()), RecipientKind.SCHOOL_GUARD, T0 + timedelta(hours=6)
    )
    token = guardian_links.sign(link, KEY)
    assert len(token) == 72
    assert guardian_links.verify(token, KEY, now=T0) == link
    with pytest.raises(LinkExpired):
        guardian_links.verify(token, KEY, now=T0 + timedelta(hours=6))
    with pytest.raises(Forbidden, match="not a valid link"):
        guardian_links.verify(token, b"another key", now=T0)
    for broken in (
        token[:-1],
        token + "A",
        "",
        "!!!",
        token.replace(token[10], "A" if token[10] != "A" else "B", 1),
    ):
        with pytest.raises(Forbidden):
            guardian_links.verify(broken, KEY, now=T0)
    with pytest.raises(InvalidInput):
        guardian_links.sign(
            GuardianLink("not-a-uuid", str(uuid.uuid4()), RecipientKind.GUARDIAN, T0), KEY
        )


def test_backoff_doubles_up_to_the_cap_and_languages_follow_the_number() -> None:
    policy = RetryPolicy(max_attempts=6, base=timedelta(seconds=5), cap=timedelta(seconds=30))
    assert [policy.delay(n).total_seconds() for n in range(1, 6)] == [5, 10, 20, 30, 30]
    assert [
        language_for_phone(p) for p in ("+82 10-1234-5678", "010-1234-5678", "+44 20 7946 0000")
    ] == ["ko", "ko", "en"]
