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
    credential: str,
    key: str | None = None,
    *,
    method: str,
    path: str,
    body: bytes = b"",
    at: datetime | None = None,
) -> dict[str, str]:
    """An app install's signed headers for `method path` with `body` (a read signs the empty body).

    `path` carries the query string as sent; `at` is the phone's clock (default: now). Most tests
    pass `auth=app_auth(...)` instead, which signs the method and path the request really has.
    """
    headers = app_signed_headers(
        credential, method=method, target=path, body=body, at=at or datetime.now(UTC)
    )
    if key:
        headers["Idempotency-Key"] = key
    return headers


class AppSigned:
    """Signs a request as the PWA does, for the method, path and query it is sent with.

    An httpx `auth=` callable (the test client's httpx and httpx itself both take one). The body
    signed is the one given here (what the phone meant to send), or the request's own when None;
    a test that changes the body after signing therefore sends a wrong signature, as it should.
    """

    def __init__(self, credential: str, body: bytes | None, at: datetime | None) -> None:
        self.credential, self.body, self.at = credential, body, at

    def __call__(self, request: Any) -> Any:
        body = request.read() if self.body is None else self.body
        target = request.url.raw_path.decode("ascii")
        at = self.at or datetime.now(UTC)
        request.headers.update(
            app_signed_headers(
                self.credential, method=request.method, target=target, body=body, at=at
            )
        )
        return request


def app_auth(credential: str, *, body: bytes = b"", at: datetime | None = None) -> AppSigned:
    """`auth=` for a request signed by an install: `client.get(url, auth=app_auth(credential))`."""
    return AppSigned(credential, body, at)


def app_request(
    credential: str, document: Any, key: str | None = None, *, at: datetime | None = None
) -> dict[str, Any]:
    """`content`, `headers` and the signing `auth` of an app request with a JSON body.

    `client.post(url, **app_request(...))`: signed for that method and url when sent.
    """
    raw = json.dumps(document).encode()
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Idempotency-Key"] = key
    return {"content": raw, "headers": headers, "auth": AppSigned(credential, raw, at)}


SOS_BODY = {
    "fix": {"lat": 37.5665, "lon": 126.978, "accuracy_m": 20, "confidence": 0.68, "method": "gnss"}
}
