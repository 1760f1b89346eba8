"""Cut PostgreSQL under load: intake answers 503 with Retry-After, never a false acknowledgement, loses nothing."""

from __future__ import annotations

import os
import time

import httpx
import pytest
import sqlalchemy as sa
from tests.faultkit import (
    CuttableProxy,
    Scene,
    Senders,
    audit,
    proxied_url,
    scene_fixture,  # noqa: F401
)

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
# Short by default to keep the suite fast; ANSIM_FAULT_OUTAGE_S=30 runs the full outage.
OUTAGE_S = float(os.environ.get("ANSIM_FAULT_OUTAGE_S", "4.0"))


def test_a_database_outage_refuses_with_503_and_loses_nothing(scene: Scene) -> None:
    target = sa.make_url(scene.database_url)
    proxy = CuttableProxy((target.host or "127.0.0.1", target.port or 5432))
    try:
        worker = scene.serve("all", database_url=proxied_url(scene.database_url, proxy.port))
        worker.wait_healthy()
        senders = Senders([worker.url], scene.world.app_credential, threads=3, every_s=0.1)
        senders.retry_deadline_s = OUTAGE_S + 20
        senders.start()
        time.sleep(1.5)
        proxy.cut()
        cut_at = time.monotonic()
        time.sleep(1.0)
        ready_during = httpx.get(f"{worker.url}/readyz", timeout=5)
        time.sleep(OUTAGE_S - 1.0)
        proxy.restore()
        back_at = time.monotonic()
        while time.monotonic() - back_at < 20:
            if httpx.get(f"{worker.url}/readyz", timeout=5).status_code == 200:
                break
            time.sleep(0.1)
        ready_after_s = time.monotonic() - back_at
        time.sleep(1.0)
        senders.stop_and_settle()
    finally:
        proxy.close()

    engine = scene.engine()
    report = audit(engine, senders.presses)
    engine.dispose()
    # Presses that met the outage: sent before the database came back, not acknowledged before the cut.
    during = [
        p
        for p in senders.presses
        if p.first_at < back_at and (p.acked_at is None or p.acked_at > cut_at)
    ]
    first_ack_after = min(
        (p.acked_at - back_at for p in senders.presses if p.acked_at and p.acked_at >= back_at),
        default=float("nan"),
    )
    report.print(
        "postgres outage",
        outage_s=OUTAGE_S,
        presses_that_met_the_outage=len(during),
        answers_503=sum(s == 503 for p in senders.presses for s in p.statuses),
        first_ack_after_return_s=f"{first_ack_after:.2f}",
        ready_again_after_s=f"{ready_after_s:.2f}",
    )
    assert ready_during.status_code == 503
    assert ready_during.headers.get("Retry-After")
    assert during, "SOS were pressed during the outage"
    assert all(p.acked_at is None or p.acked_at >= back_at for p in during), (
        "no false acknowledgement"
    )
    assert all(s in (0, 200, 201, 503) for p in senders.presses for s in p.statuses), "never a 500"
    assert any(s == 503 for p in during for s in p.statuses)
    assert report.lost == 0
    assert report.duplicated == 0
    assert report.acknowledged == report.sent
    assert report.stored == report.sent
