"""Stop NATS under load: intake keeps acknowledging, and every event reaches every board, in order."""

from __future__ import annotations

import os
import time
from collections import defaultdict

import pytest
from tests.factories import PASSWORD
from tests.faultkit import (
    Board,
    NatsServer,
    Scene,
    Senders,
    audit,
    need_nats_server,
    outbox_ids,
    scene_fixture,  # noqa: F401
    staff_token,
)

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.nats]
# Short by default to keep the suite fast; ANSIM_FAULT_OUTAGE_S=30 runs the full outage.
OUTAGE_S = float(os.environ.get("ANSIM_FAULT_OUTAGE_S", "5.0"))


def test_a_nats_outage_delays_events_but_loses_none(scene: Scene) -> None:
    need_nats_server()
    nats = NatsServer(scene.tmp / "jetstream")
    nats.start()
    boards: list[Board] = []
    try:
        env = {"ANSIM_NATS_URL": nats.url}
        workers = [scene.serve("api", **env), scene.serve("api", **env)]
        scene.serve("relay,scheduler", **env)
        for server in scene.processes:
            server.wait_healthy()
        for worker in workers:
            board = Board(worker.url, staff_token(worker.url, "dispatcher", PASSWORD))
            board.start()
            boards.append(board)
        senders = Senders([w.url for w in workers], scene.world.app_credential, every_s=0.1)
        senders.retry_deadline_s = OUTAGE_S + 20
        senders.start()
        time.sleep(2.0)
        nats.stop()
        sent_before_outage = len(senders.presses)
        time.sleep(OUTAGE_S)
        acked_during_outage = sum(
            1 for p in senders.presses[sent_before_outage:] if p.incident_id is not None
        )
        engine = scene.engine()
        held_back = max(outbox_ids(engine))  # committed while NATS was away
        nats.start()
        back_at = time.monotonic()
        time.sleep(1.0)
        senders.stop_and_settle()

        expected = outbox_ids(engine)
        report = audit(engine, senders.presses)
        engine.dispose()
        caught_up_s: list[float] = []
        deadline = time.monotonic() + 20
        for board in boards:
            while set(board.ids()) != set(expected) and time.monotonic() < deadline:
                time.sleep(0.1)
            ids = board.ids()
            if held_back in ids:
                caught_up_s.append(board.received_at[ids.index(held_back)] - back_at)
    finally:
        for board in boards:
            board.stop()
        nats.stop()

    report.print(
        "nats outage",
        outage_s=OUTAGE_S,
        acked_during_outage=acked_during_outage,
        events=len(expected),
        backlog_on_boards_after_s="/".join(f"{s:.2f}" for s in caught_up_s),
    )
    assert report.lost == 0
    assert report.duplicated == 0
    assert report.acknowledged == report.sent
    assert acked_during_outage > 0, "intake kept acknowledging while NATS was down"
    for board in boards:
        assert board.error is None, board.error
        ids = board.ids()
        assert len(ids) == len(set(ids)), "a board was sent an event twice"
        assert set(ids) == set(expected), f"missing: {sorted(set(expected) - set(ids))[:10]}"
        per_incident: dict[str, list[int]] = defaultdict(list)
        for event in board.events:
            per_incident[str(event["incident_id"])].append(int(str(event["id"])))
        assert all(seq == sorted(seq) for seq in per_incident.values()), "in order per incident"
        # Not in id order overall: writers commit concurrently, so a lower id can commit later;
        # the guarantee is per incident (its `seq`), checked above through the ids.
