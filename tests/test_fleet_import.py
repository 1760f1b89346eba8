"""A center's stations, units and roads come from files: the public police CSVs, a unit list, an
OSMnx GraphML; imports are idempotent, report rejected rows, and what they store is what is used."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Engine
from tests import roadkit
from tests.apiclient import running_app, staff_headers
from tests.factories import build_world, seal_audit

from ansim.cli import main
from ansim.store.migrate import alembic_config, upgrade
from ansim.store.tables import audit_log, center_maps, stations, units

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
for candidate in (SHARED, Path("/work/shared/data")):
    if (candidate / "police").is_dir():
        SHARED = candidate
        break
GEOCODED = SHARED / "police" / "seoul_police_facilities_geocoded_2021.csv"
OFFICIAL = SHARED / "police" / "seoul_police_boxes_official_addresses_20220831.csv"
GRAPHML = SHARED / "road_network" / "seoul_central_jongno_junggu_drive.graphml"

needs_shared = pytest.mark.skipif(
    not GEOCODED.exists(), reason="shared/data is not beside the repo"
)


def _count(engine: Engine, table: sa.Table, *where: sa.ColumnElement[bool]) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(sa.select(sa.func.count()).select_from(table).where(*where)).scalar_one()
        )


@needs_shared
def test_stations_import_from_the_public_police_lists_idempotently(
    engine: Engine, database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = ["--database-url", database_url]
    rejects = tmp_path / "rejects.csv"
    assert main(["import", "stations", str(GEOCODED), "--rejects", str(rejects), *db]) == 0
    first = capsys.readouterr().out
    assert "274 rows read, 271 added, 0 updated, 0 unchanged, 3 rejected" in first
    assert "서울청: not a 경찰서, 지구대 or 파출소" in first
    assert rejects.read_text(encoding="utf-8").count("\n") == 4  # header + 3 rows
    # Two stations share a name in two districts; both are kept, each in its own 구.
    with engine.connect() as conn:
        sinsa = sorted(
            conn.execute(
                sa.select(stations.c.district).where(stations.c.name == "신사파출소")
            ).scalars()
        )
        suseo = conn.execute(
            sa.select(sa.func.count()).select_from(stations).where(stations.c.district == "수서구")
        ).scalar_one()
    assert sinsa == ["강남구", "관악구"]
    assert suseo == 0  # 수서경찰서 units stand in 강남구
    assert main(["import", "stations", str(GEOCODED), "--quiet", *db]) == 0
    assert "0 added, 0 updated, 271 unchanged" in capsys.readouterr().out
    # The address-only official list can only confirm known stations; the rest say why.
    assert main(["import", "stations", str(OFFICIAL), *db]) == 0
    official = capsys.readouterr().out
    assert "(address): 243 rows read, 0 added" in official
    assert "there is no offline geocoder" in official
    assert _count(engine, stations) == 271
    assert main(["audit", "verify", *db]) == 0


def test_units_import_retire_and_refuse_what_they_cannot_place(
    engine: Engine, database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    build_world(engine)  # 태평로파출소 with three cars
    db = ["--database-url", database_url]
    listing = tmp_path / "units.csv"
    listing.write_text(
        "call_sign,station,kind\n태평로21,태평로파출소,patrol_car\n태평로도보,태평로파출소,foot\n"
        "X1,없는파출소,patrol_car\n태평로12,태평로파출소,bicycle\n,태평로파출소,foot\n",
        encoding="utf-8",
    )
    assert main(["import", "units", str(listing), *db]) == 0
    out = capsys.readouterr().out
    assert "5 rows read, 2 added, 0 updated, 0 unchanged, 3 rejected" in out
    assert "no station '없는파출소'" in out
    assert "'bicycle' is not patrol_car or foot" in out
    assert main(["import", "units", str(listing), *db]) == 0
    assert "0 added, 0 updated, 2 unchanged" in capsys.readouterr().out
    with engine.connect() as conn:
        foot = conn.execute(sa.select(units).where(units.c.call_sign == "태평로도보")).one()
    assert foot.kind == "foot"
    assert foot.status == "available"
    assert foot.lat is not None
    bad = tmp_path / "bad.csv"
    bad.write_text("unit,station\nA,B\n", encoding="utf-8")
    assert main(["import", "units", str(bad), *db]) == 2
    assert "call_sign,station,kind" in capsys.readouterr().err
    # Retirement keeps the row; a station with units left is not retired.
    assert main(["admin", "retire-station", "태평로파출소", *db]) == 2
    assert "move or retire them first" in capsys.readouterr().err
    assert main(["admin", "retire-unit", "태평로도보", *db]) == 0
    with engine.connect() as conn:
        retired = conn.execute(sa.select(units).where(units.c.call_sign == "태평로도보")).one()
    assert retired.retired_at is not None
    assert retired.status == "off_duty"
    assert main(["import", "units", str(listing), *db]) == 0
    assert "a retired call sign is not reused" in capsys.readouterr().out
    seal_audit(engine)
    with engine.connect() as conn:
        actions = list(conn.execute(sa.select(audit_log.c.action)).scalars())
    assert actions.count("fleet.import_units") == 3
    assert "fleet.retire_unit" in actions


def test_stations_and_units_import_over_the_admin_api(engine: Engine, database_url: str) -> None:
    build_world(engine)
    with running_app(engine, database_url) as client:
        admin = staff_headers(client, "admin")
        csv_headers = {**admin, "content-type": "text/csv", "x-file-name": "mine.csv"}
        body = "name,kind,lat,lon,district\n시청앞파출소,police_box,37.5660,126.9780,중구\n없는곳,police_box,126.9,37.5,중구\n"
        answer = client.post(
            "/api/v1/admin/fleet/stations/import", content=body.encode(), headers=csv_headers
        )
        assert answer.status_code == 200, answer.text
        report = answer.json()
        assert (report["added"], len(report["rejected"])) == (1, 1)
        assert "outside Korea" in report["rejected"][0]["reason"]
        assert report["rejected"][0]["line"] == 3
        units_csv = "call_sign,station,kind\n시청1,시청앞파출소,patrol_car\n"
        answer = client.post(
            "/api/v1/admin/fleet/units/import", content=units_csv.encode(), headers=csv_headers
        )
        assert answer.json()["added"] == 1
        dispatcher = staff_headers(client, "dispatcher")
        refused = client.post(
            "/api/v1/admin/fleet/units/import",
            content=units_csv.encode(),
            headers={**dispatcher, "content-type": "text/csv"},
        )
        assert refused.status_code == 403
        retired = client.post("/api/v1/admin/fleet/units/시청1/retire", headers=admin)
        assert retired.status_code == 200
        assert retired.json()["retired_at"]
        station = client.post("/api/v1/admin/fleet/stations/시청앞파출소/retire", headers=admin)
        assert station.status_code == 200, station.text
        assert (
            client.post("/api/v1/admin/fleet/units/없음/retire", headers=admin).status_code == 404
        )


def test_imported_roads_are_stored_and_used_by_the_ranker_and_the_base_map(
    engine: Engine, database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    build_world(engine)
    # A small grid around City Hall: the world's units and the SOS below lie on it.
    nodes = {i * 10 + j: (i * 200.0 - 400, j * 200.0 - 400) for i in range(5) for j in range(5)}
    ways = [([i * 10 + j for j in range(5)], {"highway": "residential"}) for i in range(5)]
    ways += [([i * 10 + j for i in range(5)], {"highway": "residential"}) for j in range(5)]
    osm = tmp_path / "center.osm"
    osm.write_text(roadkit.osm_xml(nodes, ways), encoding="utf-8")
    db = ["--database-url", database_url]
    assert main(["import", "roads", str(osm), "--check", *db]) == 0
    assert _count(engine, center_maps) == 0
    assert main(["import", "roads", str(osm), *db]) == 0
    assert "25 nodes" in capsys.readouterr().out
    assert _count(engine, center_maps) == 1
    with running_app(engine, database_url) as client:
        from ansim.services.road_ranking import RoadRanker

        ranker = client.app.state.context.platform.ranker  # type: ignore[attr-defined]
        assert isinstance(ranker, RoadRanker)
        assert ranker.graph.node_count == 25
        board = staff_headers(client, "dispatcher")
        roads = client.get("/api/v1/map/roads", headers=board).json()
        assert len(roads["features"]) == 40  # each street segment once
        # An SOS beyond the imported streets is ranked by straight line and says so.
        far = ranker.rank(lat=37.60, lon=127.05, units=[])
        assert far == []
    if GRAPHML.exists():
        assert main(["import", "roads", str(GRAPHML), *db]) == 0
        assert "3384 nodes, 8830 directed edges" in capsys.readouterr().out


def test_the_center_migration_goes_down_and_up_keeping_operator_districts(
    engine: Engine, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    db = ["--database-url", database_url]
    build_world(engine)
    assert main(["cctv", "area", "cctv_operator", "종로구", *db]) == 0
    engine.dispose()
    command.downgrade(alembic_config(database_url), "0007_lifecycle")
    with engine.connect() as conn:
        names = set(sa.inspect(conn).get_table_names())
        areas = conn.execute(sa.text("SELECT gu FROM cctv_operator_areas")).scalars().all()
    assert "staff_districts" not in names
    assert "center_maps" not in names
    assert areas == ["종로구"]
    engine.dispose()
    upgrade(database_url)
    with engine.connect() as conn:
        districts = conn.execute(sa.text("SELECT district FROM staff_districts")).scalars().all()
    assert districts == ["종로구"]


def test_imported_district_boundaries_serve_jurisdiction_and_staff_districts(
    engine: Engine, database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ansim.geo.demo_data import district_at, install_districts

    build_world(engine)
    square = [[126.97, 37.56], [126.99, 37.56], [126.99, 37.58], [126.97, 37.58], [126.97, 37.56]]
    collection = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"name_ko": "시청구", "name_en": "Cityhall-gu", "code": "99001"},
                "geometry": {"type": "Polygon", "coordinates": [square]},
            }
        ],
    }
    boundaries = tmp_path / "center.geojson"
    boundaries.write_text(json.dumps(collection), encoding="utf-8")
    db = ["--database-url", database_url]
    broken = tmp_path / "broken.geojson"
    broken.write_text('{"type": "FeatureCollection", "features": [{"properties": {}}]}')
    try:
        assert main(["import", "districts", str(broken), *db]) == 2
        assert "has no name" in capsys.readouterr().err
        assert main(["import", "districts", str(boundaries), *db]) == 0
        assert "1 districts stored (시청구)" in capsys.readouterr().out
        assert main(["cctv", "area", "cctv_operator", "Cityhall-gu", *db]) == 0
        with running_app(engine, database_url) as client:
            found = district_at(37.5665, 126.978)
            assert found is not None
            assert found.name_ko == "시청구"
            assert district_at(37.50, 127.05) is None  # 강남 is not this center's
            admin = staff_headers(client, "admin")
            listed = {
                s["username"]: s for s in client.get("/api/v1/admin/staff", headers=admin).json()
            }
            assert listed["cctv_operator"]["districts"] == ["시청구"]
    finally:
        install_districts(None)
