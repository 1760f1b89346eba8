"""Turns the shared Seoul open data into the compact files shipped in ansim/data/seoul."""

from __future__ import annotations

import csv
import gzip
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ansim.domain.errors import InvalidInput
from ansim.geo.demo_data import (
    CAMERAS_FILE,
    DATA_FORMAT_VERSION,
    DISTRICTS_FILE,
    DONGS_FILE,
    POLICE_FILE,
    ROADS_FILE,
    SCHOOLS_FILE,
    FacilityKind,
)
from ansim.geo.road_files import read_graphml, write_compact

ROAD_SOURCE = "road_network/seoul_central_jongno_junggu_drive.graphml"
POLICE_SOURCE = "police/seoul_police_facilities_geocoded_2021.csv"
POLICE_OFFICIAL_SOURCE = "police/seoul_police_boxes_official_addresses_20220831.csv"
SCHOOLS_SOURCE = "schools/seoul_elementary_schools_20250325.csv"
CCTV_SOURCES = {
    "seoul-cctv-25gu-2021": "cctv/seoul_cctv_25gu_2021_derived.csv",
    "jongno-ansimi-20221201": "cctv/seoul_ansimi_cctv_jongno_20221201.csv",
}
DISTRICTS_SOURCE = "boundaries/seoul_gu_juso2015_simple.geojson"
DONGS_SOURCE = "boundaries/seoul_beopjeongdong_juso2015_simple.geojson"
ROADS_ATTRIBUTION = (
    "© OpenStreetMap contributors, ODbL 1.0 (https://www.openstreetmap.org/copyright)"
)
# Generous box around Seoul: rows outside it are geocoding slips, not cameras.
SEOUL_BBOX = (37.40, 126.70, 37.73, 127.22)  # lat_min, lon_min, lat_max, lon_max
# "수서구" is not a district; those rows are 수서경찰서 units, all in 강남구.
_GU_FIXES = {"수서구": "강남구"}


@dataclass(frozen=True, slots=True)
class DemoDataReport:
    """What one import produced: counts per kind and the size of every written file."""

    road_nodes: int
    road_edges: int
    police_facilities: int
    police_matched_official: int
    schools: int
    camera_sites: int
    camera_rows_skipped: int
    districts: int
    file_bytes: dict[str, int] = field(default_factory=dict)


def _read_csv(path: Path) -> list[dict[str, str]]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            return list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise InvalidInput(f"cannot read {path}: {err}") from err


def _in_seoul(lat: float, lon: float) -> bool:
    return (
        math.isfinite(lat)
        and math.isfinite(lon)
        and SEOUL_BBOX[0] <= lat <= SEOUL_BBOX[2]
        and SEOUL_BBOX[1] <= lon <= SEOUL_BBOX[3]
    )


def _write(out_dir: Path, name: str, doc: Any) -> int:
    text = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
    data = gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0)
    (out_dir / name).write_bytes(data)
    return len(data)


def _table(columns: list[str], rows: list[list[Any]], source: str) -> dict[str, Any]:
    return {"version": DATA_FORMAT_VERSION, "source": source, "columns": columns, "rows": rows}


def _facility_kind(name: str) -> FacilityKind:
    for suffix, kind in (
        ("경찰서", FacilityKind.STATION),
        ("지구대", FacilityKind.DISTRICT_UNIT),
        ("파출소", FacilityKind.BOX),
    ):
        if name.endswith(suffix):
            return kind
    return FacilityKind.OTHER


def police_table(shared: Path) -> tuple[dict[str, Any], int]:
    """Police facilities with lon/lat swapped into place, joined to the 2022 official list."""
    official = {r["관서명"] + r["구분"]: r for r in _read_csv(shared / POLICE_OFFICIAL_SOURCE)}
    rows, matched = [], 0
    for r in _read_csv(shared / POLICE_SOURCE):
        name = r["관서명"].strip()
        lon, lat = float(r["경도"]), float(r["위도"])  # the file puts longitude first
        if not _in_seoul(lat, lon):
            raise InvalidInput(f"police facility {name} lies outside Seoul: {lat},{lon}")
        hit = official.get(name)
        matched += hit is not None
        station = f"{hit['경찰서']}경찰서" if hit else (name if name.endswith("경찰서") else "")
        rows.append(
            [
                name,
                _facility_kind(name).value,
                _GU_FIXES.get(r["자치구"], r["자치구"]),
                round(lat, 7),
                round(lon, 7),
                r["행정동"],
                station,
                hit["경찰_전화번호"] if hit else "",
                " ".join(hit["경찰_주소"].split()) if hit else "",
            ]
        )
    columns = ["name", "kind", "gu", "lat", "lon", "dong", "station", "phone", "address"]
    return _table(columns, rows, f"{POLICE_SOURCE} + {POLICE_OFFICIAL_SOURCE}"), matched


def schools_table(shared: Path) -> dict[str, Any]:
    """Elementary schools: id, name, position, road address and district."""
    rows = []
    for r in _read_csv(shared / SCHOOLS_SOURCE):
        lat, lon = float(r["위도"]), float(r["경도"])
        if not _in_seoul(lat, lon):
            raise InvalidInput(f"school {r['학교명']} lies outside Seoul: {lat},{lon}")
        address = r["소재지도로명주소"] or r["소재지지번주소"]
        parts = address.split()
        gu = parts[1] if len(parts) > 1 and parts[1].endswith("구") else ""
        rows.append(
            [r["학교ID"], r["학교명"], round(lat, 7), round(lon, 7), address, gu, r["설립형태"]]
        )
    columns = ["school_id", "name", "lat", "lon", "address", "gu", "founded_by"]
    return _table(columns, rows, SCHOOLS_SOURCE)


def cameras_document(shared: Path) -> tuple[dict[str, Any], int, int]:
    """CCTV sites as columns with shared name tables; returns (doc, kept, skipped)."""
    names: dict[str, dict[str, int]] = {"gu": {}, "dong": {}, "source": {}}
    cols: dict[str, list[Any]] = {
        k: [] for k in ("gu", "address", "lat_e6", "lon_e6", "count", "dong", "source")
    }

    def code(table: str, value: str) -> int:
        return names[table].setdefault(value, len(names[table]))

    skipped = 0
    for source, rel in CCTV_SOURCES.items():
        for r in _read_csv(shared / rel):
            try:
                lat, lon = float(r["위도"]), float(r["경도"])
                count = int(r.get("CCTV수량") or r.get("CCTV 수량") or "")
            except (KeyError, ValueError, TypeError):
                skipped += 1
                continue
            gu = (r.get("자치구") or "").strip()
            if not _in_seoul(lat, lon) or count < 1 or not gu.endswith("구"):
                skipped += 1
                continue
            cols["gu"].append(code("gu", gu))
            cols["address"].append((r.get("안심주소") or r.get("안심 주소") or "").strip())
            cols["lat_e6"].append(round(lat * 1e6))
            cols["lon_e6"].append(round(lon * 1e6))
            cols["count"].append(count)
            cols["dong"].append(code("dong", (r.get("행정동") or "").strip()))
            cols["source"].append(code("source", source))
    doc = {
        "version": DATA_FORMAT_VERSION,
        "source": sorted(CCTV_SOURCES.values()),
        "gu_names": list(names["gu"]),
        "dong_names": list(names["dong"]),
        "source_names": list(names["source"]),
        "columns": cols,
    }
    return doc, len(cols["gu"]), skipped


def districts_document(shared: Path) -> dict[str, Any]:
    """The 25 자치구 polygons with coordinates in micro-degrees (lon, lat pairs flattened)."""
    return _areas_document(
        shared, DISTRICTS_SOURCE, "districts", ("SIG_CD", "SIG_KOR_NM", "SIG_ENG_NM")
    )


def dongs_document(shared: Path) -> dict[str, Any]:
    """The 467 법정동 polygons (the 동 a place description names), same layout."""
    return _areas_document(shared, DONGS_SOURCE, "dongs", ("EMD_CD", "EMD_KOR_NM", "EMD_ENG_NM"))


def _areas_document(
    shared: Path, source: str, key: str, fields: tuple[str, str, str]
) -> dict[str, Any]:
    try:
        collection = json.loads((shared / source).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise InvalidInput(f"cannot read boundaries {source}: {err}") from err
    code, name_ko, name_en = fields
    areas = []
    for feature in collection["features"]:
        props, geometry = feature["properties"], feature["geometry"]
        polygons = (
            [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]
        )
        areas.append(
            {
                "code": str(props[code]),
                "name_ko": props[name_ko],
                "name_en": props[name_en],
                "polygons": [
                    [[round(v * 1e6) for point in ring for v in point[:2]] for ring in polygon]
                    for polygon in polygons
                ],
            }
        )
    areas.sort(key=lambda d: d["code"])
    return {"version": DATA_FORMAT_VERSION, "source": source, key: areas}


def build_demo_data(shared_data_dir: Path, out_dir: Path) -> DemoDataReport:
    """Reads the shared open data and writes the compact demo files into out_dir."""
    if not (shared_data_dir / ROAD_SOURCE).is_file():
        raise InvalidInput(f"{shared_data_dir} does not hold the shared Seoul data ({ROAD_SOURCE})")
    out_dir.mkdir(parents=True, exist_ok=True)
    graph = read_graphml(shared_data_dir / ROAD_SOURCE)
    write_compact(graph, out_dir / ROADS_FILE, attribution=ROADS_ATTRIBUTION)
    sizes = {ROADS_FILE: (out_dir / ROADS_FILE).stat().st_size}
    police, matched = police_table(shared_data_dir)
    sizes[POLICE_FILE] = _write(out_dir, POLICE_FILE, police)
    schools = schools_table(shared_data_dir)
    sizes[SCHOOLS_FILE] = _write(out_dir, SCHOOLS_FILE, schools)
    cameras, kept, skipped = cameras_document(shared_data_dir)
    sizes[CAMERAS_FILE] = _write(out_dir, CAMERAS_FILE, cameras)
    districts = districts_document(shared_data_dir)
    sizes[DISTRICTS_FILE] = _write(out_dir, DISTRICTS_FILE, districts)
    sizes[DONGS_FILE] = _write(out_dir, DONGS_FILE, dongs_document(shared_data_dir))
    return DemoDataReport(
        road_nodes=graph.node_count,
        road_edges=graph.edge_count,
        police_facilities=len(police["rows"]),
        police_matched_official=matched,
        schools=len(schools["rows"]),
        camera_sites=kept,
        camera_rows_skipped=skipped,
        districts=len(districts["districts"]),
        file_bytes=sizes,
    )
