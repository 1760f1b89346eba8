"""kill -9 of the API process during a heartbeat burst: every acknowledged heartbeat is stored.

Heartbeats commit in batches (group commit) and each is acknowledged only after its batch
commits, so a crash between receiving and committing loses only unacknowledged ones.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import httpx
import pytest
import sqlalchemy as sa
from tests.factories import PASSWORD
from tests.faultkit import Scene, scene_fixture, staff_token  # noqa: F401
from tests.intakekit import terminal_message

from ansim.store.tables import terminals

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
TERMINALS = 24


def test_a_killed_server_loses_no_acknowledged_heartbeat(scene: Scene) -> None:
    server = scene.serve("all")
    server.wait_healthy()
    admin = {"Authorization": f"Bearer {staff_token(server.url, 'admin', PASSWORD)}"}
    secrets: dict[str, str] = {}
    for n in range(TERMINALS):
        answer = httpx.post(
            f"{server.url}/api/v1/admin/terminals",
            json={
                "terminal_id": f"UA-K{n:03d}",
                "subscriber_id": scene.world.subscriber_id,
                "reporting_interval_s": 60,
            },
            headers=admin,
            timeout=10,
        )
        assert answer.status_code == 201, answer.text
        secrets[f"UA-K{n:03d}"] = answer.json()["secret"]
    acknowledged: dict[str, int] = {}
    stop = threading.Event()

    def device(terminal_id: str) -> None:
        seq = 0
        with httpx.Client(base_url=server.url, timeout=5) as client:
            while not stop.is_set():
                seq += 1
                raw = terminal_message(
                    terminal_id, secrets[terminal_id], seq, "heartbeat", datetime.now(UTC)
                )
                try:
                    answer = client.post("/api/v1/terminals/messages", content=raw)
                except httpx.HTTPError:
                    return  # the server is gone: this one was never acknowledged
                if answer.status_code == 200:
                    assert answer.json()["replies"][0]["status"] == "accepted"
                    acknowledged[terminal_id] = seq

    devices = [threading.Thread(target=device, args=(tid,)) for tid in secrets]
    for thread in devices:
        thread.start()
    time.sleep(2.0)
    server.kill9()  # mid-burst: some batches are gathering or committing
    stop.set()
    for thread in devices:
        thread.join(10)
    engine = scene.engine()
    with engine.connect() as connection:
        stored = dict(
            connection.execute(
                sa.select(terminals.c.id, terminals.c.last_seq).where(
                    terminals.c.id.in_(list(secrets))
                )
            ).all()
        )
    engine.dispose()
    assert sum(acknowledged.values()) > TERMINALS, "the burst got going before the kill"
    lost = {tid: (seq, stored[tid]) for tid, seq in acknowledged.items() if stored[tid] < seq}
    assert lost == {}, f"acknowledged but not stored (sent, stored): {lost}"
