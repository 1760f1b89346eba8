"""Heartbeats in batches: one transaction for many terminals, bad messages refused on their own."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from tests.factories import T0, build_world
from tests.intakekit import Clock, clocked_app, enrol_terminal, terminal_message
from tests.verifykit import platform_of, uow_of

from ansim.api.heartbeat_batch import batcher_for
from ansim.domain.errors import InvalidInput, NotFound
from ansim.domain.terminals import StaleSequence
from ansim.intake import terminal_protocol as protocol
from ansim.intake.terminal_protocol import BadSignature
from ansim.services.heartbeats import do_record_heartbeats
from ansim.store.tables import deadlines, outbox, terminals


def test_a_batch_commits_the_good_heartbeats_and_refuses_each_bad_one(
    engine: Engine, database_url: str
) -> None:
    world = build_world(engine)
    clock = Clock(T0)
    with clocked_app(engine, database_url, clock) as client:
        secrets = {
            tid: enrol_terminal(client, world.subscriber_id, tid)
            for tid in ("UA-1", "UA-2", "UA-3")
        }
    platform = platform_of(uow_of(engine))
    at = T0 + timedelta(seconds=30)
    first = terminal_message("UA-1", secrets["UA-1"], 1, "heartbeat", at, battery_pct=88)
    batch = [
        first,
        terminal_message(
            "UA-2", secrets["UA-2"], 1, "heartbeat", at, battery_pct=12, signal_dbm=-90
        ),
        terminal_message("UA-3", "forged", 1, "heartbeat", at),
        b"{not json",
        terminal_message("UA-9", "whatever", 1, "heartbeat", at),
        terminal_message("UA-1", secrets["UA-1"], 2, "location", at, fixes=[]),
    ]
    outcomes = do_record_heartbeats(platform, batch=batch, at=at)
    assert [o.refused is None for o in outcomes] == [True, True, False, False, False, False]
    assert isinstance(outcomes[2].refused, BadSignature)
    assert isinstance(outcomes[3].refused, InvalidInput)
    assert isinstance(outcomes[4].refused, NotFound)
    assert isinstance(outcomes[5].refused, InvalidInput)
    ack = outcomes[0].replies[0]
    protocol.verify(ack, secret=secrets["UA-1"])
    assert (ack["seq"], ack["status"]) == (1, "accepted")
    with engine.connect() as connection:
        stored = {
            row.id: row
            for row in connection.execute(
                sa.select(
                    terminals.c.id,
                    terminals.c.last_seq,
                    terminals.c.battery_pct,
                    terminals.c.last_seen_at,
                )
            )
        }
        due = dict(
            connection.execute(
                sa.select(deadlines.c.subject_id, deadlines.c.due_at).where(
                    deadlines.c.kind == "terminal.heartbeat",
                    deadlines.c.fired_at.is_(None),
                    deadlines.c.cancelled_at.is_(None),
                )
            ).all()
        )
    assert (stored["UA-1"].last_seq, stored["UA-1"].battery_pct) == (1, 88)
    assert (stored["UA-2"].last_seq, stored["UA-2"].battery_pct) == (1, 12)
    assert stored["UA-3"].last_seq == 0, "a forged message changes nothing"
    assert stored["UA-1"].last_seen_at == at
    assert due["UA-1"] > at, "supervision moved for the heard ones"
    assert due["UA-3"] < due["UA-1"], "and not for the forged one"

    again = do_record_heartbeats(platform, batch=[first, first], at=at)
    assert [o.replies[0]["status"] for o in again] == ["duplicate", "duplicate"]
    stale = terminal_message("UA-2", secrets["UA-2"], 1, "heartbeat", at, battery_pct=50)
    (refused,) = do_record_heartbeats(platform, batch=[stale], at=at)
    assert isinstance(refused.refused, StaleSequence)


def test_a_lost_terminal_heard_in_a_batch_recovers_and_a_low_battery_is_flagged(
    engine: Engine, database_url: str
) -> None:
    world = build_world(engine)
    with clocked_app(engine, database_url, Clock(T0)) as client:
        secret = enrol_terminal(client, world.subscriber_id, "UA-1")
    with engine.begin() as connection:
        connection.execute(terminals.update().where(terminals.c.id == "UA-1").values(lost=True))
    at = T0 + timedelta(minutes=5)
    beat = terminal_message("UA-1", secret, 1, "heartbeat", at, battery_pct=12, signal_dbm=-95)
    (outcome,) = do_record_heartbeats(platform_of(uow_of(engine)), batch=[beat], at=at)
    assert outcome.refused is None
    with engine.connect() as connection:
        row = connection.execute(sa.select(terminals).where(terminals.c.id == "UA-1")).one()
        events = connection.execute(
            sa.select(outbox.c.type, outbox.c.data).where(outbox.c.type.like("terminal.%"))
        ).all()
    assert (row.lost, row.low_battery, row.battery_pct, row.signal_dbm) == (False, True, 12, -95)
    # Announced as the heartbeat left the terminal: both events carry the battery it reported.
    assert [(kind, data["battery_pct"]) for kind, data in events] == [
        ("terminal.recovered", 12),
        ("terminal.low_battery", 12),
    ]


def test_concurrent_heartbeats_over_http_commit_in_few_transactions(
    engine: Engine, database_url: str
) -> None:
    world = build_world(engine)
    clock = Clock(T0)
    count = 40
    with clocked_app(engine, database_url, clock) as client:
        secrets = {
            f"UA-{n:03d}": enrol_terminal(client, world.subscriber_id, f"UA-{n:03d}")
            for n in range(count)
        }
        app = client.app

        async def burst() -> list[httpx.Response]:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://ansim") as http:
                return await asyncio.gather(
                    *(
                        http.post(
                            "/api/v1/terminals/messages",
                            content=terminal_message(
                                tid, secret, 1, "heartbeat", T0, battery_pct=70
                            ),
                        )
                        for tid, secret in secrets.items()
                    )
                )

        answers = client.portal.call(burst)  # type: ignore[union-attr]
        assert [a.status_code for a in answers] == [200] * count
        assert all(a.json()["replies"][0]["status"] == "accepted" for a in answers)
        batches = batcher_for(app.state.context.platform).batches  # type: ignore[attr-defined]
        assert 1 <= batches < count, f"{count} heartbeats in {batches} transactions"
    with engine.connect() as connection:
        heard = connection.execute(
            sa.select(sa.func.count()).select_from(terminals).where(terminals.c.last_seq == 1)
        ).scalar_one()
    assert heard == count, "every acknowledged heartbeat is stored"


def test_a_heartbeat_that_comes_while_a_batch_commits_is_answered_without_another_behind_it(
    engine: Engine, database_url: str
) -> None:
    """The batcher once left such a message waiting for a later one (none came: it hung)."""
    world = build_world(engine)
    clock = Clock(T0)
    with clocked_app(engine, database_url, clock) as client:
        secrets = {
            tid: enrol_terminal(client, world.subscriber_id, tid) for tid in ("UA-1", "UA-2")
        }
        app = client.app
        batcher = batcher_for(app.state.context.platform)  # type: ignore[attr-defined]
        holder = engine.connect()
        # The first batch waits in its transaction on a lock this test holds (a row of UA-1 on
        # PostgreSQL, the database's write lock on SQLite) while the second heartbeat comes.
        holder.execute(terminals.update().where(terminals.c.id == "UA-1").values(battery_pct=1))

        async def overlap() -> list[str]:
            first = asyncio.create_task(
                batcher.submit(terminal_message("UA-1", secrets["UA-1"], 1, "heartbeat", T0))
            )
            await asyncio.sleep(0.2)  # the first batch is cut and blocked in its transaction
            second = asyncio.create_task(
                batcher.submit(terminal_message("UA-2", secrets["UA-2"], 1, "heartbeat", T0))
            )
            await asyncio.sleep(0.2)
            await asyncio.to_thread(holder.rollback)
            outcomes = await asyncio.wait_for(asyncio.gather(first, second), timeout=20)
            return [outcome.replies[0]["status"] for outcome in outcomes]

        try:
            assert client.portal.call(overlap) == ["accepted", "accepted"]  # type: ignore[union-attr]
        finally:
            holder.close()


def test_heartbeats_arriving_together_over_mqtt_commit_together(
    engine: Engine, database_url: str
) -> None:
    """The bridge reads on while heartbeats wait for their batch (it once awaited each: a batch
    of one per message); every one is answered and stored."""
    import aiomqtt

    from ansim_bench.mqtt_heartbeats import private_broker

    world = build_world(engine)
    count = 30
    with (
        private_broker() as broker,
        clocked_app(engine, database_url, Clock(T0), mqtt_url=broker) as client,
    ):
        secrets = {
            f"UA-{n:03d}": enrol_terminal(client, world.subscriber_id, f"UA-{n:03d}")
            for n in range(count)
        }
        batcher = batcher_for(client.app.state.context.platform)  # type: ignore[attr-defined]
        host, port = broker.removeprefix("mqtt://").split(":")

        async def burst() -> set[str]:
            answered: set[str] = set()
            async with aiomqtt.Client(host, int(port)) as device:
                await device.subscribe(f"{protocol.TOPIC_PREFIX}/+/down", qos=1)
                await asyncio.sleep(0.5)  # the app's bridge subscribes as it starts
                for tid, secret in secrets.items():
                    body = terminal_message(tid, secret, 1, "heartbeat", T0, battery_pct=70)
                    await device.publish(protocol.up_topic(tid), body, qos=1)
                async with asyncio.timeout(20):
                    async for message in device.messages:
                        reply = json.loads(message.payload)  # type: ignore[arg-type]
                        if reply["type"] == "ack" and reply["status"] == "accepted":
                            answered.add(reply["terminal_id"])
                        if len(answered) == count:
                            return answered
            return answered

        assert client.portal.call(burst) == set(secrets)  # type: ignore[union-attr]
        assert 1 <= batcher.batches < count, f"{count} heartbeats in {batcher.batches} commits"
    with engine.connect() as connection:
        heard = connection.execute(
            sa.select(sa.func.count()).select_from(terminals).where(terminals.c.last_seq == 1)
        ).scalar_one()
    assert heard == count
