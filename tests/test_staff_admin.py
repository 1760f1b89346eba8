"""Staff administration: the first admin from the CLI, then accounts managed over the admin API."""

from __future__ import annotations

import io

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from tests.apiclient import running_app, staff_headers
from tests.factories import build_world, seal_audit

from ansim.cli import main
from ansim.store.tables import audit_log, staff_districts

STRONG = "Hangang-Bridge-Night-42"


def _cli(monkeypatch: pytest.MonkeyPatch, stdin: str, *argv: str) -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return main(list(argv))


def test_the_first_admin_is_added_from_the_cli_with_a_strong_password(
    engine: Engine,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    db = ["--database-url", database_url]
    assert _cli(monkeypatch, "short\n", "admin", "add-user", "chief", "--role", "admin", *db) == 2
    assert "at least 12 characters" in capsys.readouterr().err
    assert (
        _cli(monkeypatch, "password1234\n", "admin", "add-user", "chief", "--role", "admin", *db)
        == 2
    )
    assert "too weak" in capsys.readouterr().err
    assert (
        _cli(monkeypatch, STRONG + "\n", "admin", "add-user", "chief", "--role", "admin", *db) == 0
    )
    assert "added chief (admin" in capsys.readouterr().out
    # Several districts, given in Korean or English.
    assert (
        _cli(
            monkeypatch,
            STRONG + "\n",
            *("admin", "add-user", "cam", "--role", "cctv_operator"),
            *("--district", "종로구", "--district", "Jung-gu", *db),
        )
        == 0
    )
    assert "종로구, 중구" in capsys.readouterr().out
    assert _cli(monkeypatch, STRONG + "\n", "admin", "add-user", "cam", "--role", "admin", *db) == 2
    assert "exists" in capsys.readouterr().err
    assert _cli(monkeypatch, "", "admin", "disable-user", "cam", *db) == 0
    assert main(["audit", "verify", *db]) == 0
    seal_audit(engine)
    with engine.connect() as conn:
        actions = list(
            conn.execute(sa.select(audit_log.c.action).order_by(audit_log.c.id)).scalars()
        )
        districts = sorted(conn.execute(sa.select(staff_districts.c.district)).scalars())
    assert actions == ["staff.add", "staff.add", "staff.disable"]
    assert districts == ["종로구", "중구"]
    # The new admin logs in (TOTP is enrolled at first login when it is required).
    with running_app(engine, database_url) as client:
        answer = client.post("/api/v1/session", json={"username": "chief", "password": STRONG})
        assert answer.status_code == 200, answer.text
        refused = client.post("/api/v1/session", json={"username": "cam", "password": STRONG})
        assert refused.status_code == 401


def test_admins_manage_staff_over_the_api(engine: Engine, database_url: str) -> None:
    build_world(engine)
    with running_app(engine, database_url) as client:
        admin = staff_headers(client, "admin")
        base = "/api/v1/admin/staff"
        dispatcher = staff_headers(client, "dispatcher")
        assert client.get(base, headers=dispatcher).status_code == 403
        weak = {"username": "op2", "password": "qwertyuiop12", "role": "cctv_operator"}
        refused = client.post(base, json=weak, headers=admin)
        assert refused.status_code == 422
        assert "too weak" in refused.json()["detail"]
        unknown = weak | {"password": STRONG, "districts": ["Atlantis-gu"]}
        assert client.post(base, json=unknown, headers=admin).status_code == 422
        added = client.post(
            base,
            json=weak | {"password": STRONG, "districts": ["중구", "Jongno-gu"]},
            headers=admin,
        )
        assert added.status_code == 201, added.text
        assert added.json()["districts"] == ["종로구", "중구"]
        changed = client.patch(
            f"{base}/op2", json={"districts": ["강남구"], "role": "dispatcher"}, headers=admin
        )
        assert changed.json()["role"] == "dispatcher"
        assert changed.json()["districts"] == ["강남구"]
        # Revoking sessions logs the dispatcher out at once.
        revoked = client.post(f"{base}/dispatcher/sessions/revoke", headers=admin)
        assert revoked.json() == {"sessions_revoked": 1}
        assert client.get("/api/v1/session", headers=dispatcher).status_code == 401
        reset = client.post(f"{base}/dispatcher/totp-reset", headers=admin)
        assert reset.status_code == 200
        disabled = client.put(f"{base}/op2/disabled", json={"disabled": True}, headers=admin)
        assert disabled.json()["disabled"] is True
        assert (
            client.post("/api/v1/session", json={"username": "op2", "password": STRONG}).status_code
            == 401
        )
        assert (
            client.put(f"{base}/admin/disabled", json={"disabled": True}, headers=admin).status_code
            == 422
        )
        assert (
            client.patch(f"{base}/nobody", json={"role": "admin"}, headers=admin).status_code == 404
        )
        listed = {s["username"]: s for s in client.get(base, headers=admin).json()}
        assert listed["op2"]["disabled"] is True
        assert "password_hash" not in listed["op2"]
        assert client.get("/admin/staff").status_code == 200
    seal_audit(engine)
    with engine.connect() as conn:
        actions = list(
            conn.execute(sa.select(audit_log.c.action).order_by(audit_log.c.id)).scalars()
        )
    assert [a for a in actions if a.startswith("staff.")] == [
        "staff.add",
        "staff.change",
        "staff.sessions_revoked",
        "staff.totp_reset",
        "staff.disable",
    ]
