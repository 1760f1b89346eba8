"""The bundled Seoul demo data: roads, police facilities, schools, CCTV sites and districts."""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np

from ansim.domain.errors import InvalidInput
from ansim.domain.fixes import check_position
from ansim.geo.road_files import graph_from_compact
from ansim.geo.roads import RoadGraph

ROADS_FILE = "roads.json.gz"
POLICE_FILE = "police_facilities.json.gz"
SCHOOLS_FILE = "schools.json.gz"
CAMERAS_FILE = "camera_sites.json.gz"
DISTRICTS_FILE = "districts.json.gz"
DONGS_FILE = "dongs.json.gz"
ATTRIBUTION_FILE = "ATTRIBUTION.md"
DATA_FORMAT_VERSION = 1


class FacilityKind(StrEnum):
    STATION = "station"  # 경찰서
    DISTRICT_UNIT = "district_unit"  # 지구대
    BOX = "box"  # 파출소
    OTHER = "other"  # e.g. 서울청 HQ, 한강순찰대


@dataclass(frozen=True, slots=True)
class PoliceFacility:
    """A police station, district unit or police box with its (approximate) position."""

    name: str
    kind: FacilityKind
    gu: str
    lat: float
    lon: float
    dong: str
    station: str
    phone: str
    address: str


@dataclass(frozen=True, slots=True)
class School:
    """An elementary school (초등학교) of Seoul."""

    school_id: str
    name: str
    lat: float
    lon: float
    address: str
    gu: str
    founded_by: str


@dataclass(frozen=True, slots=True)
class CameraSite:
    """A public CCTV site: one pole or spot holding `camera_count` cameras."""

    gu: str
    address: str
    lat: float
    lon: float
    camera_count: int
    dong: str
    source: str


@dataclass(frozen=True, slots=True)
class District:
    """A Seoul autonomous district (자치구); polygons are lists of (lon, lat) rings, outer first."""

    code: str
    name_ko: str
    name_en: str
    polygons: tuple[tuple[tuple[tuple[float, float], ...], ...], ...]
    bbox: tuple[float, float, float, float]  # lon_min, lat_min, lon_max, lat_max

    def contains(self, lat: float, lon: float) -> bool:
        """True when the point lies inside the district (even-odd rule per polygon)."""
        lon_min, lat_min, lon_max, lat_max = self.bbox
        if not (lon_min <= lon <= lon_max and lat_min <= lat <= lat_max):
            return False
        return any(_inside_rings(polygon, lat, lon) for polygon in self.polygons)


Ring = tuple[tuple[float, float], ...]


def _inside_rings(rings: tuple[Ring, ...], lat: float, lon: float) -> bool:
    inside = False
    for ring in rings:
        xs = np.array([p[0] for p in ring])
        ys = np.array([p[1] for p in ring])
        x2, y2 = np.roll(xs, -1), np.roll(ys, -1)
        crosses = (ys > lat) != (y2 > lat)
        with np.errstate(divide="ignore", invalid="ignore"):
            x_at = xs + (lat - ys) * (x2 - xs) / (y2 - ys)
        inside ^= bool(np.count_nonzero(crosses & (lon < x_at)) % 2)
    return inside


def data_dir() -> Path:
    """Directory of the bundled Seoul files inside the installed package."""
    return Path(str(files("ansim").joinpath("data", "seoul")))


def read_document(path: Path) -> Any:
    """Reads one gzip JSON data file."""
    return json.loads(gzip.decompress(path.read_bytes()))


def _rows(name: str) -> list[dict[str, Any]]:
    doc = read_document(data_dir() / name)
    columns = doc["columns"]
    return [dict(zip(columns, row, strict=True)) for row in doc["rows"]]


@cache
def load_road_graph() -> RoadGraph:
    """The central-Seoul drive network (© OpenStreetMap contributors, ODbL)."""
    return graph_from_compact(read_document(data_dir() / ROADS_FILE))


@cache
def load_police_facilities() -> tuple[PoliceFacility, ...]:
    """All 경찰서, 지구대 and 파출소 of Seoul."""
    return tuple(
        PoliceFacility(**{**r, "kind": FacilityKind(r["kind"])}) for r in _rows(POLICE_FILE)
    )


@cache
def load_schools() -> tuple[School, ...]:
    """All elementary schools of Seoul."""
    return tuple(School(**r) for r in _rows(SCHOOLS_FILE))


@cache
def load_camera_sites() -> tuple[CameraSite, ...]:
    """Public CCTV sites of Seoul (all 25 gu, plus the 종로구 안심이 list)."""
    doc = read_document(data_dir() / CAMERAS_FILE)
    gus, dongs, sources = doc["gu_names"], doc["dong_names"], doc["source_names"]
    cols = doc["columns"]
    return tuple(
        CameraSite(
            gu=gus[g],
            address=a,
            lat=la / 1e6,
            lon=lo / 1e6,
            camera_count=c,
            dong=dongs[d],
            source=sources[s],
        )
        for g, a, la, lo, c, d, s in zip(
            cols["gu"],
            cols["address"],
            cols["lat_e6"],
            cols["lon_e6"],
            cols["count"],
            cols["dong"],
            cols["source"],
            strict=True,
        )
    )


# The center's own boundaries (`ansim import districts`), installed at start; None: the bundled ones.
_installed_districts: tuple[District, ...] | None = None


def load_districts() -> tuple[District, ...]:
    """The center's districts: the imported boundaries, else the bundled 25 자치구 of Seoul."""
    return _installed_districts if _installed_districts is not None else _bundled_districts()


def install_districts(districts: tuple[District, ...] | None) -> None:
    """Uses these districts from now on in this process (None: back to the bundled Seoul ones)."""
    global _installed_districts
    _installed_districts = districts


@cache
def _bundled_districts() -> tuple[District, ...]:
    """The 25 자치구 of Seoul with simplified boundaries."""
    return _load_areas(DISTRICTS_FILE, "districts")


@cache
def load_dongs() -> tuple[District, ...]:
    """The 법정동 of Seoul (e.g. 태평로1가) with simplified boundaries, as areas like districts."""
    return _load_areas(DONGS_FILE, "dongs")


def dong_at(lat: float, lon: float) -> District | None:
    """The 법정동 holding a position, or None outside Seoul (or in a simplification gap)."""
    check_position(lat, lon)
    return next((dong for dong in load_dongs() if dong.contains(lat, lon)), None)


def _load_areas(name: str, key: str) -> tuple[District, ...]:
    return districts_from_document(read_document(data_dir() / name), key=key)


def districts_from_document(doc: dict[str, Any], *, key: str = "districts") -> tuple[District, ...]:
    """Areas from ansim's compact document (micro-degree lon, lat pairs, flattened)."""
    districts = []
    for d in doc[key]:
        polygons = tuple(
            tuple(
                tuple((ring[i] / 1e6, ring[i + 1] / 1e6) for i in range(0, len(ring), 2))
                for ring in polygon
            )
            for polygon in d["polygons"]
        )
        points = [p for polygon in polygons for ring in polygon for p in ring]
        bbox = (
            min(p[0] for p in points),
            min(p[1] for p in points),
            max(p[0] for p in points),
            max(p[1] for p in points),
        )
        districts.append(District(d["code"], d["name_ko"], d["name_en"], polygons, bbox))
    return tuple(districts)


def districts_document_from_geojson(collection: Any, *, source: str) -> dict[str, Any]:
    """A GeoJSON FeatureCollection of (Multi)Polygons → ansim's compact districts document.

    Names come from SIG_KOR_NM / SIG_ENG_NM / SIG_CD (the Korean boundary files) or name_ko /
    name_en / code (or name); coordinates must be WGS84 lon, lat.
    """
    if not isinstance(collection, dict) or collection.get("type") != "FeatureCollection":
        raise InvalidInput("district boundaries must be a GeoJSON FeatureCollection")
    districts: list[dict[str, Any]] = []
    for number, feature in enumerate(collection.get("features") or [], start=1):
        props = feature.get("properties") or {}
        geometry = feature.get("geometry") or {}
        name_ko = props.get("SIG_KOR_NM") or props.get("name_ko") or props.get("name")
        if not name_ko:
            raise InvalidInput(f"feature {number} has no name (SIG_KOR_NM, name_ko or name)")
        if geometry.get("type") not in ("Polygon", "MultiPolygon"):
            raise InvalidInput(f"{name_ko}: geometry must be a Polygon or MultiPolygon")
        polygons = (
            [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]
        )
        flat = [
            [[round(float(v) * 1e6) for point in ring for v in point[:2]] for ring in polygon]
            for polygon in polygons
        ]
        for polygon in flat:
            for ring in polygon:
                lons, lats = ring[0::2], ring[1::2]
                if (
                    len(lons) < 4
                    or not all(-180e6 <= x <= 180e6 for x in lons)
                    or not all(-90e6 <= y <= 90e6 for y in lats)
                ):
                    raise InvalidInput(f"{name_ko}: a ring is not WGS84 lon, lat with 4+ points")
        districts.append(
            {
                "code": str(props.get("SIG_CD") or props.get("code") or number),
                "name_ko": str(name_ko),
                "name_en": str(props.get("SIG_ENG_NM") or props.get("name_en") or name_ko),
                "polygons": flat,
            }
        )
    if not districts:
        raise InvalidInput("the file holds no district")
    districts.sort(key=lambda d: str(d["code"]))
    return {"version": DATA_FORMAT_VERSION, "source": source, "districts": districts}


def district_at(lat: float, lon: float) -> District | None:
    """The 자치구 holding a position, or None outside Seoul (or in a simplification gap)."""
    check_position(lat, lon)
    for district in load_districts():
        if district.contains(lat, lon):
            return district
    return None


def district_named(name: str) -> District | None:
    """The 자치구 with this Korean or English name."""
    return next((d for d in load_districts() if name in (d.name_ko, d.name_en)), None)
