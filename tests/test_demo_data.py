import os
from collections import Counter
from pathlib import Path

import pytest

from ansim.geo.demo_data import (
    ATTRIBUTION_FILE,
    FacilityKind,
    data_dir,
    district_at,
    district_named,
    load_camera_sites,
    load_districts,
    load_police_facilities,
    load_road_graph,
    load_schools,
)
from ansim.geo.demo_data_import import build_demo_data

SEOUL = (37.40, 126.70, 37.73, 127.22)


def inside_seoul(lat: float, lon: float) -> bool:
    return SEOUL[0] <= lat <= SEOUL[2] and SEOUL[1] <= lon <= SEOUL[3]


def test_road_graph_covers_central_seoul() -> None:
    graph = load_road_graph()
    assert (graph.node_count, graph.edge_count) == (3384, 8830)
    assert graph.edge_length_m.sum() == pytest.approx(607_600, rel=0.01)
    assert 37.54 < graph.node_lat.min() < graph.node_lat.max() < 37.59
    assert 126.94 < graph.node_lon.min() < graph.node_lon.max() < 127.01
    assert int(graph.edge_oneway.sum()) == 1254


def test_police_facilities_by_kind() -> None:
    facilities = load_police_facilities()
    kinds = Counter(f.kind for f in facilities)
    assert len(facilities) == 274
    assert kinds[FacilityKind.STATION] == 31
    assert kinds[FacilityKind.DISTRICT_UNIT] == 96
    assert kinds[FacilityKind.BOX] == 144
    assert all(inside_seoul(f.lat, f.lon) for f in facilities)
    assert "수서구" not in {f.gu for f in facilities}
    jongno = next(f for f in facilities if f.name == "서울종로경찰서")
    assert (jongno.lat, jongno.lon) == pytest.approx((37.5757, 126.9849), abs=0.001)
    with_phone = [f for f in facilities if f.phone]
    assert len(with_phone) > 200
    assert all(f.station.endswith("경찰서") for f in with_phone)


def test_schools_are_seoul_elementary_schools() -> None:
    schools = load_schools()
    assert len(schools) == 605
    assert len({s.school_id for s in schools}) == 605
    assert all(s.name.endswith("초등학교") for s in schools)
    assert all(inside_seoul(s.lat, s.lon) and s.address for s in schools)
    located = [s for s in schools[:60] if (d := district_at(s.lat, s.lon)) and d.name_ko == s.gu]
    assert len(located) >= 55


def test_camera_sites_cover_all_districts() -> None:
    sites = load_camera_sites()
    assert len(sites) == 37_324 + 1_930
    assert len({s.gu for s in sites}) == 25
    assert sum(s.camera_count for s in sites) >= 66_268
    assert all(inside_seoul(s.lat, s.lon) and s.camera_count >= 1 for s in sites[::97])


def test_districts_and_jurisdiction_lookup() -> None:
    districts = load_districts()
    assert len(districts) == 25
    assert len({d.code for d in districts}) == 25
    assert district_at(37.5663, 126.9779).name_en == "Jung-gu"  # type: ignore[union-attr]
    assert district_at(37.5172, 127.0473).name_ko == "강남구"  # type: ignore[union-attr]
    assert district_at(37.4563, 126.7052) is None  # Incheon
    gangnam = district_named("Gangnam-gu")
    assert gangnam is not None
    assert gangnam.contains(37.5172, 127.0473)
    assert not gangnam.contains(37.5663, 126.9779)


def test_attribution_names_every_source() -> None:
    text = (data_dir() / ATTRIBUTION_FILE).read_text(encoding="utf-8")
    for needle in (
        "© OpenStreetMap contributors",
        "ODbL",
        "서울특별시",
        "경찰청",
        "한국지방교육행정연구재단",
        "southkorea/seoul-maps",
        "Apache-2.0",
        "KOSTAT",
    ):
        assert needle in text


def shared_data() -> Path | None:
    configured = os.environ.get("ANSIM_SHARED_DATA")
    repo = Path(__file__).resolve().parents[1]
    candidate = Path(configured) if configured else repo.parent / "shared" / "data"
    return candidate if (candidate / "road_network").is_dir() else None


@pytest.mark.skipif(
    shared_data() is None,
    reason="shared Seoul data not found (set ANSIM_SHARED_DATA or place it at ../shared/data)",
)
def test_import_reproduces_the_bundled_files(tmp_path: Path) -> None:
    source = shared_data()
    assert source is not None
    report = build_demo_data(source, tmp_path)
    assert (report.road_nodes, report.road_edges) == (3384, 8830)
    assert report.police_facilities == 274
    assert report.schools == 605
    assert report.camera_sites == 39_254
    assert report.camera_rows_skipped == 0
    assert report.districts == 25
    assert sum(report.file_bytes.values()) < 3_000_000
    for name in report.file_bytes:
        assert (tmp_path / name).read_bytes() == (data_dir() / name).read_bytes(), name
