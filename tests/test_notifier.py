"""The notifier against a real local SMS gateway receiver and a real SMTP server, under controlled time."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any, TypeVar

from sqlalchemy.engine import Engine
from tests.factories import T0, build_world
from tests.notify_servers import GATEWAY_SECRET, SmsReceiver, sms_receiver, smtp_server
from tests.verifykit import CONFIG, give_guardians_email, send_sos, uow_of

from ansim.domain.deliveries import Delivery, DeliveryChannel, DeliveryStatus
from ansim.notify.channels import Sender, SmsGateway, SmtpMailer
from ansim.notify.notifier import Notifier
from ansim.services import deliveries, incidents
from ansim.store import outbox


def _gateway(receiver: SmsReceiver) -> SmsGateway:
    return SmsGateway(
        url=receiver.url,
        secret=GATEWAY_SECRET,
        sender="112",
        callback_url="https://ansim.example/api/v1/notify/sms/reports",
        timeout_s=5,
    )


T = TypeVar("T")


def _in_own_loop(coroutine: Coroutine[Any, Any, T]) -> T:
    """Runs `coroutine` on a fresh loop in a worker thread (Playwright may own this thread's loop)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def _notifier(engine: Engine, senders: Mapping[DeliveryChannel, Sender]) -> Notifier:
    return Notifier(uow_of(engine), senders, clock=lambda: T0, retry=CONFIG.retry)


def _run(notifier: Notifier, *seconds: float) -> list[int]:
    async def go() -> list[int]:
        try:
            return [await notifier.run_once(T0 + timedelta(seconds=s)) for s in seconds]
        finally:
            for sender in notifier._senders.values():
                await sender.aclose()

    return _in_own_loop(go())


def _only(engine: Engine, incident_id: str, channel: DeliveryChannel) -> Delivery:
    with uow_of(engine).read() as session:
        [found] = [
            d
            for d in deliveries.for_incident(session, incident_id=incident_id)
            if d.channel == channel
        ]
        return found


def test_a_gateway_that_fails_then_recovers_delivers_exactly_once(engine: Engine) -> None:
    world = build_world(engine)
    incident_id = send_sos(engine, world.subscriber_id)
    with sms_receiver() as receiver:
        receiver.script = [503, 503]
        notifier = _notifier(engine, {DeliveryChannel.SMS: _gateway(receiver)})
        # Backoff: 5 s after the first failure, 10 s after the second.
        assert _run(notifier, 0, 4, 5, 14, 15, 60) == [1, 0, 1, 0, 1, 0]
        sms = _only(engine, incident_id, DeliveryChannel.SMS)
        assert (sms.status, sms.attempts, sms.provider_ref) == (DeliveryStatus.SENT, 3, "prov-1")
        assert len(receiver.accepted) == 1
        assert receiver.rejected_signatures == 0
        [message] = receiver.accepted.values()
        assert message["to"] == "+821098765432"
        assert message["message_id"] == f"{sms.id}.3"
        assert "https://ansim.example/g/" in message["text"]
        # A new notifier (a restart) finds nothing to send again.
        assert _run(_notifier(engine, {DeliveryChannel.SMS: _gateway(receiver)}), 3600) == [0]
        assert len(receiver.calls) == 3
    with uow_of(engine).read() as session:
        statuses = [
            e.data["status"]
            for e in outbox.since(session, after_id=0)
            if e.type == "notification.status_changed"
        ]
        assert statuses == ["queued", "failed", "failed", "sent"]


def test_a_crash_after_sending_resends_with_the_same_message_id(engine: Engine) -> None:
    world = build_world(engine)
    incident_id = send_sos(engine, world.subscriber_id)
    with sms_receiver() as receiver:
        gateway = _gateway(receiver)
        # The process sends, then dies before recording: the lease (60 s) keeps others off meanwhile.
        with uow_of(engine).begin() as session:
            [leased] = deliveries.claim_due(session, now=T0, lease=timedelta(seconds=60))

        async def send_then_crash() -> None:
            await gateway.send(leased)
            await gateway.aclose()

        _in_own_loop(send_then_crash())
        notifier = _notifier(engine, {DeliveryChannel.SMS: _gateway(receiver)})
        assert _run(notifier, 30, 61) == [0, 1]
        assert receiver.calls == [leased.message_id, leased.message_id]
        assert len(receiver.accepted) == 1
        assert _only(engine, incident_id, DeliveryChannel.SMS).status == DeliveryStatus.SENT


def test_out_of_attempts_is_a_dead_letter_and_the_board_hears_the_guardian_is_unreachable(
    engine: Engine,
) -> None:
    world = build_world(engine)
    incident_id = send_sos(engine, world.subscriber_id)
    with sms_receiver() as receiver:
        receiver.script = [503, 503, 503, 503]
        notifier = _notifier(engine, {DeliveryChannel.SMS: _gateway(receiver)})
        assert _run(notifier, 0, 5, 15, 600) == [1, 1, 1, 0]
    sms = _only(engine, incident_id, DeliveryChannel.SMS)
    assert (sms.status, sms.attempts) == (DeliveryStatus.DEAD, 3)
    assert "503" in sms.last_error
    with uow_of(engine).read() as session:
        kinds = [e.kind for e in incidents.timeline(session, incident_id=incident_id)]
        assert kinds[-2:] == ["notification_dead", "guardian_unreachable"]
        types = [e.type for e in outbox.since(session, after_id=0)]
        assert "verification.guardian_unreachable" in types


def test_a_refused_message_is_dead_at_once(engine: Engine) -> None:
    world = build_world(engine)
    incident_id = send_sos(engine, world.subscriber_id)
    with sms_receiver() as receiver:
        receiver.script = [400]
        assert _run(_notifier(engine, {DeliveryChannel.SMS: _gateway(receiver)}), 0, 600) == [1, 0]
    sms = _only(engine, incident_id, DeliveryChannel.SMS)
    assert (sms.status, sms.attempts) == (DeliveryStatus.DEAD, 1)


def test_email_goes_through_a_real_smtp_server_and_waits_when_it_is_down(engine: Engine) -> None:
    world = build_world(engine)
    give_guardians_email(engine, world.subscriber_id, "father@example.kr")
    incident_id = send_sos(engine, world.subscriber_id)
    with smtp_server() as mailbox:
        mailer = SmtpMailer(host=mailbox.host, port=mailbox.port, sender="ansim@police.example")
        assert _run(_notifier(engine, {DeliveryChannel.EMAIL: mailer}), 0) == [2]
        [mail] = mailbox.messages
        port = mailbox.port
    email = _only(engine, incident_id, DeliveryChannel.EMAIL)
    assert email.status == DeliveryStatus.SENT
    assert mail["To"] == "father@example.kr"
    assert mail["Message-ID"] == f"<{email.id}.1@ansim>"
    assert mail["Content-Language"] == "ko"
    assert "SOS" in mail["Subject"]
    body = mail.get_body()
    assert body is not None
    assert "https://ansim.example/g/" in body.get_content()
    # The SMS of the same guardian is untouched by the mail sender (no SMS channel configured here).
    sms = _only(engine, incident_id, DeliveryChannel.SMS)
    assert sms.status == DeliveryStatus.DEAD
    assert "no sms channel" in sms.last_error
    # Now with the server gone: a transient failure, retried later.
    second = send_sos(engine, world.subscriber_id, at=T0 + timedelta(hours=2))
    mailer = SmtpMailer(host="127.0.0.1", port=port, sender="ansim@police.example", timeout_s=2)
    _run(_notifier(engine, {DeliveryChannel.EMAIL: mailer}), 7200)
    retry = _only(engine, second, DeliveryChannel.EMAIL)
    assert (retry.status, retry.attempts) == (DeliveryStatus.FAILED, 1)
    assert retry.next_attempt_at == T0 + timedelta(hours=2, seconds=5)
