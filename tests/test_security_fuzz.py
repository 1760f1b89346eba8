"""Hostile input: schemathesis generates requests for every operation of the OpenAPI; none may answer 5xx.

The suite runs a bounded number of examples per operation and mode (ANSIM_FUZZ_EXAMPLES, default 5);
a longer run: `ANSIM_FUZZ_EXAMPLES=500 pytest tests/test_security_fuzz.py` (docs/security.md).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.generation import GenerationMode
from tests.apiclient import staff_headers
from tests.security_fixtures import SecureApp, secure_app

from ansim.security import access

EXAMPLES = int(os.environ.get("ANSIM_FUZZ_EXAMPLES", "5"))


@pytest.fixture
def secured(tmp_path: Path, sqlite_template: Path) -> Iterator[SecureApp]:
    yield from secure_app(tmp_path, sqlite_template)


def _credentials(app: SecureApp) -> dict[str, dict[str, str]]:
    admin = staff_headers(app.client, "admin")
    app.client.cookies.clear()
    return {"staff": admin, "device": {"Authorization": f"Bearer {app.world.app_credential}"}}


def _headers_for(operation_id: str, credentials: dict[str, dict[str, str]]) -> dict[str, str]:
    rule = access.rule_for(operation_id) or frozenset()
    return credentials["device"] if access.P.DEVICE in rule else credentials["staff"]


@pytest.mark.slow
def test_no_generated_request_gets_a_5xx(secured: SecureApp) -> None:
    # Requests go through the test's own client, so the app runs in one event loop with its relay.
    schema = schemathesis.openapi.from_dict(secured.client.get("/openapi.json").json())
    credentials = _credentials(secured)
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operation_id = operation.definition.raw.get("operationId", operation.label)
        if operation_id == "log_out":
            continue  # would end the session the other operations are fuzzed with
        headers = _headers_for(operation_id, credentials)
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _fuzz(secured, operation.as_strategy(generation_mode=mode), headers, failures)
            except Unsatisfiable:
                continue  # nothing to make invalid (an operation without parameters or body)
    assert operations >= 15
    assert not failures, failures[:10]


def _httpx_kwargs(case: Any, headers: dict[str, str]) -> dict[str, Any]:
    """schemathesis serialises for `requests`; the test client speaks httpx."""
    sent = case.as_transport_kwargs(base_url="http://testserver", headers=headers)
    kwargs = {key: sent[key] for key in ("method", "url", "headers", "params") if sent.get(key)}
    if "json" in sent:
        kwargs["json"] = sent["json"]
    elif isinstance(sent.get("data"), (bytes, str)):
        kwargs["content"] = sent["data"]
    return kwargs


def _fuzz(app: SecureApp, strategy: Any, headers: dict[str, str], failures: list[str]) -> None:
    @settings(
        max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(case=strategy)
    def run(case: Any) -> None:
        response = app.client.request(**_httpx_kwargs(case, headers))
        if response.status_code >= 500:
            failures.append(f"{case.method} {case.formatted_path}: {response.status_code}")

    run()
