"""The simulated SMS provider checks what the platform sends, as a real provider would."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest

from ansim.domain.deliveries import (
    Delivery,
    DeliveryChannel,
    DeliveryError,
    DeliveryStatus,
    RecipientKind,
)
from ansim.sim.phones import SimulatedSmsProvider

AT = datetime(2026, 3, 2, 8, tzinfo=UTC)


def _send(provider: SimulatedSmsProvider, delivery: Delivery) -> str:
    """Sends on a fresh loop in a worker thread (Playwright may own this thread's loop)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, provider.send(delivery)).result()


def _delivery(
    address: str, body: str, *, channel: DeliveryChannel = DeliveryChannel.SMS
) -> Delivery:
    return Delivery(
        id="d-1",
        incident_id=None,
        subscriber_id=None,
        recipient_kind=RecipientKind.GUARDIAN,
        recipient_id="g-1",
        channel=channel,
        address=address,
        language="ko",
        template="verification_link",
        subject="",
        body=body,
        status=DeliveryStatus.SENDING,
        attempts=1,
        next_attempt_at=AT,
        created_at=AT,
        updated_at=AT,
    )


def test_a_message_reaches_the_phone_with_its_link() -> None:
    provider = SimulatedSmsProvider()
    body = "[112] 김하늘 님의 SOS로 경찰이 출동했습니다: http://127.0.0.1:8000/g/AbC-12_x"
    reference = _send(provider, _delivery("+821000000101", body))
    assert reference == "sim-d-1.1"
    [sms] = provider.take()
    assert (sms.to, sms.message_id, sms.link_token()) == ("+821000000101", "d-1.1", "AbC-12_x")
    assert provider.take() == []


@pytest.mark.parametrize(
    ("address", "body", "channel", "refusal"),
    [
        ("010-1234-5678", "hello", DeliveryChannel.SMS, "E.164"),
        ("+821000000101", "  ", DeliveryChannel.SMS, "empty"),
        ("mum@example.org", "hello", DeliveryChannel.EMAIL, "cannot send email"),
    ],
)
def test_what_no_provider_would_take_is_refused_for_good(
    address: str, body: str, channel: DeliveryChannel, refusal: str
) -> None:
    provider = SimulatedSmsProvider()
    with pytest.raises(DeliveryError, match=refusal) as refused:
        _send(provider, _delivery(address, body, channel=channel))
    assert refused.value.permanent
    assert provider.take() == []


def test_a_notice_without_a_link_has_no_token() -> None:
    provider = SimulatedSmsProvider()
    _send(provider, _delivery("+821000000101", "[112] 배터리가 부족합니다."))
    assert provider.take()[0].link_token() is None
