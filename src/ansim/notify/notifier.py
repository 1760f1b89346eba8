"""The notifier: sends queued deliveries outside any transaction and records each outcome durably."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from anyio import to_thread

from ansim.domain.deliveries import Delivery, DeliveryChannel, DeliveryError, RetryPolicy
from ansim.notify.channels import DemoLog, Sender, SmsGateway, SmtpMailer, TerminalNotices
from ansim.services import deliveries
from ansim.settings import Settings
from ansim.store.uow import UnitOfWork

log = logging.getLogger(__name__)
REPORTS_PATH = "/api/v1/notify/sms/reports"


@dataclass(frozen=True)
class Outcome:
    delivery: Delivery
    reference: str = ""
    error: DeliveryError | None = None


class Notifier:
    """Claims due deliveries with a lease, sends them, records sent/failed/dead.

    A crash after sending but before recording lets the lease run out; the resend carries the same
    message id, which the gateway's idempotency key (and the e-mail Message-ID) makes recognisable.
    """

    def __init__(
        self,
        uow: UnitOfWork,
        senders: Mapping[DeliveryChannel, Sender],
        *,
        clock: Callable[[], datetime],
        retry: RetryPolicy,
        lease: timedelta = timedelta(seconds=60),
        poll_s: float = 1.0,
        batch: int = 20,
    ) -> None:
        self._uow, self._senders, self._clock = uow, senders, clock
        self._retry, self._lease, self._poll_s, self._batch = retry, lease, poll_s, batch
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = False

    async def run_once(self, now: datetime | None = None) -> int:
        """Sends what is due at `now` (default: the clock); returns how many were attempted."""
        claimed = await to_thread.run_sync(self._claim, now or self._clock())
        outcomes = await asyncio.gather(*(self._send(d) for d in claimed))
        for outcome in outcomes:
            await to_thread.run_sync(self._record, outcome, now or self._clock())
        return len(claimed)

    async def _send(self, delivery: Delivery) -> Outcome:
        sender = self._senders.get(delivery.channel)
        if sender is None:
            error = DeliveryError(f"no {delivery.channel} channel is configured", permanent=True)
            return Outcome(delivery, error=error)
        try:
            async with asyncio.timeout(self._lease.total_seconds() / 2):
                return Outcome(delivery, reference=await sender.send(delivery))
        except DeliveryError as error:
            return Outcome(delivery, error=error)
        except TimeoutError:
            return Outcome(delivery, error=DeliveryError(f"{delivery.channel} send timed out"))

    def _claim(self, now: datetime) -> list[Delivery]:
        with self._uow.begin() as session:
            return deliveries.claim_due(session, now=now, lease=self._lease, limit=self._batch)

    def _record(self, outcome: Outcome, at: datetime) -> None:
        delivery = outcome.delivery
        with self._uow.begin() as session:
            if outcome.error is None:
                deliveries.record_sent(
                    session,
                    delivery_id=delivery.id,
                    attempt=delivery.attempts,
                    provider_ref=outcome.reference,
                    at=at,
                )
                return
            log.warning(
                "delivery %s attempt %d failed: %s", delivery.id, delivery.attempts, outcome.error
            )
            deliveries.record_failure(
                session,
                delivery_id=delivery.id,
                attempt=delivery.attempts,
                error=str(outcome.error),
                permanent=outcome.error.permanent,
                retry=self._retry,
                at=at,
            )

    def wake_threadsafe(self) -> Callable[[], None]:
        """A UnitOfWork after-commit hook: queued messages leave at once, not at the next poll."""

        def wake() -> None:
            if self._loop is not None and not self._loop.is_closed():
                self._loop.call_soon_threadsafe(self._wake.set)

        return wake

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        try:
            while not self._stopping:
                try:
                    while await self.run_once() >= self._batch:
                        pass
                except Exception:  # a broken store or sender must not kill the notifier
                    log.exception("notifier failed; retrying")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=self._poll_s)
                self._wake.clear()
        finally:
            for sender in self._senders.values():
                await sender.aclose()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()


def senders_from(settings: Settings) -> dict[DeliveryChannel, Sender]:
    """The channels this deployment has configured (demo mode logs SMS it cannot send)."""
    config = settings.verification
    senders: dict[DeliveryChannel, Sender] = {}
    if config.sms_gateway_url:
        senders[DeliveryChannel.SMS] = SmsGateway(
            url=config.sms_gateway_url,
            secret=config.sms_gateway_secret.get_secret_value().encode(),
            sender=config.sms_sender,
            callback_url=config.public_url.rstrip("/") + REPORTS_PATH,
            timeout_s=config.send_timeout_s,
        )
    elif settings.demo:
        senders[DeliveryChannel.SMS] = DemoLog()
    if config.smtp_host:
        senders[DeliveryChannel.EMAIL] = SmtpMailer(
            host=config.smtp_host,
            port=config.smtp_port,
            sender=config.mail_from,
            username=config.smtp_username,
            password=config.smtp_password.get_secret_value(),
            starttls=config.smtp_starttls,
            tls=config.smtp_tls,
            timeout_s=config.send_timeout_s,
        )
    elif settings.demo:
        senders[DeliveryChannel.EMAIL] = DemoLog()
    # Without a broker no terminal notice is queued at all (VerificationConfig.terminal_notices).
    if settings.mqtt_url:
        senders[DeliveryChannel.TERMINAL] = TerminalNotices(
            url=settings.mqtt_url, timeout_s=config.send_timeout_s
        )
    return senders
