"""The role matrix: every route has a rule, and every staff role outside a rule is refused."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.apiclient import staff_headers
from tests.security_fixtures import SecureApp, secure_app

from ansim.api.app import create_app
from ansim.domain.staff import Role
from ansim.security import access
from ansim.settings import Settings

PLACEHOLDER = "00000000-0000-4000-8000-000000000000"
METHODS_WITH_BODY = {"post", "put", "patch"}


@pytest.fixture
def secured(tmp_path: Path, sqlite_template: Path) -> Iterator[SecureApp]:
    yield from secure_app(tmp_path, sqlite_template)


def test_every_route_of_the_app_has_an_access_rule() -> None:
    app = create_app(Settings(database_url="sqlite://"))
    operations = access.operations(app.routes)
    missing = sorted(operations - access.ACCESS.keys())
    assert not missing, (
        f"routes without a rule in ansim.security.access.ACCESS (add one line each): {missing}"
    )
    stale = sorted(access.ACCESS.keys() - operations)
    assert not stale, f"rules for operations that no longer exist: {stale}"


def _requests(schema: dict[str, object]) -> Iterator[tuple[str, str, str]]:
    paths = schema["paths"]
    assert isinstance(paths, dict)
    for path, operations in paths.items():
        for method, operation in operations.items():
            yield method, re.sub(r"\{[^}]+\}", PLACEHOLDER, path), operation["operationId"]


def test_every_staff_role_outside_a_rule_is_refused_on_every_route(secured: SecureApp) -> None:
    client = secured.client
    headers = {role: staff_headers(client, role.value) for role in Role}
    client.cookies.clear()  # only the bearer tokens speak for the roles
    checked = 0
    for method, path, operation in _requests(client.get("/openapi.json").json()):
        rule = access.rule_for(operation)
        assert rule is not None, f"{operation} has no rule in ansim.security.access"
        if access.P.PUBLIC in rule:
            continue
        body = {"json": {}} if method in METHODS_WITH_BODY else {}
        # Device, carrier and guardian routes check their own credential, some after the body is
        # validated: an empty body refused as malformed (422) reached nothing either.
        refused = (401, 403) if access.staff_only(rule) else (401, 403, 422)
        anonymous = client.request(method, path, **body)  # type: ignore[arg-type]
        assert anonymous.status_code in refused, (operation, anonymous.status_code)
        for role in Role:
            if access.admits(rule, role):
                continue
            answer = client.request(method, path, headers=headers[role], **body)  # type: ignore[arg-type]
            assert answer.status_code in refused, (operation, role, answer.status_code)
            checked += 1
    assert checked >= 20


def test_admitted_roles_pass_the_matrix(secured: SecureApp) -> None:
    client = secured.client
    for role in (Role.DISPATCHER, Role.OFFICER, Role.CCTV_OPERATOR):
        answer = client.get("/api/v1/map/stations", headers=staff_headers(client, role.value))
        assert answer.status_code == 200, (role, answer.text)
    admin = staff_headers(client, "admin")
    assert client.get("/api/v1/audit", headers=admin).status_code == 200
    assert (
        client.get("/api/v1/audit", headers=staff_headers(client, "supervisor")).status_code == 403
    )


def test_a_route_without_a_rule_is_refused_at_run_time(secured: SecureApp) -> None:
    client = secured.client
    headers = staff_headers(client, "admin")
    saved = access.ACCESS.pop("list_units")
    try:
        answer = client.get("/api/v1/units", headers=headers)
    finally:
        access.ACCESS["list_units"] = saved
    assert answer.status_code == 403
    assert "no access rule" in answer.json()["detail"]
