"""Model-based test of the incident lifecycle (issue 14): random interleavings, invariants after each step.

A hypothesis `RuleBasedStateMachine` drives the real command layer (through tests/lifecyclemodel.py)
on a fresh database per example (SQLite and PostgreSQL) with a controlled clock: SOS over every
channel (app, carrier one-touch, terminal over HTTP and over MQTT through the real broker on a topic
prefix of its own), repeated SOS, fixes (good, late, future, impossible), real and duress cancels,
guardian answers, dispatcher actions, unit acks and silence, clock advances that fire deadlines, and
injected failures (a database error mid-command, then the device's byte-identical retry; a broker
drop). The invariants are the issue's "Tests that prove it"; each says which promise it keeps.

Bounded for CI (a few examples of ~25 steps per backend); `ANSIM_MODEL_LONG=1` runs many more.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
)
from sqlalchemy.engine import Engine
from tests.conftest import POSTGRES_ADMIN_URL, _database_url, missing_service
from tests.factories import CITY_HALL, T0, build_world
from tests.lifecyclemodel import (
    CALL_TO_ACTION_TEMPLATES,
    CLOSED_STATUSES,
    DURESS_PIN,
    LIVE_ORDER_STATES,
    PIN,
    Commands,
    DeviceView,
    InjectedFailure,
    MqttLink,
    fix_of,
    location_fix,
    signed_terminal_message,
)

from ansim.domain.errors import DomainError
from ansim.domain.incidents import Channel, IncidentStatus, PriorityCode
from ansim.domain.verification import Answer
from ansim.store.db import make_engine

LONG = os.environ.get("ANSIM_MODEL_LONG") == "1"
EXAMPLES = int(os.environ.get("ANSIM_MODEL_EXAMPLES", 200 if LONG else 6))
STEPS = 60 if LONG else 25
MQTT_HOST, MQTT_PORT = os.environ.get("ANSIM_TEST_MQTT_HOST", "127.0.0.1"), 1883
FIX_KINDS = st.sampled_from(["good", "late", "future", "impossible"])
S = IncidentStatus


# Diagnosis only: ANSIM_MODEL_SKIP=name,name leaves out invariants, to see past a known bug.
SKIPPED = frozenset(filter(None, os.environ.get("ANSIM_MODEL_SKIP", "").split(",")))


def skippable(check: Callable[[Any], None]) -> Callable[[Any], None]:
    @functools.wraps(check)
    def checked(self: Any) -> None:
        if check.__name__ not in SKIPPED:
            check(self)

    return checked


def promise(name: str, kept: bool, message: str) -> None:
    """A promise a rule checks on the spot (named, so ANSIM_MODEL_SKIP can see past it)."""
    if name not in SKIPPED:
        assert kept, f"[{name}] {message}"


class LifecycleModel(RuleBasedStateMachine):
    """One person with the 112 app, a one-touch number and a U-안심 terminal; three patrol cars."""

    # Set by the test function: a fresh database URL per example and how to drop it.
    fresh_database: ClassVar[Callable[[], tuple[str, Callable[[], None]]]]
    mqtt_available: ClassVar[bool] = False

    def __init__(self) -> None:
        super().__init__()
        self.now = T0
        url, self._drop = self.fresh_database()
        self.engine: Engine = make_engine(url)
        world = build_world(self.engine, at=T0)
        self.person, self.number = world.subscriber_id, world.one_touch_number
        self.unit_ids = list(world.unit_ids.values())
        self.commands = Commands(self.engine, lambda: self.now)
        self.commands.set_pins(self.person)
        self.terminal_id, self.secret = self.commands.enrol_terminal(self.person)
        self.seq = 0
        self.mqtt = MqttLink(MQTT_HOST, MQTT_PORT) if self.mqtt_available else None
        # What the model knows: presses and the incidents they landed in, cancels, person actions.
        self.presses: list[str] = []
        self.cancelled_at: dict[str, tuple[datetime, int, set[str]]] = {}
        self.person_touched: set[str] = set()
        self.last_event_id = 0
        # What the device saw from each PIN in each state (they must never differ).
        self.device_views: dict[tuple[str, bool], dict[str, DeviceView]] = {}
        self.seen_events: set[int] = set()

    def teardown(self) -> None:
        if self.mqtt is not None:
            self.mqtt.close()
        self.engine.dispose()
        self._drop()

    # --- helpers ---

    def _terminal_raw(self, kind: str, **fields: Any) -> bytes:
        self.seq += 1
        return signed_terminal_message(
            self.terminal_id, self.secret, self.seq, self.now, type=kind, **fields
        )

    def _open_incidents(self) -> list[Any]:
        return [i for i in self.commands.all_incidents() if i.status not in CLOSED_STATUSES]

    def _latest(self) -> Any | None:
        found = self.commands.all_incidents()
        return max(found, key=lambda i: i.received_at) if found else None

    def _pressed(self, incident_id: str) -> None:
        """An accepted press must land in an open incident (a new one after a cancel or close)."""
        self.presses.append(incident_id)
        incident = self.commands.incident(incident_id)
        promise(
            "sos_lands_in_an_open_incident",
            incident.status not in CLOSED_STATUSES,
            f"an SOS was folded into a {incident.status} incident {incident_id}",
        )

    def _terminal(self, raw: bytes, what: str) -> dict[str, Any] | None:
        """Sends a terminal message; its ack, or None (and a broken promise) if it raised."""
        try:
            replies = self.commands.terminal_message(raw)
        except DomainError as error:
            promise(what, False, f"{what}: the terminal message raised {error!r}")
            return None
        return next(r for r in replies if r["type"] == "ack")

    # --- SOS over each channel ---

    @rule(channel=st.sampled_from([Channel.APP, Channel.ONE_TOUCH]), fix=FIX_KINDS | st.none())
    def sos(self, channel: Channel, fix: str | None) -> None:
        located = (
            None
            if fix is None
            else location_fix(fix, now=self.now, lat=CITY_HALL[0], lon=CITY_HALL[1])
        )
        try:
            incident_id = self.commands.sos(
                channel, subscriber_id=self.person, number=self.number, fix=located
            )
        except DomainError as error:
            promise("sos_never_refused", False, f"an SOS ({fix} fix) was refused: {error!r}")
            return
        self._pressed(incident_id)

    @rule(fix=FIX_KINDS, over_mqtt=st.booleans())
    def terminal_sos(self, fix: str, over_mqtt: bool) -> None:
        wire = fix_of(fix, now=self.now, lat=CITY_HALL[0], lon=CITY_HALL[1])
        raw = self._terminal_raw("sos", fix=wire)
        if over_mqtt and self.mqtt is not None:
            raw = self.mqtt.carry(self.terminal_id, raw)
        ack = self._terminal(raw, "sos_never_refused")
        if ack is None:
            return
        # Over MQTT after a broker drop, QoS 1 may hand the bridge an earlier press again (at
        # least once): "duplicate" with its incident says the platform already holds that press.
        redelivered = over_mqtt and ack["status"] == "duplicate" and bool(ack.get("incident_id"))
        promise(
            "sos_never_refused",
            ack["status"] == "accepted" or redelivered,
            f"a terminal SOS ({fix} fix) was answered {ack['status']}: {ack}",
        )
        if ack.get("incident_id"):
            self._pressed(ack["incident_id"])

    @precondition(lambda self: self.mqtt is not None)
    @rule()
    def broker_drop(self) -> None:
        assert self.mqtt is not None
        self.mqtt.drop()

    # --- fixes ---

    @precondition(lambda self: self.presses)
    @rule(fix=FIX_KINDS, by_terminal=st.booleans())
    def fix(self, fix: str, by_terminal: bool) -> None:
        if by_terminal:
            wire = fix_of(fix, now=self.now, lat=CITY_HALL[0] + 0.001, lon=CITY_HALL[1])
            try:
                self.commands.terminal_message(self._terminal_raw("location", fix=wire))
            except DomainError as error:
                promise("usable_fix_kept", fix == "impossible", f"a {fix} fix: {error!r}")
            return
        latest = self._latest()
        if latest is None or latest.status in CLOSED_STATUSES:
            return
        located = location_fix(fix, now=self.now, lat=CITY_HALL[0] + 0.001, lon=CITY_HALL[1])
        try:
            self.commands.app_fix(latest.id, located)
        except DomainError as error:
            promise("usable_fix_kept", fix == "impossible", f"a {fix} app fix: {error!r}")

    # --- cancels ---

    @precondition(lambda self: self.presses)
    @rule(duress=st.booleans(), which=st.integers(0, 10))
    def cancel(self, duress: bool, which: int) -> None:
        incident_id = self.presses[-1 - which % len(self.presses)]
        before = self.commands.incident(incident_id)
        orders_before = {o["id"] for o in self.commands.orders(incident_id)}
        view = self.commands.cancel(incident_id, self.person, DURESS_PIN if duress else PIN)
        status_read = self.commands.person_status(incident_id)
        key = (before.status.value, before.duress)
        seen = self.device_views.setdefault(key, {})
        seen["duress" if duress else "real"] = DeviceView(view.code, f"{view.body}/{status_read}")
        if len(seen) == 2:
            promise(
                "pins_look_the_same",
                seen["real"] == seen["duress"],
                f"the device can tell the PINs apart on a {key[0]} incident: {seen}",
            )
        after = self.commands.incident(incident_id)
        if duress:
            promise("duress_marks_the_incident", after.duress, "a duress PIN left no mark")
        elif after.status == S.CANCELLED and before.status != S.CANCELLED:
            self.cancelled_at[incident_id] = (self.now, after.priority.value, orders_before)

    @precondition(lambda self: self.presses)
    @rule(n=st.integers(1, 12), duress=st.booleans())
    def terminal_cancel_with_db_failure_then_retry(self, n: int, duress: bool) -> None:
        """The database fails mid-cancel; the device retries byte-identical: it must take effect."""
        incident_id = self.presses[-1]
        before = self.commands.incident(incident_id)
        orders_before = {o["id"] for o in self.commands.orders(incident_id)}
        raw = self._terminal_raw("cancel", pin=DURESS_PIN if duress else PIN)
        what = f"terminal_cancel_answers ({before.status} incident)"
        with self.commands.failing_at_statement(n):
            try:
                first = self.commands.terminal_message(raw)
            except (InjectedFailure, sa.exc.StatementError):
                first = None
            except DomainError as error:
                promise("terminal_cancel_answers", False, f"{what}: {error!r}")
                return
        if first is not None:
            return  # the failure point was after the command's last statement
        ack = self._terminal(raw, "terminal_cancel_answers")
        if ack is None:
            return
        promise(
            "failed_cancel_retry_applies",
            ack["status"] != "duplicate",
            "a cancel that failed was answered duplicate on its retry (and never applied)",
        )
        after = self.commands.incident(incident_id)
        if duress:
            promise("duress_marks_the_incident", after.duress, "the retried duress was lost")
        elif after.status == S.CANCELLED and before.status != S.CANCELLED:
            self.cancelled_at[incident_id] = (self.now, after.priority.value, orders_before)

    @rule(n=st.integers(1, 20), fix=FIX_KINDS)
    def terminal_sos_with_db_failure_then_retry(self, n: int, fix: str) -> None:
        """The database fails mid-SOS; the retry (after a heartbeat went through) must be taken."""
        wire = fix_of(fix, now=self.now, lat=CITY_HALL[0], lon=CITY_HALL[1])
        raw = self._terminal_raw("sos", fix=wire)
        with self.commands.failing_at_statement(n):
            try:
                ack = self._terminal(raw, "sos_never_refused")
            except (InjectedFailure, sa.exc.StatementError):
                ack = None
            else:
                if ack is None:
                    return
        if ack is None:
            self._terminal(self._terminal_raw("heartbeat", battery_pct=80), "heartbeat_taken")
            ack = self._terminal(raw, "sos_retry_kept")
            if ack is None:
                return
        promise(
            "sos_retry_kept",
            ack["status"] in ("accepted", "duplicate") and bool(ack.get("incident_id")),
            f"the SOS retry was answered {ack}",
        )
        if ack.get("incident_id"):
            self._pressed(ack["incident_id"])

    # --- guardians, dispatcher, units ---

    @precondition(lambda self: self.presses)
    @rule(answer=st.sampled_from([Answer.SAFE, Answer.DANGER]))
    def guardian_answers(self, answer: Answer) -> None:
        # Refused when no verification runs, or it was decided already.
        with contextlib.suppress(DomainError):
            self.commands.guardian_answer(self.presses[-1], answer)

    @precondition(lambda self: self.presses)
    @rule(
        status=st.sampled_from([S.ON_SCENE, S.FALSE_ALARM, S.RESOLVED, S.CLOSED, S.CONFIRMED]),
        which=st.integers(0, 10),
    )
    def dispatcher_changes_status(self, status: IncidentStatus, which: int) -> None:
        incident_id = self.presses[-1 - which % len(self.presses)]
        try:
            self.commands.dispatcher_status(incident_id, status)
        except DomainError:
            return
        self.person_touched.add(incident_id)

    @precondition(lambda self: self.presses)
    @rule(which=st.integers(0, 10))
    def dispatcher_orders(self, which: int) -> None:
        incident_id = self.presses[-1 - which % len(self.presses)]
        try:
            self.commands.dispatcher_order(incident_id)
        except DomainError:
            return
        self.person_touched.add(incident_id)

    @precondition(lambda self: self.presses)
    @rule(which=st.integers(0, 10))
    def unit_acknowledges(self, which: int) -> None:
        ordered = [
            o
            for incident_id in set(self.presses)
            for o in self.commands.orders(incident_id)
            if o["state"] == "ordered"
        ]
        if ordered:
            with contextlib.suppress(DomainError):
                self.commands.acknowledge(ordered[which % len(ordered)]["id"])

    @rule(seconds=st.sampled_from([1, 5, 31, 61, 125, 600]))
    def time_passes(self, seconds: int) -> None:
        """Silence: the clock moves on and every due deadline fires."""
        self.now += timedelta(seconds=seconds)
        self.commands.fire_due()

    # --- invariants ---

    @invariant()
    @skippable
    def every_press_belongs_to_an_incident(self) -> None:
        known = {i.id for i in self.commands.all_incidents()}
        lost = [p for p in self.presses if p not in known]
        assert not lost, f"presses with no incident: {lost}"

    @invariant()
    @skippable
    def open_incidents_have_help_or_a_pending_retry(self) -> None:
        free = self.commands.free_units()
        for incident in self._open_incidents():
            if incident.lat is None:
                continue  # "no location yet": on the board, dispatched when a fix arrives
            live = [o for o in self.commands.orders(incident.id) if o["state"] in LIVE_ORDER_STATES]
            wanted = self.commands.units_for(incident.priority, incident.channel)
            if len(live) >= min(wanted, 1) or free == 0:
                continue
            assert self.commands.pending_retry(incident.id), (
                f"open {incident.status} incident {incident.id} has no unit while {free} are "
                "free, and no retry is pending"
            )

    @invariant()
    @skippable
    def code0_has_its_units_or_a_pending_retry(self) -> None:
        free = self.commands.free_units()
        for incident in self._open_incidents():
            if incident.priority != PriorityCode.CODE_0 or incident.lat is None:
                continue
            live = [o for o in self.commands.orders(incident.id) if o["state"] in LIVE_ORDER_STATES]
            wanted = self.commands.units_for(incident.priority, incident.channel)
            if len(live) >= wanted or free == 0:
                continue
            assert self.commands.pending_retry(incident.id), (
                f"code 0 incident {incident.id} has {len(live)} of {wanted} units, {free} free, "
                "and no retry pending"
            )

    @invariant()
    @skippable
    def nothing_happens_by_itself_after_a_real_cancel(self) -> None:
        for incident_id, (at, priority, orders_before) in self.cancelled_at.items():
            if incident_id in self.person_touched:
                continue
            incident = self.commands.incident(incident_id)
            if incident.duress:
                continue  # a later duress PIN turns it into danger, by the person's own hand
            assert incident.status == S.CANCELLED, (
                f"cancelled incident {incident_id} became {incident.status} by itself"
            )
            assert incident.priority.value == priority, (
                f"cancelled incident {incident_id} escalated to code {incident.priority.value}"
            )
            orders = self.commands.orders(incident_id)
            new = [o for o in orders if o["id"] not in orders_before and o["ordered_at"] >= at]
            assert not new, f"a unit was ordered to cancelled incident {incident_id}: {new}"
            waiting = [o for o in orders if o["state"] == "ordered"]
            assert not waiting, f"unacknowledged orders not withdrawn after cancel: {waiting}"
            for message in self.commands.guardian_deliveries(incident_id):
                if message["template"] not in CALL_TO_ACTION_TEMPLATES:
                    continue
                if str(message["last_error"] or "").startswith("withdrawn"):
                    continue  # queued before the cancel and withdrawn by it: it never leaves
                assert message["created_at"] < at, f"guardians asked to act after cancel: {message}"
                sent = message["sent_at"]
                assert sent is None or sent <= at, f"a call to action left after cancel: {message}"

    @invariant()
    @skippable
    def every_open_incident_is_on_the_board(self) -> None:
        shown = self.commands.board_list()
        hidden = [i.id for i in self._open_incidents() if i.id not in shown]
        assert not hidden, f"open incidents missing from the dispatcher's list: {hidden}"

    @invariant()
    @skippable
    def duress_is_code0(self) -> None:
        for incident in self.commands.all_incidents():
            if incident.duress and incident.status not in CLOSED_STATUSES - {S.CANCELLED}:
                assert incident.priority == PriorityCode.CODE_0, (
                    f"duress incident {incident.id} is code {incident.priority.value}"
                )

    @invariant()
    @skippable
    def no_deadline_fires_twice(self) -> None:
        twice = {d: n for d, n in self.commands.fired.items() if n > 1}
        assert not twice, f"deadlines fired more than once: {twice}"

    @invariant()
    @skippable
    def the_outbox_gives_each_event_once_in_order(self) -> None:
        fresh = self.commands.events_since(self.last_event_id)
        ids = [e.id for e in fresh]
        assert ids == sorted(ids), f"events out of order: {ids}"
        again = self.seen_events.intersection(ids)
        assert not again, f"events delivered twice: {again}"
        self.seen_events.update(ids)
        if ids:
            self.last_event_id = ids[-1]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def fresh_databases(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[[], tuple[str, Callable[[], None]]]]:
    """A factory of fresh migrated databases, one per hypothesis example."""
    if request.param == "sqlite":
        template = request.getfixturevalue("sqlite_template")

        def sqlite() -> tuple[str, Callable[[], None]]:
            path = tmp_path / f"model-{uuid.uuid4().hex[:8]}.db"
            shutil.copy(template, path)
            return f"sqlite:///{path}", lambda: path.unlink(missing_ok=True)

        yield sqlite
        return
    template = request.getfixturevalue("postgres_template")
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")

    def postgres() -> tuple[str, Callable[[], None]]:
        name = f"ansim_m_{uuid.uuid4().hex[:12]}"
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))

        def drop() -> None:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

        return _database_url(name), drop

    yield postgres
    admin.dispose()


def _broker_answers() -> bool:
    import socket

    try:
        with socket.create_connection((MQTT_HOST, MQTT_PORT), timeout=1):
            return True
    except OSError:
        return False


def test_lifecycle_model(fresh_databases: Callable[[], tuple[str, Callable[[], None]]]) -> None:
    if not _broker_answers():
        missing_service(f"Mosquitto is not answering at {MQTT_HOST}:{MQTT_PORT}")
    LifecycleModel.fresh_database = staticmethod(fresh_databases)  # type: ignore[assignment]
    LifecycleModel.mqtt_available = True
    run = LifecycleModel.TestCase
    run.settings = settings(
        max_examples=EXAMPLES,
        stateful_step_count=STEPS,
        deadline=None,
        derandomize=not LONG,
        # Shrinking a failure on a real database takes minutes: only in the long mode, or asked for.
        phases=[Phase.explicit, Phase.reuse, Phase.generate]
        + ([Phase.shrink] if LONG or os.environ.get("ANSIM_MODEL_SHRINK") == "1" else []),
        report_multiple_bugs=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    run().runTest()


def test_the_model_reaches_every_channel_and_fault() -> None:
    """The rules the issue lists are all in the model (a renamed or dropped rule fails here)."""
    names = {n for n, f in vars(LifecycleModel).items() if hasattr(f, "hypothesis_stateful_rule")}
    assert {
        "sos",
        "terminal_sos",
        "broker_drop",
        "fix",
        "cancel",
        "terminal_cancel_with_db_failure_then_retry",
        "terminal_sos_with_db_failure_then_retry",
        "guardian_answers",
        "dispatcher_changes_status",
        "dispatcher_orders",
        "unit_acknowledges",
        "time_passes",
    } <= names
