"""Kill -9 an API worker while SOS arrive at a steady rate: nothing acknowledged is lost or doubled."""

from __future__ import annotations

import time

import pytest
from tests.faultkit import Scene, Senders, audit, scene_fixture  # noqa: F401

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


def test_killing_an_api_worker_loses_no_acknowledged_sos(scene: Scene) -> None:
    first = scene.serve("api")
    second = scene.serve("api")
    scene.serve("scheduler,relay")
    for server in scene.processes:
        server.wait_healthy()
    senders = Senders([first.url, second.url], scene.world.app_credential, threads=3, every_s=0.05)
    senders.start()
    time.sleep(2.0)
    first.kill9()
    killed_at = time.monotonic()
    time.sleep(1.5)
    first.start()
    restart_s = first.wait_healthy()
    time.sleep(1.5)
    senders.stop_and_settle()

    engine = scene.engine()
    report = audit(engine, senders.presses)
    engine.dispose()
    hit = [
        p for p in senders.presses if p.refused_at is not None and p.refused_at >= killed_at - 0.5
    ]
    report.print(
        "api worker kill -9",
        worker_restart_s=f"{restart_s:.2f}",
        presses_that_met_the_kill=len(hit),
    )
    assert report.sent >= 30
    assert report.lost == 0
    assert report.duplicated == 0
    assert report.acknowledged == report.sent, "every press was acknowledged once retried"
    assert report.stored == report.sent
