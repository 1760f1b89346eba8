"""The audit trail: reads and actions are recorded, the chain detects altered and deleted entries."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.apiclient import SOS_BODY, app_request, staff_headers
from tests.security_fixtures import SecureApp, secure_app

from ansim.cli import main


@pytest.fixture
def secured(tmp_path: Path, sqlite_template: Path) -> Iterator[SecureApp]:
    yield from secure_app(tmp_path, sqlite_template)


def _work(app: SecureApp) -> str:
    client = app.client
    incident_id: str = client.post(
        "/api/v1/app/sos", **app_request(app.world.app_credential, SOS_BODY, "k-000001")
    ).json()["incident_id"]
    board = staff_headers(client, "dispatcher")
    assert client.get(f"/api/v1/incidents/{incident_id}", headers=board).status_code == 200
    client.post(
        f"/api/v1/incidents/{incident_id}/priority",
        json={"priority": 0, "reason": "no answer from the guardian"},
        headers=board,
    )
    client.delete("/api/v1/session", headers=board)
    return incident_id


def test_reads_and_actions_are_recorded_with_who_where_and_why(secured: SecureApp) -> None:
    incident_id = _work(secured)
    admin = staff_headers(secured.client, "admin")
    entries = secured.client.get(
        "/api/v1/audit", params={"actor": "dispatcher"}, headers=admin
    ).json()
    by_action = {e["action"]: e for e in entries}
    assert set(by_action) >= {"login", "incident.read", "incident.priority", "logout"}
    read = by_action["incident.read"]
    assert read["incident_id"] == incident_id
    assert read["role"] == "dispatcher"
    assert read["ip"] == "127.0.0.1"
    assert by_action["incident.priority"]["detail"]["reason"] == "no answer from the guardian"
    mine = secured.client.get("/api/v1/audit", params={"incident_id": incident_id}, headers=admin)
    assert {e["action"] for e in mine.json()} == {"incident.read", "incident.priority"}
    searched = secured.client.get(
        "/api/v1/audit", params={"action": "audit.search"}, headers=admin
    ).json()
    assert len(searched) == 3  # every search is itself recorded


def _tampered_copy(app: SecureApp, tmp_path: Path, name: str, statement: str) -> str:
    copy = tmp_path / name
    source, target = sqlite3.connect(app.path), sqlite3.connect(copy)
    try:
        source.backup(target)  # a consistent copy, WAL included
        target.execute(statement)
        target.commit()
    finally:
        source.close()
        target.close()
    return f"sqlite:///{copy}"


def test_audit_verify_finds_altered_and_deleted_entries(
    secured: SecureApp, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _work(secured)
    assert main(["audit", "verify", "--database-url", secured.url]) == 0
    assert "intact" in capsys.readouterr().out
    altered = _tampered_copy(
        secured,
        tmp_path,
        "altered.db",
        "UPDATE audit_log SET actor = 'someone-else' WHERE action = 'incident.read'",
    )
    assert main(["audit", "verify", "--database-url", altered]) == 1
    assert "altered" in capsys.readouterr().out
    deleted = _tampered_copy(secured, tmp_path, "deleted.db", "DELETE FROM audit_log WHERE id = 2")
    assert main(["audit", "verify", "--database-url", deleted]) == 1
    assert "missing" in capsys.readouterr().out
    assert main(["audit", "head", "--database-url", secured.url]) == 0
    head = capsys.readouterr().out.strip()
    cut = _tampered_copy(
        secured,
        tmp_path,
        "cut.db",
        "DELETE FROM audit_log WHERE id = (SELECT max(id) FROM audit_log)",
    )
    assert (
        main(["audit", "verify", "--database-url", cut]) == 0
    )  # a cut tail keeps a valid chain...
    capsys.readouterr()
    assert (
        main(["audit", "verify", "--database-url", cut, "--expect-head", head]) == 1
    )  # ...unless noted
