"""Helpers for the intake tests: an app on a controllable clock, carriers and terminals through the API."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from tests.apiclient import LOOPBACK, staff_headers
from tests.factories import T0

from ansim.api.app import create_app
from ansim.intake import terminal_protocol as protocol
from ansim.security.signing import carrier_headers
from ansim.settings import Settings


@dataclass
class Clock:
    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now


@contextmanager
def clocked_app(
    engine: Engine, database_url: str, clock: Clock, **settings: Any
) -> Iterator[TestClient]:
    app = create_app(
        Settings(database_url=database_url, outbox_poll_s=0.05, scheduler_poll_s=3600, **settings),
        engine=engine,
        clock=clock,
    )
    with TestClient(app, client=LOOPBACK) as client:
        yield client


def register_carrier(client: TestClient, carrier_id: str = "skt") -> str:
    admin = staff_headers(client, "admin")
    answer = client.post(
        "/api/v1/admin/carriers",
        json={"carrier_id": carrier_id, "name": "SK Telecom"},
        headers=admin,
    )
    assert answer.status_code == 201, answer.text
    secret: str = answer.json()["secret"]
    return secret


def carrier_post(
    client: TestClient,
    path: str,
    body: dict[str, Any],
    *,
    secret: str,
    at: datetime,
    carrier_id: str = "skt",
) -> Any:
    raw = json.dumps(body).encode()
    headers = carrier_headers(carrier_id=carrier_id, secret=secret, body=raw, at=at)
    return client.post(path, content=raw, headers={**headers, "content-type": "application/json"})


def enrol_terminal(
    client: TestClient, subscriber_id: str, terminal_id: str = "UA-0001", interval_s: int = 60
) -> str:
    admin = staff_headers(client, "admin")
    answer = client.post(
        "/api/v1/admin/terminals",
        json={
            "terminal_id": terminal_id,
            "subscriber_id": subscriber_id,
            "reporting_interval_s": interval_s,
        },
        headers=admin,
    )
    assert answer.status_code == 201, answer.text
    secret: str = answer.json()["secret"]
    return secret


def terminal_message(
    terminal_id: str, secret: str, seq: int, kind: str, at: datetime, **fields: Any
) -> bytes:
    message = {
        "v": 1,
        "type": kind,
        "terminal_id": terminal_id,
        "seq": seq,
        "sent_at": at.isoformat(),
        **fields,
    }
    return json.dumps(protocol.sign(message, secret=secret)).encode()


def fix_at(
    lat: float, lon: float, at: datetime, accuracy_m: float = 10.0, method: str = "gnss"
) -> dict[str, Any]:
    return {
        "lat": lat,
        "lon": lon,
        "accuracy_m": accuracy_m,
        "method": method,
        "at": at.isoformat(),
    }


def els_signed(form: str, key: str | None = None) -> bytes:
    """An ELS body with its trailing HMAC-SHA1, keyed as the test environment's gateway key."""
    secret = (key or os.environ["ANSIM_ELS_HMAC_KEY"]).encode()
    digest = hmac.new(secret, form.encode(), hashlib.sha1).hexdigest()
    return f"{form}&hmac={digest}".encode()
