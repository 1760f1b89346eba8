"""Security review (issue 19): every read of personal data by staff is audited.

Before: EIDO and PIDF-LO export, location history, verification and the enrolment lists wrote no
audit entry. The routes that answer personal data are declared in `access.PERSONAL_READS`; this test
walks that declaration, calls each route as a role it admits, and finds the entry.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from tests.apiclient import SOS_BODY, app_request, running_app, staff_headers
from tests.factories import World, build_world

from ansim.domain.staff import Role
from ansim.security import access, audit
from ansim.services import dispatch
from ansim.store.db import make_session_factory
from ansim.store.uow import UnitOfWork

# The role each route is called as: the most powerful one it admits (admins see everything).
PREFERENCE = (Role.ADMIN, Role.SUPERVISOR, Role.DISPATCHER, Role.CCTV_OPERATOR, Role.OFFICER)


@pytest.fixture
def api(engine: Engine, database_url: str) -> Iterator[tuple[TestClient, World]]:
    world = build_world(engine)
    with running_app(engine, database_url) as client:
        yield client, world


def _operations(schema: dict[str, Any]) -> dict[str, tuple[str, str]]:
    found = {}
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            found[operation["operationId"]] = (method, path)
    return found


def test_finding_every_declared_personal_read_writes_an_audit_entry(
    api: tuple[TestClient, World], engine: Engine
) -> None:
    client, world = api
    answer = client.post(
        "/api/v1/app/sos", **app_request(world.app_credential, SOS_BODY, "reads-0001")
    )
    assert answer.status_code == 201, answer.text
    incident_id = answer.json()["incident_id"]
    uow = UnitOfWork(make_session_factory(engine))
    with uow.read() as session:
        (order,) = dispatch.open_assignments(session, incident_id=incident_id)
    known = {
        "incident_id": incident_id,
        "assignment_id": order.id,
        "unit_id": order.unit_id,
        "subscriber_id": world.subscriber_id,
    }
    operations = _operations(client.get("/openapi.json").json())
    headers = {role: staff_headers(client, role.value) for role in PREFERENCE}
    client.cookies.clear()  # each call carries only the bearer of its role

    for operation_id, action in access.PERSONAL_READS.items():
        method, template = operations[operation_id]
        assert method == "get", operation_id
        path = re.sub(r"\{(\w+)\}", lambda m: str(known[m.group(1)]), template)
        rule = access.ACCESS[operation_id]
        role = next(r for r in PREFERENCE if access.admits(rule, r))
        called = client.get(path, headers=headers[role])
        assert called.status_code == 200, (operation_id, called.text)
        with uow.read() as session:
            entries = audit.search(session, action=action, actor=role.value, limit=20)
        assert entries, f"{operation_id} answered personal data without an audit entry"
        if "{incident_id}" in template:
            assert any(e.incident_id == incident_id for e in entries), operation_id


def test_finding_the_declared_reads_are_real_routes_of_the_access_table() -> None:
    # A renamed route must not silently fall out of the audited list.
    assert set(access.PERSONAL_READS) <= set(access.ACCESS)
    for operation_id in access.PERSONAL_READS:
        assert access.staff_only(access.ACCESS[operation_id]), operation_id
