"""Enrolment: people with guardians and numbers, consent, audited edits, CSV import; the device CLI."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from tests.apiclient import staff_headers
from tests.factories import PASSWORD, T0, World, build_world
from tests.intakekit import Clock, clocked_app
from tests.live import serving

from ansim.api.app import create_app
from ansim.cli import device as device_cli
from ansim.cli import main
from ansim.settings import Settings
from ansim.store.tables import subscribers

CSV = """name,birth_year,school,guardian_name,guardian_phone,guardian_relation,one_touch_number,consent_date
박지우,2017,서울덕수초등학교,박서준,010-1111-2222,mother,010-3333-4444,2026-09-01
최도윤,2016,서울덕수초등학교,최하은,010-5555-6666,father,,2026-09-02
"""


@pytest.fixture
def admin(engine: Engine, database_url: str) -> Iterator[tuple[TestClient, World, dict[str, str]]]:
    world = build_world(engine)
    with clocked_app(engine, database_url, Clock(T0)) as client:
        yield client, world, staff_headers(client, "admin")


def _people(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(subscribers)).scalar_one())


def test_an_admin_enrols_a_pupil_with_consent_and_every_edit_is_audited(
    admin: tuple[TestClient, World, dict[str, str]],
) -> None:
    client, _, headers = admin
    body = {
        "name": "정하윤",
        "birth_year": 2017,
        "school": "서울덕수초등학교",
        "consent_at": "2026-09-01T09:00:00+09:00",
        "guardians": [{"name": "정우진", "phone": "010-7777-8888", "relation": "father"}],
        "one_touch_numbers": ["010-4444-5555"],
    }
    made = client.post("/api/v1/admin/people", json=body, headers=headers)
    assert made.status_code == 201, made.text
    person_id = made.json()["person"]["id"]
    assert made.json()["one_touch_numbers"] == ["+821044445555"]
    edit = client.patch(
        f"/api/v1/admin/people/{person_id}", json={"school": "서울교동초등학교"}, headers=headers
    )
    audit = edit.json()["audit"]
    assert [a["action"] for a in audit] == ["enrolled", "edited"]
    assert audit[1]["changes"] == {"school": {"from": "서울덕수초등학교", "to": "서울교동초등학교"}}
    assert audit[1]["actor"] == "admin"
    no_consent = {k: v for k, v in body.items() if k != "consent_at"}
    assert client.post("/api/v1/admin/people", json=no_consent, headers=headers).status_code == 422
    dispatcher = staff_headers(client, "dispatcher")
    assert client.post("/api/v1/admin/people", json=body, headers=dispatcher).status_code == 403


def test_a_school_list_imports_whole_or_not_at_all(
    admin: tuple[TestClient, World, dict[str, str]], engine: Engine
) -> None:
    client, _, headers = admin
    before = _people(engine)
    broken = CSV + "한지민,20x7,서울덕수초등학교,,,,,2026-09-03\n"
    refused = client.post(
        "/api/v1/admin/people/import",
        content=broken.encode(),
        headers={**headers, "content-type": "text/csv"},
    )
    assert refused.status_code == 422
    assert "row 4" in refused.json()["detail"]
    assert _people(engine) == before
    bad_number = CSV + "한지민,2017,서울덕수초등학교,한부모,1234,mother,,2026-09-03\n"
    refused = client.post(
        "/api/v1/admin/people/import",
        content=bad_number.encode(),
        headers={**headers, "content-type": "text/csv"},
    )
    assert refused.status_code == 422
    assert "row 4" in refused.json()["detail"]
    assert "010-1234-5678" in refused.json()["detail"]
    assert _people(engine) == before
    imported = client.post(
        "/api/v1/admin/people/import",
        content=CSV.encode(),
        headers={**headers, "content-type": "text/csv"},
    )
    assert imported.status_code == 201
    assert imported.json()["enrolled"] == 2
    listed = client.get(
        "/api/v1/admin/people", params={"school": "서울덕수초등학교"}, headers=headers
    ).json()
    assert {p["name"] for p in listed} >= {"박지우", "최도윤"}
    assert client.get("/admin/enrol").status_code == 200


def test_the_device_cli_enrols_sends_an_sos_heartbeats_and_walks_the_roads(
    engine: Engine,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    world = build_world(engine)
    monkeypatch.setattr(device_cli, "STATE_DIR", tmp_path)
    app = create_app(Settings(database_url=database_url, outbox_poll_s=0.05), engine=engine)
    with serving(app) as live:
        base = ["device", "--server", live.url, "--terminal", "UA-CLI-1"]
        assert (
            main(
                [
                    *base,
                    "enrol",
                    "--subscriber",
                    world.subscriber_id,
                    "--interval",
                    "60",
                    "--password",
                    PASSWORD,
                ]
            )
            == 0
        )
        main([*base, "sos", "--lat", "37.5665", "--lon", "126.9780"])
        main([*base, "heartbeat", "--battery", "70"])
        main(
            [
                *base,
                "walk",
                "--start",
                "37.5665,126.9780",
                "--end",
                "37.5651,126.9895",
                "--every",
                "60",
                "--fast",
            ]
        )
    lines = capsys.readouterr().out.splitlines()
    assert '"status": "accepted"' in lines[1]
    assert sum('"type": "ack"' in line for line in lines[3:]) >= 3  # the walk's location fixes
    with engine.connect() as conn:
        assert conn.execute(sa.text("select count(*) from location_fixes")).scalar_one() >= 4
