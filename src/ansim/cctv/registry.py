"""The camera registry in the store: bulk import, look-up and per-camera settings."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ansim.cctv.cameras import Camera, check_camera_settings
from ansim.cctv.csv_import import CameraRow
from ansim.domain.errors import InvalidInput, NotFound
from ansim.domain.fixes import check_position
from ansim.store.tables import cameras

_BATCH = 2000
_IMPORTED = (
    "source", "gu", "address", "lat", "lon", "purpose", "camera_count", "pixels",
    "direction_text", "bearing_deg", "omnidirectional", "retention_days", "manager",
)  # fmt: skip
_SETTINGS = (
    "ptz", "onvif_url", "onvif_username", "onvif_password", "onvif_profile", "onvif_preset",
    "stream_url", "fov_deg", "range_m", "pan_zero_deg", "mount_height_m",
)  # fmt: skip
_CAMERA_FIELDS = tuple(f.name for f in fields(Camera))


@dataclass(frozen=True, slots=True)
class ImportCounts:
    inserted: int
    updated: int


def import_rows(
    session: Session, *, rows: Sequence[CameraRow], source: str, at: datetime
) -> ImportCounts:
    """Adds new sites and refreshes known ones (keeps their PTZ/ONVIF settings); flushes, never commits."""
    known: dict[str, str] = {}
    keys = [r.site_key for r in rows]
    for start in range(0, len(keys), _BATCH):
        chunk = keys[start : start + _BATCH]
        found = session.execute(
            sa.select(cameras.c.site_key, cameras.c.id).where(cameras.c.site_key.in_(chunk))
        )
        known.update((key, camera_id) for key, camera_id in found)
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for row in rows:
        values: dict[str, Any] = {
            name: getattr(row, name) for name in _IMPORTED if name != "source"
        }
        values.update(source=source, updated_at=at)
        if row.site_key in known:
            updates.append(
                {"b_id": known[row.site_key], **{f"v_{k}": v for k, v in values.items()}}
            )
        else:
            inserts.append(
                {
                    "id": str(uuid.uuid4()),
                    "site_key": row.site_key,
                    "ptz": False,
                    "pan_zero_deg": 0.0,
                    "mount_height_m": 4.0,
                    **values,
                }
            )
    for start in range(0, len(inserts), _BATCH):
        session.execute(cameras.insert(), inserts[start : start + _BATCH])
    if updates:
        statement = (
            cameras.update()
            .where(cameras.c.id == sa.bindparam("b_id"))
            .values({name: sa.bindparam(f"v_{name}") for name in (*_IMPORTED, "updated_at")})
        )
        for start in range(0, len(updates), _BATCH):
            session.connection().execute(statement, updates[start : start + _BATCH])
    session.flush()
    return ImportCounts(inserted=len(inserts), updated=len(updates))


def _camera(row: sa.RowMapping) -> Camera:
    return Camera(**{name: row[name] for name in _CAMERA_FIELDS})


def get(session: Session, *, camera_id: str) -> Camera:
    """The camera with this id, or NotFound."""
    row = session.execute(sa.select(cameras).where(cameras.c.id == camera_id)).mappings().first()
    if row is None:
        raise NotFound(f"no camera {camera_id}")
    return _camera(row)


def get_many(session: Session, *, camera_ids: Iterable[str]) -> dict[str, Camera]:
    ids = list(set(camera_ids))
    found: dict[str, Camera] = {}
    for start in range(0, len(ids), _BATCH):
        rows = session.execute(
            sa.select(cameras).where(cameras.c.id.in_(ids[start : start + _BATCH]))
        ).mappings()
        found.update({row["id"]: _camera(row) for row in rows})
    return found


def list_all(session: Session) -> list[Camera]:
    """Every camera (the index is built from this)."""
    return [_camera(row) for row in session.execute(sa.select(cameras)).mappings()]


def revision(session: Session) -> tuple[int, datetime | None]:
    """Changes whenever the registry does: (count, last update)."""
    count, last = session.execute(
        sa.select(sa.func.count(), sa.func.max(cameras.c.updated_at))
    ).one()
    return int(count), last


def count(session: Session) -> int:
    return revision(session)[0]


def create(
    session: Session,
    *,
    gu: str,
    address: str,
    lat: float,
    lon: float,
    purpose: str,
    at: datetime,
    camera_count: int = 1,
    **settings: Any,
) -> Camera:
    """Registers one camera by hand (a PTZ dome the district installed, say)."""
    check_position(lat, lon)
    if not 1 <= camera_count <= 500:
        raise InvalidInput(f"camera count must be 1-500, got {camera_count}")
    camera = Camera(
        id=str(uuid.uuid4()),
        site_key=f"manual:{uuid.uuid4().hex}",
        source="manual",
        gu=gu,
        address=address,
        lat=lat,
        lon=lon,
        purpose=purpose,
        camera_count=camera_count,
        updated_at=at,
    )
    _apply(camera, settings)
    session.execute(
        cameras.insert().values(**{name: getattr(camera, name) for name in _CAMERA_FIELDS})
    )
    session.flush()
    return camera


def update_settings(session: Session, *, camera_id: str, at: datetime, **settings: Any) -> Camera:
    """Changes PTZ, ONVIF, stream, field of view or range of one camera."""
    camera = get(session, camera_id=camera_id)
    _apply(camera, settings)
    camera.updated_at = at
    session.execute(
        cameras.update()
        .where(cameras.c.id == camera_id)
        .values(updated_at=at, **{name: getattr(camera, name) for name in _SETTINGS})
    )
    session.flush()
    return camera


def _apply(camera: Camera, settings: dict[str, Any]) -> None:
    unknown = set(settings) - set(_SETTINGS)
    if unknown:
        raise InvalidInput(f"unknown camera settings: {', '.join(sorted(unknown))}")
    for name, value in settings.items():
        setattr(camera, name, value)
    check_camera_settings(
        fov_deg=camera.fov_deg,
        range_m=camera.range_m,
        pan_zero_deg=camera.pan_zero_deg,
        mount_height_m=camera.mount_height_m,
        onvif_url=camera.onvif_url,
        stream_url=camera.stream_url,
    )
