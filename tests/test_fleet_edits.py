"""Units and stations edited one row at a time over the admin API: the same rows (history stays),
audited, validated (4xx, never a bare 500), and one call sign names one unit (retired ones keep theirs)."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from tests.apiclient import SOS_BODY, app_request, running_app, staff_headers
from tests.factories import build_world, seal_audit

from ansim.cli import main
from ansim.store.tables import (
    assignments,
    audit_log,
    outbox,
    staff_users,
    stations,
    units,
)

BASE = "/api/v1/admin/fleet"


def _audit(engine: Engine, action: str) -> list[Any]:
    seal_audit(engine)
    with engine.connect() as conn:
        return list(
            conn.execute(
                sa.select(audit_log.c.subject, audit_log.c.detail)
                .where(audit_log.c.action == action)
                .order_by(audit_log.c.id)
            )
        )


def test_a_renamed_unit_keeps_its_incidents_orders_and_officer(
    engine: Engine, database_url: str
) -> None:
    world = build_world(engine)
    unit_id = world.unit_ids["태평로11"]
    with running_app(engine, database_url) as client:
        admin = staff_headers(client, "admin")
        board = staff_headers(client, "dispatcher")
        incident_id = client.post(
            "/api/v1/app/sos", **app_request(world.app_credential, SOS_BODY, "edit-0001")
        ).json()["incident_id"]
        ordered = client.get(f"/api/v1/incidents/{incident_id}", headers=board).json()
        assert [a["call_sign"] for a in ordered["assignments"]] == ["태평로11"]
        answer = client.patch(
            f"{BASE}/units/태평로11",
            json={"call_sign": " 태평로15 ", "kind": "foot"},
            headers=admin,
        )
        assert answer.status_code == 200, answer.text
        edited = answer.json()
        assert (edited["id"], edited["call_sign"], edited["kind"]) == (unit_id, "태평로15", "foot")
        assert (edited["station"], edited["district"]) == ("태평로파출소", "중구")
        # The same row: the order, the officer's account and the board's list follow the unit...
        detail = client.get(f"/api/v1/incidents/{incident_id}", headers=board).json()
        assert [(a["unit_id"], a["call_sign"]) for a in detail["assignments"]] == [
            (unit_id, "태평로15")
        ]
        listed = {
            u["id"]: u["call_sign"] for u in client.get("/api/v1/units", headers=board).json()
        }
        assert listed[unit_id] == "태평로15"
        # ...and the timeline keeps the call sign the unit had when it was ordered.
        ordered_entry = next(e for e in detail["timeline"] if e["kind"] == "unit_ordered")
        assert ordered_entry["data"]["unit"] == "태평로11"
        # Saving the same values again changes nothing and records nothing.
        again = client.patch(f"{BASE}/units/태평로15", json={"kind": "foot"}, headers=admin)
        assert again.status_code == 200
    with engine.connect() as conn:
        assert conn.execute(sa.select(assignments.c.unit_id)).scalars().all() == [unit_id]
        officer = conn.execute(
            sa.select(staff_users.c.unit_id).where(staff_users.c.username == "officer")
        ).scalar_one()
        assert officer == unit_id
        changed = (
            conn.execute(sa.select(outbox.c.data).where(outbox.c.type == "unit.changed"))
            .scalars()
            .all()
        )
    assert [(c["call_sign"], c["previous_call_sign"]) for c in changed] == [
        ("태평로15", "태평로11")
    ]
    entries = _audit(engine, "fleet.edit_unit")
    assert len(entries) == 1
    subject, detail = entries[0]
    assert subject == f"unit:{unit_id}"
    assert detail["changes"] == {
        "call_sign": {"from": "태평로11", "to": "태평로15"},
        "kind": {"from": "patrol_car", "to": "foot"},
    }


def test_unit_edits_refuse_clashes_retired_units_and_bad_input(
    engine: Engine, database_url: str
) -> None:
    build_world(engine)
    with running_app(engine, database_url) as client:
        admin = staff_headers(client, "admin")
        csv_headers = {**admin, "content-type": "text/csv"}
        client.post(
            f"{BASE}/stations/import",
            content="name,kind,lat,lon,district\n시청앞파출소,police_box,37.5660,126.9780,중구\n".encode(),
            headers=csv_headers,
        )

        def edit(call_sign: str, body: dict[str, Any]) -> tuple[int, str]:
            answer = client.patch(f"{BASE}/units/{call_sign}", json=body, headers=admin)
            return answer.status_code, answer.text

        status, text = edit("태평로11", {"call_sign": "남대문21"})
        assert (status, "another unit's" in text) == (409, True)
        assert client.post(f"{BASE}/units/종로31/retire", headers=admin).status_code == 200
        status, text = edit("태평로11", {"call_sign": "종로31"})
        assert (status, "a retired unit's" in text) == (409, True)
        status, text = edit("종로31", {"kind": "foot"})
        assert (status, "is retired" in text) == (409, True)
        assert edit("태평로11", {"kind": "bicycle"})[0] == 422
        assert edit("태평로11", {"call_sign": "   "})[0] == 422
        assert edit("태평로11", {"call_sign": "x" * 51})[0] == 422
        assert edit("태평로11", {"colour": "blue"})[0] == 422
        status, text = edit("태평로11", {"station": "없는파출소"})
        assert (status, "no station" in text) == (422, True)
        assert edit("없음99", {"kind": "foot"})[0] == 404
        # A unit may move to another station; the retired station takes none.
        status, text = edit("태평로11", {"station": "중구 시청앞파출소"})
        assert status == 200, text
        assert edit("태평로11", {"station": "시청앞파출소"})[0] == 200  # already there: no entry
        assert client.post(f"{BASE}/units/태평로11/retire", headers=admin).status_code == 200
        assert client.post(f"{BASE}/stations/시청앞파출소/retire", headers=admin).status_code == 200
        status, text = edit("남대문21", {"station": "시청앞파출소"})
        assert (status, "retired" in text) == (409, True)
        dispatcher = staff_headers(client, "dispatcher")
        refused = client.patch(f"{BASE}/units/남대문21", json={"kind": "foot"}, headers=dispatcher)
        assert refused.status_code == 403
        listed = client.get(f"{BASE}/units", headers=admin).json()
        # Retired last, each part by call sign.
        assert [u["call_sign"] for u in listed] == ["남대문21", "종로31", "태평로11"]
        assert [u["retired_at"] is not None for u in listed] == [False, True, True]
    moved = _audit(engine, "fleet.edit_unit")
    assert [entry.detail["changes"] for entry in moved] == [
        {"station": {"from": "중구 태평로파출소", "to": "중구 시청앞파출소"}}
    ]


def test_an_admin_edits_a_station_and_its_units_stay_with_it(
    engine: Engine, database_url: str
) -> None:
    world = build_world(engine)
    with running_app(engine, database_url) as client:
        admin = staff_headers(client, "admin")
        client.post(
            f"{BASE}/stations/import",
            content="name,kind,lat,lon,district\n시청앞파출소,police_box,37.5660,126.9780,중구\n".encode(),
            headers={**admin, "content-type": "text/csv"},
        )

        def edit(name: str, body: dict[str, Any]) -> Any:
            return client.patch(f"{BASE}/stations/{name}", json=body, headers=admin)

        # 파출소 → 지구대: the kind follows the name; the district may be written in English.
        answer = edit(
            "태평로파출소",
            {"name": "태평로지구대", "lat": 37.5675, "lon": 126.9772, "district": "Jung-gu"},
        )
        assert answer.status_code == 200, answer.text
        station = answer.json()
        assert (station["id"], station["name"], station["kind"]) == (
            world.station_id,
            "태평로지구대",
            "district_unit",
        )
        assert (station["lat"], station["lon"], station["district"], station["units"]) == (
            37.5675,
            126.9772,
            "중구",
            3,
        )
        assert edit("중구 시청앞파출소", {"name": "태평로지구대"}).status_code == 409
        assert edit("태평로지구대", {"lat": 126.97, "lon": 37.56}).status_code == 422
        assert edit("태평로지구대", {"lat": 37.56}).status_code == 422
        unknown = edit("태평로지구대", {"district": "Gotham"})
        assert unknown.status_code == 422
        assert "unknown district" in unknown.text
        assert edit("태평로지구대", {"kind": "fire_station"}).status_code == 422
        assert edit("태평로지구대", {"name": ""}).status_code == 422
        assert edit("없는파출소", {"name": "새파출소"}).status_code == 404
        assert client.post(f"{BASE}/stations/시청앞파출소/retire", headers=admin).status_code == 200
        assert edit("시청앞파출소", {"name": "새파출소"}).status_code == 409
        listed = client.get(f"{BASE}/stations", headers=admin).json()
        assert [(s["name"], s["units"]) for s in listed] == [
            ("태평로지구대", 3),
            ("시청앞파출소", 0),
        ]
    with engine.connect() as conn:
        homes = set(conn.execute(sa.select(units.c.station_id)).scalars())
        assert homes == {world.station_id}
        assert conn.execute(sa.select(sa.func.count()).select_from(stations)).scalar_one() == 2
    entries = _audit(engine, "fleet.edit_station")
    assert len(entries) == 1
    assert entries[0].subject == f"station:{world.station_id}"
    assert entries[0].detail["changes"]["name"] == {"from": "태평로파출소", "to": "태평로지구대"}
    assert entries[0].detail["changes"]["kind"] == {"from": "police_box", "to": "district_unit"}


def test_the_cli_edits_a_unit_and_a_station_with_the_same_commands(
    engine: Engine, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    world = build_world(engine)
    db = ["--database-url", database_url]
    assert (
        main(["admin", "edit-unit", "종로31", "--call-sign", "종로35", "--kind", "foot", *db]) == 0
    )
    assert "종로31: now 종로35 (foot)" in capsys.readouterr().out
    assert main(["admin", "edit-unit", "종로35", "--call-sign", "남대문21", *db]) == 2
    assert "another unit's" in capsys.readouterr().err
    assert main(["admin", "edit-station", "태평로파출소", "--lat", "37.5", *db]) == 2
    assert "both lat and lon" in capsys.readouterr().err
    assert main(["admin", "edit-station", "태평로파출소", "--new-name", "태평로지구대", *db]) == 0
    assert "now 중구 태평로지구대 (district_unit)" in capsys.readouterr().out
    with engine.connect() as conn:
        row = conn.execute(sa.select(units).where(units.c.call_sign == "종로35")).one()
    assert (row.id, row.kind) == (world.unit_ids["종로31"], "foot")
    assert [e.subject for e in _audit(engine, "fleet.edit_station")] == [
        f"station:{world.station_id}"
    ]
