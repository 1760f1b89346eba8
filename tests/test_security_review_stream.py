"""Security review (issue 19): the live stream does not outlive its session, nor open to other sites.

Before: after logout (who_am_i → 401) an open stream still delivered events with locations.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from starlette.websockets import WebSocketDisconnect
from tests.apiclient import SOS_BODY, app_request, running_app, staff_headers
from tests.factories import World, build_world

from ansim.store.db import make_session_factory
from ansim.store.outbox import catch_up
from ansim.store.tables import outbox
from ansim.store.uow import UnitOfWork


def _sos(client: TestClient, world: World, key: str) -> None:
    answer = client.post("/api/v1/app/sos", **app_request(world.app_credential, SOS_BODY, key))
    assert answer.status_code in {200, 201}, answer.text  # a second SOS joins the open case


def test_finding_the_stream_closes_when_its_session_is_logged_out(
    engine: Engine, database_url: str
) -> None:
    world = build_world(engine)
    with running_app(engine, database_url, stream_session_check_s=0.2) as client:
        board = staff_headers(client, "dispatcher")
        client.cookies.clear()  # the socket authenticates with the bearer token only
        with client.websocket_connect("/api/v1/stream", headers=board) as stream:
            _sos(client, world, "stream-0001")
            assert stream.receive_json()["type"]  # live while the session lives
            assert client.delete("/api/v1/session", headers=board).status_code == 204
            assert client.get("/api/v1/session", headers=board).status_code == 401
            time.sleep(1.0)  # several session checks
            with UnitOfWork(make_session_factory(engine)).read() as session:
                sent_before = session.execute(sa.select(sa.func.max(outbox.c.id))).scalar_one()
            _sos(client, world, "stream-0002")  # news after the logout must not reach the socket
            with pytest.raises(WebSocketDisconnect) as closed:
                while True:  # whatever was already in flight, then the close
                    assert stream.receive_json()["id"] <= sent_before
            assert closed.value.code == 4401


def test_finding_the_stream_refuses_a_foreign_origin(engine: Engine, database_url: str) -> None:
    build_world(engine)
    with running_app(
        engine, database_url, stream_origins=["https://console.police.example"]
    ) as client:
        board = staff_headers(client, "dispatcher")
        foreign = {**board, "Origin": "https://testserver.evil.example"}
        with (
            pytest.raises(WebSocketDisconnect) as refused,
            client.websocket_connect("/api/v1/stream", headers=foreign) as stream,
        ):
            stream.receive_json()
        assert refused.value.code == 4403
        # Our own host (https at the browser, plain HTTP behind the proxy) and a configured origin.
        for origin in ("http://testserver", "https://testserver", "https://console.police.example"):
            with client.websocket_connect(
                "/api/v1/stream", headers={**board, "Origin": origin}
            ) as stream:
                stream.send_text("")  # accepted: the socket is open


def test_finding_stream_catch_up_pages_past_1000_events(engine: Engine) -> None:
    # Before: catch-up stopped at 1,000 events, so a board back from a long outage missed the rest.
    at = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
    rows = [
        # xid: the writer's transaction on PostgreSQL (any committed one; SQLite reads by id).
        {"type": "unit.status_changed", "version": 1, "at": at, "data": {"n": n}, "xid": 1}
        for n in range(2_500)
    ]
    with engine.begin() as conn:
        conn.execute(outbox.insert(), rows)
    with UnitOfWork(make_session_factory(engine)).read() as session:
        caught = catch_up(session, start=0)
    assert [event.data["n"] for event in caught.events] == list(range(2_500))
