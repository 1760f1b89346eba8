"""NATS JetStream between processes: the relay publishes committed events, every API worker consumes them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from typing import Any

from nats.aio.client import Client
from nats.js.api import DeliverPolicy, StorageType, StreamConfig
from nats.js.client import JetStreamContext
from nats.js.errors import NotFoundError

from ansim.bus.memory import InProcessBus
from ansim.domain.events import EventEnvelope

log = logging.getLogger(__name__)

STREAM = "ANSIM_EVENTS"
SUBJECTS = "ansim.events"
# JetStream drops a second publish of the same outbox id within this window (a relay that died after
# publishing but before marking); boards drop anything older by id anyway.
DUPLICATE_WINDOW_S = 600.0
RECONNECT_WAIT_S = 0.5
FIRST_CONNECT_S = 3.0


def subject_for(envelope: EventEnvelope) -> str:
    """One subject per incident (else per unit), so a consumer may filter by incident."""
    if envelope.incident_id:
        return f"{SUBJECTS}.incident.{envelope.incident_id}"
    if envelope.unit_id:
        return f"{SUBJECTS}.unit.{envelope.unit_id}"
    return f"{SUBJECTS}.system"


class JetStreamLink:
    """One connection to NATS that keeps reconnecting; the stream is created by whoever comes first."""

    def __init__(self, url: str, *, stream: str = STREAM) -> None:
        self.url = url
        self.stream = stream
        self._client: Client | None = None
        self._js: JetStreamContext | None = None
        self._lock = asyncio.Lock()

    @property
    def connected(self) -> bool:
        return self._client is not None and self._client.is_connected

    async def jetstream(self) -> JetStreamContext:
        """The JetStream context, connecting first (the first connection may fail; the caller retries)."""
        async with self._lock:
            if self._js is None:
                client = Client()
                try:
                    # nats-py retries a first connection for ever; bound it so stop() is never stuck.
                    await asyncio.wait_for(
                        client.connect(
                            self.url,
                            allow_reconnect=True,
                            max_reconnect_attempts=-1,
                            reconnect_time_wait=RECONNECT_WAIT_S,  # type: ignore[arg-type]  # annotated int, sleeps a float
                            connect_timeout=2,
                            error_cb=_log_error,
                            disconnected_cb=_log_disconnect,
                            reconnected_cb=_log_reconnect,
                        ),
                        timeout=FIRST_CONNECT_S,
                    )
                except BaseException:
                    with contextlib.suppress(Exception):
                        await client.close()
                    raise
                js = client.jetstream(timeout=5)
                try:
                    await _ensure_stream(js, self.stream)
                except Exception:
                    await client.close()
                    raise
                self._client, self._js = client, js
            return self._js

    async def publish(self, envelopes: Iterable[EventEnvelope]) -> None:
        """Publishes in order, each acknowledged by the stream before the next (the outbox id de-duplicates)."""
        js = await self.jetstream()
        for envelope in envelopes:
            await js.publish(
                subject_for(envelope),
                envelope.model_dump_json().encode(),
                stream=self.stream,
                headers={"Nats-Msg-Id": str(envelope.id)},
            )

    async def close(self) -> None:
        async with self._lock:
            if self._client is not None:
                with contextlib.suppress(Exception):
                    await self._client.close()
            self._client, self._js = None, None


class JetStreamFeed:
    """Feeds a worker's in-process bus from the stream, in stream order, skipping what it already fed.

    An ordered consumer starting at new messages: a board catches up from the store (the truth) and
    then lives on this feed; after a NATS outage the consumer resumes after the last sequence it saw.
    """

    def __init__(self, link: JetStreamLink, bus: InProcessBus, *, retry_s: float = 1.0) -> None:
        self._link = link
        self._bus = bus
        self._retry_s = retry_s
        self._stopping = asyncio.Event()
        self.last_id = 0
        self.fed = 0
        self.subscribed = asyncio.Event()

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                js = await self._link.jetstream()
                subscription = await js.subscribe(
                    f"{SUBJECTS}.>",
                    stream=self._link.stream,
                    ordered_consumer=True,
                    deliver_policy=DeliverPolicy.NEW,
                    idle_heartbeat=1.0,
                    cb=self._deliver,
                )
                self.subscribed.set()
                try:
                    await self._stopping.wait()
                finally:
                    with contextlib.suppress(Exception):
                        await subscription.unsubscribe()
            except Exception as error:
                # NATS down at start: keep trying; boards still catch up from the store meanwhile.
                log.warning("event feed cannot subscribe (%s); retrying", type(error).__name__)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), timeout=self._retry_s)

    async def _deliver(self, message: Any) -> None:
        try:
            envelope = EventEnvelope.model_validate_json(message.data)
        except ValueError:
            log.error("dropping a malformed event on %s", message.subject)
            return
        if envelope.id <= self.last_id:
            return  # a re-publish after a relay crash
        self.last_id = envelope.id
        self.fed += 1
        self._bus.publish(envelope)

    def stop(self) -> None:
        self._stopping.set()


async def _ensure_stream(js: JetStreamContext, name: str) -> None:
    try:
        await js.stream_info(name)
    except NotFoundError:
        await js.add_stream(
            StreamConfig(
                name=name,
                subjects=[f"{SUBJECTS}.>"],
                storage=StorageType.FILE,
                duplicate_window=DUPLICATE_WINDOW_S,
                max_age=7 * 24 * 3600.0,
            )
        )


async def _log_error(error: Exception) -> None:
    log.warning("NATS: %s", error)


async def _log_disconnect() -> None:
    log.warning("NATS disconnected; reconnecting")


async def _log_reconnect() -> None:
    log.info("NATS reconnected")
