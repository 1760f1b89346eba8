"""Authenticated fuzzing per role (issue 19): every operation is fuzzed as each principal it admits.

Staff roles (dispatcher, supervisor, officer, CCTV operator, admin), an app install and a carrier
(each generated request signed as the app or the carrier would) reach the handlers instead of a 401, so what
schemathesis generates meets the validation and the commands. None may answer 5xx. Operations that
end or change the fuzzer's own credentials are left out (they would turn the rest into 401s).
Bounded: ANSIM_FUZZ_EXAMPLES examples per operation, mode and principal (default 3).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.generation import GenerationMode
from tests.apiclient import app_auth, staff_headers
from tests.intakekit import register_carrier
from tests.security_fixtures import SecureApp, secure_app

from ansim.security import access
from ansim.security.signing import carrier_headers

EXAMPLES = int(os.environ.get("ANSIM_FUZZ_EXAMPLES", "3"))
P = access.P
STAFF_ROLES = (P.DISPATCHER, P.SUPERVISOR, P.OFFICER, P.CCTV_OPERATOR, P.ADMIN)
# Words in operation ids that revoke, rotate or disable credentials: fuzzing them as oneself would
# log the fuzzer out (each is tested on its own elsewhere).
SELF_HARM = ("log_out", "revoke", "rotate", "disable", "retire", "reset_totp")


@pytest.fixture
def secured(tmp_path: Path, sqlite_template: Path) -> Iterator[SecureApp]:
    yield from secure_app(tmp_path, sqlite_template)


def _principals(app: SecureApp) -> dict[str, dict[str, str]]:
    found = {role.value: staff_headers(app.client, role.value) for role in STAFF_ROLES}
    app.client.cookies.clear()
    found[P.DEVICE.value] = {"x-fuzz-app-credential": app.world.app_credential}
    found[P.CARRIER.value] = {"x-fuzz-carrier-secret": register_carrier(app.client, "fuzz")}
    app.client.cookies.clear()
    return found


@pytest.mark.slow
@pytest.mark.timeout(300)  # ~100 operations x roles x 2 modes: 93-140 s on a loaded 2-core machine
def test_finding_fuzzing_per_role_no_generated_request_gets_a_5xx(secured: SecureApp) -> None:
    schema = schemathesis.openapi.from_dict(secured.client.get("/openapi.json").json())
    principals = _principals(secured)
    failures: list[str] = []
    walked: set[str] = set()
    for result in schema.get_all_operations():
        operation = result.ok()
        operation_id = operation.definition.raw.get("operationId", operation.label)
        if any(word in operation_id for word in SELF_HARM):
            continue
        rule = access.rule_for(operation_id) or frozenset()
        for principal in sorted(rule & set(P)):
            headers = principals.get(principal.value)
            if headers is None:
                continue  # public and guardian-link operations have their own tests
            walked.add(principal.value)
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                try:
                    _fuzz(secured, operation.as_strategy(generation_mode=mode), headers, failures)
                except Unsatisfiable:
                    continue
    assert walked >= {r.value for r in STAFF_ROLES} | {P.DEVICE.value, P.CARRIER.value}
    assert not failures, sorted(set(failures))[:20]


def _httpx_kwargs(case: Any, headers: dict[str, str]) -> dict[str, Any]:
    sent = case.as_transport_kwargs(base_url="http://testserver", headers=headers)
    kwargs = {key: sent[key] for key in ("method", "url", "params") if sent.get(key)}
    kwargs["headers"] = dict(sent.get("headers") or {})
    body: bytes | None = None
    if "json" in sent:
        body = json.dumps(sent["json"]).encode()
        kwargs["headers"]["content-type"] = "application/json"
    elif isinstance(sent.get("data"), (bytes, str)):
        data = sent["data"]
        body = data.encode() if isinstance(data, str) else data
    if body is not None:
        kwargs["content"] = body
    secret = kwargs["headers"].pop("x-fuzz-carrier-secret", None)
    if secret is not None:
        kwargs["headers"] |= carrier_headers(
            carrier_id="fuzz", secret=secret, body=body or b"", at=datetime.now(UTC)
        )
    credential = kwargs["headers"].pop("x-fuzz-app-credential", None)
    if credential is not None:
        # Signed when sent, for the method, path and query the case really has.
        kwargs["auth"] = app_auth(credential, body=body or b"")
    return kwargs


def _fuzz(app: SecureApp, strategy: Any, headers: dict[str, str], failures: list[str]) -> None:
    @settings(
        max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(case=strategy)
    def run(case: Any) -> None:
        try:
            response = app.client.request(**_httpx_kwargs(case, headers))
        except Exception as error:  # the test client re-raises what the server did not handle
            failures.append(f"{case.method} {case.path}: unhandled {type(error).__name__}: {error}")
            return
        if response.status_code >= 500:
            failures.append(
                f"{case.method} {case.path} as {sorted(headers)[0]}: {response.status_code} "
                f"{response.text[:120]}"
            )

    run()
