"""The adapter between the lifecycle model test and the command layer (issue 14).

Every call the model makes into `ansim` goes through `Commands`: when the command layer is renamed
(routes → `do_*` commands taking `Platform`), this file is the one place to change. The views it
returns are what each audience sees (the device, the board, the guardians), not internal objects.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import queue
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from ansim.bus.scheduler import DeadlineScheduler
from ansim.domain.dispatch_policy import DispatchPolicy
from ansim.domain.errors import DomainError
from ansim.domain.fixes import FixMethod, LocationFix
from ansim.domain.incidents import Channel, Incident, IncidentStatus, PriorityCode
from ansim.domain.verification import Answer, AnswerSource
from ansim.services import app_accounts, dispatch, incidents, people, terminals, verification
from ansim.services.app_accounts import PinVerdict
from ansim.services.cancel import do_cancel_with_pin, seen_by_person
from ansim.services.handlers import do_receive_sos
from ansim.services.incident_commands import do_change_incident_status, do_dispatch_unit
from ansim.services.incidents import SosReport
from ansim.services.location_commands import do_add_fixes
from ansim.services.platform import Platform
from ansim.services.ranking import StraightLineRanker
from ansim.services.terminals import do_receive_message
from ansim.services.timers import deadline_handlers
from ansim.services.unit_commands import do_acknowledge_order
from ansim.services.verification_config import VerificationConfig
from ansim.store import outbox
from ansim.store.db import make_session_factory
from ansim.store.tables import assignments, deadlines, deliveries, units
from ansim.store.uow import UnitOfWork

PIN, DURESS_PIN = "2580", "9631"
DISPATCHER = "dispatcher:model"
# Where a person closed the incident; any other status is "open" (issue 14's definition).
CLOSED_STATUSES = frozenset(
    {
        IncidentStatus.CANCELLED,
        IncidentStatus.FALSE_ALARM,
        IncidentStatus.RESOLVED,
        IncidentStatus.CLOSED,
    }
)
LIVE_ORDER_STATES = ("ordered", "acknowledged", "en_route", "on_scene")
# Guardian messages that say "come / answer": after a real cancel only a cancel notice may go.
CALL_TO_ACTION_TEMPLATES = ("verification_link", "terminal_sos", "help_coming")


class InjectedFailure(Exception):
    """The database 'failed' in the middle of a command (raised from the engine's cursor hook)."""


@dataclass(frozen=True)
class DeviceView:
    """All a person's device learns from a cancel: an answer code, its body, the status read after."""

    code: int
    body: str


def device_view_of(run: Callable[[], PinVerdict]) -> DeviceView:
    """What the app route makes of the cancel command's outcome (api/app_account.py + errors)."""
    try:
        verdict = run()
    except DomainError as error:
        from ansim.api.errors import _STATUS

        code = next((status for kind, status in _STATUS if isinstance(error, kind)), 400)
        return DeviceView(code, type(error).__name__)
    if verdict is PinVerdict.WRONG:
        return DeviceView(403, "wrong PIN")
    return DeviceView(200, "cancelled")


class Commands:
    """The command layer as the model drives it, on one fresh database with a controlled clock."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime]) -> None:
        self.engine, self.clock = engine, clock
        self.uow = UnitOfWork(make_session_factory(engine))
        self.ranker = StraightLineRanker()
        self.policy = DispatchPolicy(ack_timeout_s=30.0, code0_extra_units=2)
        self.verify = VerificationConfig(
            answer_timeout=timedelta(seconds=60),
            link_key=b"a model test key long enough!!!!",
            link_ttl=timedelta(hours=6),
            public_url="https://ansim.example",
            retry=verification_retry(),
            terminal_notice_interval=timedelta(minutes=30),
        )
        self.platform = Platform(
            uow=self.uow,
            ranker=self.ranker,
            policy=self.policy,
            verification=self.verify,
            merge_window=timedelta(minutes=30),
            auto_dispatch=True,
            clock=clock,
        )
        self.fired: Counter[str] = Counter()
        handlers = deadline_handlers(self.platform)
        self.scheduler = DeadlineScheduler(
            self.uow, {kind: self._counted(h) for kind, h in handlers.items()}, clock=clock
        )
        self._fail_at: int | None = None
        sa.event.listen(engine, "before_cursor_execute", self._maybe_fail)

    # --- injected failures ---

    def _maybe_fail(self, *_args: Any) -> None:
        if self._fail_at is None:
            return
        self._fail_at -= 1
        if self._fail_at <= 0:
            self._fail_at = None
            raise InjectedFailure("injected database error")

    @contextmanager
    def failing_at_statement(self, n: int) -> Iterator[None]:
        self._fail_at = n
        try:
            yield
        finally:
            self._fail_at = None

    def _counted(self, handler: Any) -> Any:
        def counted(session: Session, deadline: Any, now: datetime) -> None:
            handler(session, deadline, now)
            # Counted once the handler's effect is in the claim transaction; a rollback after
            # this point would be a second firing's business, which the invariant catches.
            session.info.setdefault("fired", []).append(deadline.id)
            self.fired[deadline.id] += 1

        return counted

    # --- the world ---

    def set_pins(self, subscriber_id: str) -> None:
        with self.uow.begin() as session:
            app_accounts.set_pins(
                session,
                subscriber_id=subscriber_id,
                pin=PIN,
                duress_pin=DURESS_PIN,
                at=self.clock(),
            )

    def enrol_terminal(self, subscriber_id: str) -> tuple[str, str]:
        terminal_id = f"UA-M{uuid.uuid4().hex[:10]}"
        with self.uow.begin() as session:
            secret = terminals.enrol(
                session,
                terminal_id=terminal_id,
                subscriber_id=subscriber_id,
                reporting_interval_s=3600,
                actor="admin",
                at=self.clock(),
            )
        return terminal_id, secret

    # --- commands ---

    def sos(
        self, channel: Channel, *, subscriber_id: str, number: str, fix: LocationFix | None
    ) -> str:
        report = SosReport(
            channel=channel,
            received_at=self.clock(),
            source="model",
            subscriber_id=subscriber_id,
            caller_number=number if channel == Channel.ONE_TOUCH else None,
            fix=fix,
            idempotency_scope=f"model:{channel.value}",
            idempotency_key=uuid.uuid4().hex,
        )
        outcome = do_receive_sos(self.platform, report=report)
        return outcome.incident.id

    def terminal_message(self, raw: bytes) -> list[dict[str, Any]]:
        return do_receive_message(self.platform, raw=raw, at=self.clock())

    def app_fix(self, incident_id: str, fix: LocationFix) -> None:
        do_add_fixes(self.platform, incident_id=incident_id, fixes=[fix])

    def cancel(self, incident_id: str, subscriber_id: str, pin: str) -> DeviceView:
        return device_view_of(
            lambda: do_cancel_with_pin(
                self.platform,
                incident_id=incident_id,
                subscriber_id=subscriber_id,
                pin=pin,
                actor="app:model",
                at=self.clock(),
            )
        )

    def person_status(self, incident_id: str) -> str:
        with self.uow.read() as session:
            incident = incidents.get(session, incident_id=incident_id)
            return seen_by_person(incident.status, duress=incident.duress)

    def guardian_answer(self, incident_id: str, answer: Answer) -> None:
        with self.uow.begin() as session:
            incident = incidents.get(session, incident_id=incident_id)
            guardian = people.guardians_of(session, subscriber_id=incident.subscriber_id or "")[0]
            verification.record_answer(
                session,
                incident_id=incident_id,
                recipient_id=guardian.id,
                source=AnswerSource.GUARDIAN_PAGE,
                answer=answer,
                actor=f"guardian:{guardian.id}",
                at=self.clock(),
                platform=self.platform,
            )

    def dispatcher_status(self, incident_id: str, status: IncidentStatus) -> None:
        do_change_incident_status(
            self.platform,
            incident_id=incident_id,
            status=status,
            reason="model dispatcher",
            actor=DISPATCHER,
        )

    def dispatcher_order(self, incident_id: str) -> None:
        """The board's dispatch command with the top recommended unit, as a dispatcher would."""
        with self.uow.read() as session:
            incident = incidents.get(session, incident_id=incident_id)
            ranked = dispatch.rank_units(session, incident=incident, ranker=self.ranker)
        if ranked:
            do_dispatch_unit(
                self.platform, incident_id=incident_id, unit_id=ranked[0].unit.id, actor=DISPATCHER
            )

    def acknowledge(self, assignment_id: str) -> None:
        do_acknowledge_order(self.platform, assignment_id=assignment_id, actor="officer:model")

    def fire_due(self) -> int:
        return self.scheduler.fire_due(self.clock())

    # --- what each audience sees ---

    def incident(self, incident_id: str) -> Any:
        with self.uow.read() as session:
            found = incidents.get(session, incident_id=incident_id)
            session.expunge(found)
            return found

    def all_incidents(self) -> list[Any]:
        with self.uow.read() as session:
            found = list(session.execute(sa.select(Incident)).scalars())
            for incident in found:
                session.expunge(incident)
            return found

    def board_list(self) -> set[str]:
        """Every incident the dispatcher's list shows (the board's query)."""
        with self.uow.read() as session:
            return {i.id for i in incidents.list_recent(session, active_only=True)}

    def orders(self, incident_id: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(assignments).where(assignments.c.incident_id == incident_id)
            ).mappings()
            return [
                {**row, "state": str(getattr(row["state"], "value", row["state"]))} for row in rows
            ]

    def free_units(self) -> int:
        with self.engine.connect() as conn:
            return int(
                conn.execute(
                    sa.select(sa.func.count())
                    .select_from(units)
                    .where(units.c.status == "available")
                ).scalar_one()
            )

    def pending_retry(self, incident_id: str) -> bool:
        """A pending deadline that could still order units for the incident (not the guardians')."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(deadlines.c.kind, deadlines.c.subject_id, deadlines.c.data).where(
                    deadlines.c.fired_at.is_(None), deadlines.c.cancelled_at.is_(None)
                )
            ).all()
        return any(
            kind != verification.ANSWER_DEADLINE
            and (subject == incident_id or incident_id in json.dumps(data))
            for kind, subject, data in rows
        )

    def units_for(self, priority: PriorityCode, channel: Channel) -> int:
        return self.policy.rule_for(channel, priority).units

    def guardian_deliveries(self, incident_id: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(
                    deliveries.c.template,
                    deliveries.c.created_at,
                    deliveries.c.sent_at,
                    deliveries.c.recipient_kind,
                    deliveries.c.status,
                    deliveries.c.last_error,
                ).where(deliveries.c.incident_id == incident_id)
            ).mappings()
            return [dict(row) for row in rows]

    def events_since(self, after_id: int) -> list[Any]:
        with self.uow.read() as session:
            return outbox.since(session, after_id=after_id)


def verification_retry() -> Any:
    from ansim.domain.deliveries import RetryPolicy

    return RetryPolicy(max_attempts=3, base=timedelta(seconds=5), cap=timedelta(minutes=1))


def fix_of(kind: str, *, now: datetime, lat: float, lon: float) -> dict[str, Any]:
    """A terminal wire fix: good, late (5 min old), future (3 min ahead) or impossible."""
    at = {"late": now - timedelta(minutes=5), "future": now + timedelta(minutes=3)}.get(kind, now)
    wire = {"lat": lat, "lon": lon, "accuracy_m": 12.0, "method": "gnss", "at": at.isoformat()}
    if kind == "impossible":
        wire["lat"] = 91.5
    return wire


def location_fix(kind: str, *, now: datetime, lat: float, lon: float) -> LocationFix:
    wire = fix_of(kind, now=now, lat=lat, lon=lon)
    return LocationFix(
        lat=min(wire["lat"], 90.0) if kind != "impossible" else 89.99,
        lon=wire["lon"],
        radius_m=20,
        method=FixMethod.GNSS,
        observed_at=datetime.fromisoformat(wire["at"]),
        source="model",
    )


def signed_terminal_message(
    terminal_id: str, secret: str, seq: int, at: datetime, **fields: Any
) -> bytes:
    document = {
        "v": 1,
        "terminal_id": terminal_id,
        "seq": seq,
        "sent_at": at.isoformat(),
        **fields,
    }
    unsigned = {k: v for k, v in document.items() if v is not None}
    canonical = json.dumps(unsigned, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    document["sig"] = hmac.new(secret.encode(), canonical.encode(), hashlib.sha256).hexdigest()
    return json.dumps(document, ensure_ascii=False).encode()


class MqttLink:
    """The real broker between the model's terminal and the command: one topic prefix per example.

    Looped by hand (no network thread): each call runs the client until its round trip is done.
    """

    def __init__(self, host: str, port: int) -> None:
        import paho.mqtt.client as mqtt

        self.prefix = f"ansim-model/{uuid.uuid4().hex}"
        self.inbox: queue.Queue[bytes] = queue.Queue()
        self.subscribed = False
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=self.prefix)
        self.client.on_message = lambda _c, _u, message: self.inbox.put(bytes(message.payload))
        self.client.on_subscribe = lambda *_args: setattr(self, "subscribed", True)
        self.client.connect(host, port)
        self._subscribe()

    def _run_until(self, done: Callable[[], bool], what: str) -> None:
        for _ in range(100):
            if done():
                return
            self.client.loop(timeout=0.05)
        raise TimeoutError(f"MQTT: no {what} within 5 s")

    def _subscribe(self) -> None:
        self.subscribed = False
        self.client.subscribe(f"{self.prefix}/+/up", qos=1)
        self._run_until(lambda: self.subscribed, "subscription")

    def drop(self) -> None:
        """The broker connection drops (and the device reconnects)."""
        self.client.disconnect()
        self.client.reconnect()
        self._subscribe()

    def carry(self, terminal_id: str, raw: bytes) -> bytes:
        self.client.publish(f"{self.prefix}/{terminal_id}/up", raw, qos=1)
        self._run_until(lambda: not self.inbox.empty(), "message back")
        return self.inbox.get_nowait()

    def close(self) -> None:
        self.client.disconnect()
