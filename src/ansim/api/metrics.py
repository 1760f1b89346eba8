"""Prometheus metrics: intake rate and latency per channel, and gauges read from the store at scrape time."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ansim.bus.runtime import Background
from ansim.domain.deliveries import DeliveryStatus
from ansim.domain.incidents import OPEN_STATUSES
from ansim.intake.mqtt import BridgeHealth
from ansim.security.login import SPRAYING_SUSPECTED
from ansim.store import outbox
from ansim.store.tables import assignments, audit_log, deadlines, deliveries, incidents
from ansim.store.uow import UnitOfWork

log = logging.getLogger(__name__)

# A deadline counts as overdue once it is this late: the scheduler polls, so a second late is normal.
OVERDUE_GRACE = timedelta(seconds=5)
# Intake endpoints by path prefix; a new channel adds a line here.
INTAKE_CHANNELS = (
    ("/api/v1/app/sos", "app"),
    ("/api/v1/carrier", "one_touch"),
    ("/api/v1/terminal", "terminal"),
)


class Metrics:
    """One registry per app (tests build many apps in one process)."""

    def __init__(
        self,
        uow: UnitOfWork,
        background: Background,
        clock: Callable[[], datetime],
        *,
        order_within: timedelta,
    ) -> None:
        self.registry = CollectorRegistry()
        self.intake = Counter(
            "ansim_intake_requests",
            "SOS intake requests by channel and HTTP status class",
            ["channel", "status"],
            registry=self.registry,
        )
        self.intake_seconds = Histogram(
            "ansim_intake_seconds",
            "Time from request to acknowledgement (or refusal) of an SOS",
            ["channel"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
            registry=self.registry,
        )
        self.registry.register(_StoreCollector(uow, background, clock, order_within))

    def watch_bridge(self, name: str, health: BridgeHealth) -> None:
        """Exposes a broker bridge's message outcomes and restarts (read at scrape time)."""
        self.registry.register(_BridgeCollector(name, health))


class _BridgeCollector(Collector):
    def __init__(self, name: str, health: BridgeHealth) -> None:
        self._name, self._health = name, health

    def collect(self) -> Iterator[Metric]:
        messages = CounterMetricFamily(
            "ansim_bridge_messages",
            "Messages a broker bridge took, by outcome (failed: raised, logged, bridge went on)",
            labels=["bridge", "outcome"],
        )
        for outcome in ("handled", "failed", "ignored"):
            messages.add_metric([self._name, outcome], self._health.messages.get(outcome, 0))
        yield messages
        restarts = CounterMetricFamily(
            "ansim_bridge_restarts",
            "Times a broker bridge died of an unforeseen error and was restarted",
            labels=["bridge"],
        )
        restarts.add_metric([self._name], self._health.restarts)
        yield restarts
        up = GaugeMetricFamily(
            "ansim_bridge_up", "1 while the bridge is subscribed to its broker", labels=["bridge"]
        )
        up.add_metric([self._name], 1 if self._health.subscribed else 0)
        yield up


class IntakeTiming:
    """Counts and times intake requests by channel.

    Plain ASGI: Starlette's BaseHTTPMiddleware (`app.middleware("http")`) cost about a millisecond
    of CPU a request, more than a heartbeat's own work on the framework side.
    """

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self._app, self._metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        channel = _intake_channel(scope)
        if channel is None:
            await self._app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        await self._app(scope, receive, send_noting_status)
        self._metrics.intake_seconds.labels(channel).observe(time.perf_counter() - started)
        self._metrics.intake.labels(channel, f"{status // 100}xx").inc()


def _intake_channel(scope: Scope) -> str | None:
    if scope["type"] != "http" or scope["method"] != "POST":
        return None
    path: str = scope["path"]
    return next((channel for prefix, channel in INTAKE_CHANNELS if path.startswith(prefix)), None)


@dataclass(frozen=True)
class _StoreFigures:
    open_incidents: int
    unordered_past_policy: int
    overdue_deadlines: int
    outbox_backlog: int
    spraying: int
    deliveries: dict[str, int]


class _StoreCollector(Collector):
    """Reads the gauges when scraped; a database that does not answer shows as ansim_store_up 0."""

    def __init__(
        self,
        uow: UnitOfWork,
        background: Background,
        clock: Callable[[], datetime],
        order_within: timedelta,
    ) -> None:
        self._uow = uow
        self._background = background
        self._clock = clock
        self._order_within = order_within

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("ansim_store_up", "1 when the database answered this scrape")
        try:
            figures = self._read()
        except sa.exc.SQLAlchemyError as error:
            log.warning("metrics: database unavailable (%s)", type(error).__name__)
            up.add_metric([], 0)
            yield up
        else:
            up.add_metric([], 1)
            yield up
            yield GaugeMetricFamily(
                "ansim_open_incidents",
                "Incidents not yet resolved or closed",
                value=figures.open_incidents,
            )
            yield GaugeMetricFamily(
                "ansim_open_incidents_unordered",
                "Open incidents with no unit ever ordered, received longer ago than the policy's"
                f" order-within time ({self._order_within.total_seconds():g} s)",
                value=figures.unordered_past_policy,
            )
            yield GaugeMetricFamily(
                "ansim_deadlines_overdue",
                f"Pending deadlines more than {OVERDUE_GRACE.seconds} s past due (scheduler behind or down)",
                value=figures.overdue_deadlines,
            )
            yield GaugeMetricFamily(
                "ansim_outbox_backlog",
                "Committed events not yet published",
                value=figures.outbox_backlog,
            )
            yield CounterMetricFamily(
                "ansim_login_spraying_suspected",
                "Addresses locked by failed logins spread over many names (audit entries)",
                value=figures.spraying,
            )
            by_status = GaugeMetricFamily(
                "ansim_deliveries",
                "Outbound messages (guardian, school guard, sign-up codes) by delivery status;"
                " dead = out of attempts or refused for good",
                labels=["status"],
            )
            for status in DeliveryStatus:
                by_status.add_metric([status.value], figures.deliveries.get(status.value, 0))
            yield by_status
        yield from self._process_metrics()

    def _read(self) -> _StoreFigures:
        now = self._clock()
        with self._uow.read() as session:
            count = sa.select(sa.func.count())
            open_incidents = incidents.c.status.in_(sorted(OPEN_STATUSES))
            ever_ordered = (
                sa.select(assignments.c.id)
                .where(assignments.c.incident_id == incidents.c.id)
                .exists()
            )
            deliveries_by_status = session.execute(
                sa.select(deliveries.c.status, sa.func.count()).group_by(deliveries.c.status)
            ).all()
            return _StoreFigures(
                open_incidents=session.execute(
                    count.select_from(incidents).where(open_incidents)
                ).scalar_one(),
                unordered_past_policy=session.execute(
                    count.select_from(incidents).where(
                        open_incidents,
                        incidents.c.received_at < now - self._order_within,
                        ~ever_ordered,
                    )
                ).scalar_one(),
                overdue_deadlines=session.execute(
                    count.select_from(deadlines).where(
                        deadlines.c.due_at < now - OVERDUE_GRACE,
                        deadlines.c.fired_at.is_(None),
                        deadlines.c.cancelled_at.is_(None),
                    )
                ).scalar_one(),
                outbox_backlog=outbox.backlog(session),
                spraying=session.execute(
                    count.select_from(audit_log).where(audit_log.c.action == SPRAYING_SUSPECTED)
                ).scalar_one(),
                deliveries={str(status): int(n) for status, n in deliveries_by_status},
            )

    def _process_metrics(self) -> Iterator[Metric]:
        background = self._background
        published = CounterMetricFamily(
            "ansim_events_published", "Events this process's relay published"
        )
        published.add_metric([], background.relay.published)
        yield published
        relay_failures = CounterMetricFamily(
            "ansim_relay_failures", "Relay passes that failed (database or broker away)"
        )
        relay_failures.add_metric([], background.relay.failures)
        yield relay_failures
        fed = background.feed or background.tail
        received = CounterMetricFamily(
            "ansim_events_received", "Events this worker fed to its boards from other processes"
        )
        received.add_metric([], fed.fed if fed is not None else 0)
        yield received
        if background.link is not None:
            yield GaugeMetricFamily(
                "ansim_broker_connected",
                "1 while connected to NATS",
                value=1 if background.link.connected else 0,
            )
