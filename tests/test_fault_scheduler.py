"""Kill -9 a scheduler with deadlines pending: another fires each exactly once, a few seconds late at most."""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from tests.faultkit import Scene, scene_fixture  # noqa: F401

from ansim.bus.probe import PROBE, schedule_probe
from ansim.store.db import make_session_factory
from ansim.store.tables import deadlines, outbox
from ansim.store.uow import UnitOfWork

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
PROBES = 40


def test_deadlines_of_a_killed_scheduler_fire_once_from_the_other(scene: Scene) -> None:
    first = scene.serve("scheduler")
    second = scene.serve("scheduler")
    first.wait_healthy()
    second.wait_healthy()
    engine = scene.engine()
    uow = UnitOfWork(make_session_factory(engine))
    now = datetime.now(UTC)
    with uow.begin() as session:
        for index in range(PROBES):
            schedule_probe(
                session,
                label=f"probe-{index}",
                due_at=now + timedelta(seconds=1 + 5 * index / PROBES),
                at=now,
            )
    time.sleep(2.0)
    first.kill9()
    killed_at = datetime.now(UTC)

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            pending = conn.execute(
                sa.select(sa.func.count())
                .select_from(deadlines)
                .where(deadlines.c.kind == PROBE, deadlines.c.fired_at.is_(None))
            ).scalar_one()
        if pending == 0:
            break
        time.sleep(0.2)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(deadlines.c.id, deadlines.c.due_at, deadlines.c.fired_at).where(
                deadlines.c.kind == PROBE
            )
        ).all()
        fired_events = Counter(
            data["deadline_id"]
            for data in conn.execute(
                sa.select(outbox.c.data).where(outbox.c.type == "ops.probe_fired")
            ).scalars()
        )
    engine.dispose()
    late = [(row.fired_at - row.due_at).total_seconds() for row in rows if row.fired_at]
    after_kill = [
        (row.fired_at - row.due_at).total_seconds()
        for row in rows
        if row.fired_at and row.due_at >= killed_at - timedelta(seconds=1)
    ]
    print(
        f"\n[scheduler kill -9] deadlines={len(rows)} fired={len(late)} "
        f"fired_more_than_once={sum(1 for n in fired_events.values() if n > 1)} "
        f"never_fired={len(rows) - len(late)} max_late_s={max(late):.2f} "
        f"max_late_after_kill_s={max(after_kill, default=0):.2f}"
    )
    assert len(rows) == PROBES
    assert len(late) == PROBES, "every deadline fired"
    assert set(fired_events) == {row.id for row in rows}
    assert all(count == 1 for count in fired_events.values()), "each fired exactly once"
    assert max(late) < 5.0
