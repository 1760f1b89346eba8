"""Camera registry import: both public layouts, every kind of bad row reported, re-imports idempotent."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from ansim.cctv import registry
from ansim.cctv.cameras import parse_viewing_direction
from ansim.cctv.csv_import import Layout, read_file, read_text
from ansim.cctv.importer import import_file
from ansim.cli import main
from ansim.domain.errors import InvalidInput
from ansim.store.db import make_session_factory
from ansim.store.uow import UnitOfWork

FIXTURES = Path(__file__).parent / "fixtures" / "cctv"


@pytest.mark.parametrize(
    ("text", "bearing", "omni"),
    [
        ("360도전방면", None, True),
        ("전방향", None, True),
        ("북측", 0.0, False),
        ("남동쪽", 135.0, False),
        ("서 향", 270.0, False),
        ("북서방향", 315.0, False),
        ("45도", 45.0, False),
        ("NE", 45.0, False),
        ("역삼역방면", None, False),
        ("", None, False),
        ("400도", None, False),
    ],
)
def test_viewing_direction_words_become_bearings(
    text: str, bearing: float | None, omni: bool
) -> None:
    direction = parse_viewing_direction(text)
    assert (direction.bearing_deg, direction.omnidirectional) == (bearing, omni)


def test_standard_layout_keeps_good_rows_and_reports_each_bad_one() -> None:
    result = read_file(FIXTURES / "standard_gangnam_sample.csv")
    assert result.layout == Layout.STANDARD
    assert len(result.rows) == 15
    first = result.rows[0]
    assert (first.gu, first.purpose, first.camera_count) == ("강남구", "교통단속", 1)
    assert first.pixels == 4_000_000  # 400 만 화소
    assert first.retention_days == 30
    assert first.omnidirectional
    by_address = {r.address.split("(")[0].strip(): r for r in result.rows}
    assert by_address["서울특별시 강남구 테헤란로 1"].bearing_deg == 0.0
    assert by_address["서울특별시 강남구 테헤란로 2"].bearing_deg == 135.0
    assert by_address["서울특별시 강남구 테헤란로 2"].pixels == 410_000
    assert by_address["서울특별시 강남구 테헤란로 3"].bearing_deg is None
    kinds = {r.line: r.kind for r in result.rejected}
    assert kinds == {
        17: "missing_coordinates",
        18: "swapped_coordinates",
        19: "impossible_count",
        20: "impossible_pixels",
        21: "impossible_retention",
        22: "not_a_number",
        23: "outside_korea",
        24: "missing_coordinates",
        25: "outside_korea",
    }
    assert "swapped coordinates" in next(r.reason for r in result.rejected if r.line == 18)


def test_ansimi_layout_with_purpose_and_bad_rows() -> None:
    result = read_file(FIXTURES / "ansimi_gangnam_sample.csv")
    assert result.layout == Layout.ANSIMI
    assert len(result.rows) == 10
    assert {r.purpose for r in result.rows} == {"방범", "불법주정차"}
    assert all(r.gu == "강남구" and r.direction_text == "" for r in result.rows)
    assert [(r.line, r.kind) for r in result.rejected] == [
        (12, "missing_coordinates"),
        (13, "swapped_coordinates"),
        (14, "impossible_count"),
        (15, "cells"),
    ]


def test_cp949_files_read_like_utf8() -> None:
    utf8 = read_file(FIXTURES / "ansimi_jongno_sample.csv")
    cp949 = read_file(FIXTURES / "ansimi_jongno_sample_cp949.csv")
    assert [r.address for r in cp949.rows] == [r.address for r in utf8.rows]
    assert len(utf8.rows) == 10
    assert not utf8.rejected


def test_repeated_rows_are_reported_and_second_rows_of_a_site_merged() -> None:
    result = read_file(FIXTURES / "seoul_25gu_sample.csv")
    assert [(r.line, r.kind) for r in result.rejected] == [(12, "duplicate"), (14, "duplicate")]
    assert result.merged == 1
    pump = next(r for r in result.rows if r.address.startswith("450."))
    assert pump.camera_count == 3
    assert result.read == 14


def test_unknown_layout_is_refused_whole() -> None:
    with pytest.raises(InvalidInput, match="unknown CSV layout"):
        read_text("name,x,y\na,1,2\n", source="other.csv")


def test_progress_reaches_the_end() -> None:
    calls: list[tuple[int, int]] = []
    read_file(FIXTURES / "standard_gangnam_sample.csv", progress=lambda d, t: calls.append((d, t)))
    assert calls[-1][0] == calls[-1][1] == 24


def test_import_stores_rows_once_and_updates_on_reimport(engine: Engine, database_url: str) -> None:
    first = import_file(FIXTURES / "standard_gangnam_sample.csv", database_url=database_url)
    assert (first.inserted, first.updated) == (15, 0)
    assert len(first.rejected) == 9
    again = import_file(FIXTURES / "standard_gangnam_sample.csv", database_url=database_url)
    assert (again.inserted, again.updated) == (0, 15)
    uow = UnitOfWork(make_session_factory(engine))
    with uow.read() as session:
        cameras = registry.list_all(session)
    assert len(cameras) == 15
    assert {c.source for c in cameras} == {"standard_gangnam_sample.csv"}
    assert all(33 < c.lat < 39 and 124 < c.lon < 132 for c in cameras)


def test_cli_import_prints_the_report_and_writes_rejects(
    engine: Engine, database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rejects = tmp_path / "rejects.csv"
    code = main(
        [
            "import",
            "cameras",
            str(FIXTURES / "ansimi_gangnam_sample.csv"),
            "--database-url",
            database_url,
            "--rejects",
            str(rejects),
            "--quiet",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "10 sites added" in out
    assert "4 rejected" in out
    assert "swapped_coordinates" in out
    assert rejects.read_text(encoding="utf-8").count("\n") == 5
