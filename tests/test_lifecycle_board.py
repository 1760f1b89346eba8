"""What the dispatcher and the guardians are told outside an incident's own events: the complete
incident queue over HTTP, and a terminal gone silent (issue 14)."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from tests.apiclient import running_app, staff_headers
from tests.factories import T0, build_world
from tests.lifecyclekit import city_hall_fix, stage

from ansim.domain.incidents import Channel
from ansim.services import terminals
from ansim.services.handlers import do_receive_sos
from ansim.services.incidents import SosReport
from ansim.services.platform import Platform
from ansim.store.tables import deliveries


def _sos_from(platform: Platform, number: str, at_s: float) -> str:
    at = T0 + timedelta(seconds=at_s)
    report = SosReport(
        channel=Channel.ONE_TOUCH,
        received_at=at,
        source="carrier:test",
        caller_number=number,
        fix=city_hall_fix(at),
    )
    return do_receive_sos(platform, report=report).incident.id


def test_the_incident_list_api_gives_every_open_incident_paged_and_counted(
    engine: Engine, database_url: str
) -> None:
    build_world(engine)
    with running_app(engine, database_url, scheduler_poll_s=3600) as client:
        platform = client.app.state.context.platform  # type: ignore[attr-defined]
        opened = [_sos_from(platform, f"+8210777{n:05d}", n) for n in range(210)]
        board = staff_headers(client, "dispatcher")
        everything = client.get("/api/v1/incidents?active=true", headers=board)
        assert everything.status_code == 200
        listed = everything.json()
        assert len(listed) == 210  # no cap of 200: the oldest are on the board too
        assert everything.headers["X-Open-Incidents"] == "210"
        # Three units for 210 SOS (the app's own scheduler, on the real clock, may time some out).
        waiting = int(everything.headers["X-Waiting-For-Units"])
        assert waiting >= 207
        first = [i["id"] for i in listed[:waiting]]
        assert first == [i for i in opened if i in set(first)]  # waiting first, oldest first
        assert all(i["waiting_for_units"] >= 1 for i in listed[:waiting])
        assert all(i["waiting_for_units"] == 0 for i in listed[waiting:])
        assert listed[0]["no_location"] is False
        paged: list[str] = []
        cursor = None
        while True:
            query = "/api/v1/incidents?active=true&limit=64" + (
                f"&cursor={cursor}" if cursor else ""
            )
            page = client.get(query, headers=board)
            paged += [i["id"] for i in page.json()]
            cursor = page.headers.get("X-Next-Cursor")
            if cursor is None:
                break
        assert paged == [i["id"] for i in listed]
        refused = client.get("/api/v1/incidents?cursor=not-one-of-ours", headers=board)
        assert refused.status_code == 422
        assert "cursor" in refused.text


def test_a_terminal_declared_lost_tells_the_guardians_once(engine: Engine) -> None:
    s = stage(engine)
    with s.platform.uow.begin() as session:
        terminals.enrol(
            session,
            terminal_id="UT-LOST-1",
            subscriber_id=s.world.subscriber_id,
            reporting_interval_s=60,
            actor="admin",
            at=T0,
        )
    assert s.fire(3600) == 1  # the heartbeat deadline, once
    with engine.connect() as conn:
        told = conn.execute(
            sa.select(deliveries.c.template, deliveries.c.address).where(
                deliveries.c.subscriber_id == s.world.subscriber_id
            )
        ).all()
    assert [(t.template, t.address) for t in told] == [("terminal_lost", "+821098765432")]
