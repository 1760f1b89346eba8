"""Running the real app in-process for API tests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from tests.factories import PASSWORD

from ansim.api.app import create_app
from ansim.api.app_signing import app_signed_headers
from ansim.settings import Settings

# Tests call from loopback, like the operator's own tools (metrics and the API description answer
# only the operations networks); a test of a remote caller passes `peer`.
LOOPBACK = ("127.0.0.1", 50000)


@contextmanager
def running_app(
    engine: Engine, database_url: str, peer: tuple[str, int] = LOOPBACK, **settings: Any
) -> Iterator[TestClient]:
    app = create_app(
        Settings(database_url=database_url, outbox_poll_s=0.05, **settings), engine=engine
    )
    with TestClient(app, client=peer) as client:
        yield client


def staff_headers(client: TestClient, role: str) -> dict[str, str]:
    answer = client.post("/api/v1/session", json={"username": role, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['token']}"}


def app_headers(
    credential: str, key: str | None = None, *, body: bytes = b"", at: datetime | None = None
) -> dict[str, str]:
    """An app install's signed headers for `body` (a read signs the empty body), as the PWA sends.

    `at` is the phone's clock (default: now); a test on a fixed clock passes that clock's time.
    """
    headers = app_signed_headers(credential, body=body, at=at or datetime.now(UTC))
    if key:
        headers["Idempotency-Key"] = key
    return headers


def app_request(
    credential: str, document: Any, key: str | None = None, *, at: datetime | None = None
) -> dict[str, Any]:
    """`content` and signed `headers` of an app request with a JSON body: `client.post(url, **...)`."""
    raw = json.dumps(document).encode()
    headers = app_headers(credential, key, body=raw, at=at)
    return {"content": raw, "headers": {**headers, "Content-Type": "application/json"}}


SOS_BODY = {
    "fix": {"lat": 37.5665, "lon": 126.978, "accuracy_m": 20, "confidence": 0.68, "method": "gnss"}
}
