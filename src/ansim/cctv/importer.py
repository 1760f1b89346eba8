"""Import command: read a CSV (or the bundled sites), validate, and store the accepted rows at once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from ansim.cctv import registry
from ansim.cctv.csv_import import CameraRow, ReadResult, Rejection, read_file, read_text
from ansim.store.db import make_engine, make_session_factory
from ansim.store.uow import UnitOfWork

Progress = Callable[[int, int], None]


@dataclass
class ImportReport:
    source: str
    layout: str
    read: int
    inserted: int
    updated: int
    merged: int
    rejected: list[Rejection] = field(default_factory=list)


def store_rows(
    uow: UnitOfWork, *, rows: list[CameraRow], source: str, at: datetime
) -> registry.ImportCounts:
    """One transaction: a half-imported file never reaches the selection."""
    with uow.begin() as session:
        return registry.import_rows(session, rows=rows, source=source, at=at)


def import_file(path: Path, *, database_url: str, progress: Progress | None = None) -> ImportReport:
    result = read_file(path, progress=progress)
    return _store(database_url, path.name, result)


def import_text(
    text: str, *, source: str, database_url: str, progress: Progress | None = None
) -> ImportReport:
    result = read_text(text, source=source, progress=progress)
    return _store(database_url, source, result)


def import_bundled(*, database_url: str, progress: Progress | None = None) -> ImportReport:
    """The bundled Seoul sites (already validated when the bundle was built) through the same checks."""
    from ansim.geo.demo_data import load_camera_sites

    lines = ["자치구,안심주소,위도,경도,CCTV수량,행정동"]
    for site in load_camera_sites():
        address = site.address.replace('"', "'")
        lines.append(f'{site.gu},"{address}",{site.lat},{site.lon},{site.camera_count},{site.dong}')
    return import_text(
        "\n".join(lines) + "\n",
        source="bundled Seoul sites",
        database_url=database_url,
        progress=progress,
    )


def _store(database_url: str, source: str, result: ReadResult) -> ImportReport:
    engine = make_engine(database_url)
    try:
        counts = store_rows(
            UnitOfWork(make_session_factory(engine)),
            rows=result.rows,
            source=source,
            at=datetime.now(UTC),
        )
    finally:
        engine.dispose()
    return ImportReport(
        source,
        result.layout.value,
        result.read,
        counts.inserted,
        counts.updated,
        result.merged,
        result.rejected,
    )
