"""Reading public CCTV lists: 전국CCTV표준데이터 and the Seoul 안심이 layout, row by row, with verdicts."""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path

from ansim.cctv.cameras import parse_viewing_direction
from ansim.domain.errors import InvalidInput

# South Korea including Jeju, Ulleung and Dokdo; anything outside is a typo.
KOREA_LAT = (33.0, 38.7)
KOREA_LON = (124.5, 132.0)
MAX_CAMERAS_PER_SITE = 500  # an apartment complex links over 100
MAX_PIXELS = 100_000_000
MAX_RETENTION_DAYS = 3650
# The standard gives pixels in 만 화소 (10,000); values this large were given in plain pixels.
PLAIN_PIXELS_FROM = 10_000


class Layout(StrEnum):
    STANDARD = "standard"  # 전국CCTV표준데이터
    ANSIMI = "ansimi"  # 서울시 안심이 CCTV 연계 현황 (and the 25-gu list derived from it)


@dataclass(frozen=True, slots=True)
class CameraRow:
    """One accepted row, in registry terms."""

    site_key: str
    line: int
    gu: str
    address: str
    lat: float
    lon: float
    purpose: str
    camera_count: int
    pixels: int | None
    direction_text: str
    bearing_deg: float | None
    omnidirectional: bool
    retention_days: int | None
    manager: str


@dataclass(frozen=True, slots=True)
class Rejection:
    line: int
    kind: str
    reason: str
    text: str


@dataclass
class ReadResult:
    layout: Layout
    rows: list[CameraRow] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    # Rows naming a site already read (same place, address and purpose) add their cameras to it.
    merged: int = 0

    @property
    def read(self) -> int:
        return len(self.rows) + len(self.rejected) + self.merged


class RowError(ValueError):
    """Why a row is refused: `kind` groups the report, the message says what is wrong."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def _header_key(name: str) -> str:
    return re.sub(r"[\s\"'\ufeff]", "", name)


def detect_layout(header: list[str]) -> Layout:
    keys = {_header_key(h) for h in header}
    if {"위도", "경도", "카메라대수"} <= keys and keys & {"소재지도로명주소", "소재지지번주소"}:
        return Layout.STANDARD
    if {"자치구", "안심주소", "위도", "경도", "CCTV수량"} <= keys:
        return Layout.ANSIMI
    raise InvalidInput(
        "unknown CSV layout: expected 전국CCTV표준데이터 columns (위도, 경도, 카메라대수, "
        "소재지도로명주소) or the 안심이 columns (자치구, 안심 주소, 위도, 경도, CCTV 수량); "
        f"got {', '.join(header[:8])}"
    )


def decode(raw: bytes) -> str:
    """UTF-8 (with or without BOM) or CP949, as Korean public data comes."""
    for encoding in ("utf-8-sig", "cp949"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise InvalidInput("the file is neither UTF-8 nor CP949/EUC-KR text")


def read_file(path: Path, *, progress: Callable[[int, int], None] | None = None) -> ReadResult:
    """Reads and validates every row of `path`; `progress(done, total)` is called as rows go by."""
    return read_text(decode(path.read_bytes()), source=path.name, progress=progress)


def read_text(
    text: str, *, source: str, progress: Callable[[int, int], None] | None = None
) -> ReadResult:
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if not header:
        raise InvalidInput(f"{source}: the file is empty")
    layout = detect_layout(header)
    columns = {_header_key(h): i for i, h in enumerate(header)}
    total = max(text.count("\n") - 1, 1)
    result = ReadResult(layout)
    seen: dict[str, tuple[int, tuple[str, ...]]] = {}
    parse = _standard_row if layout == Layout.STANDARD else _ansimi_row
    for number, (line, cells) in enumerate(_numbered(reader), start=1):
        try:
            if len(cells) != len(header):
                raise RowError("cells", f"has {len(cells)} cells, the header has {len(header)}")
            row = parse(line, {key: cells[i].strip() for key, i in columns.items()}, layout)
            if row.site_key in seen:
                position, first_cells = seen[row.site_key]
                if tuple(cells) == first_cells:
                    raise RowError("duplicate", f"repeats line {result.rows[position].line}")
                earlier = result.rows[position]
                result.rows[position] = replace(
                    earlier, camera_count=earlier.camera_count + row.camera_count
                )
                result.merged += 1
            else:
                seen[row.site_key] = (len(result.rows), tuple(cells))
                result.rows.append(row)
        except RowError as error:
            result.rejected.append(Rejection(line, error.kind, str(error), ",".join(cells)[:200]))
        if progress is not None and number % 500 == 0:
            progress(number, total)
    if progress is not None:
        progress(result.read, result.read)
    return result


def _numbered(reader: Iterator[list[str]]) -> Iterator[tuple[int, list[str]]]:
    for cells in reader:
        line = reader.line_num  # type: ignore[attr-defined]
        if cells and any(c.strip() for c in cells):
            yield line, cells


def _standard_row(line: int, cell: dict[str, str], layout: Layout) -> CameraRow:
    address = cell.get("소재지도로명주소") or cell.get("소재지지번주소") or ""
    manager = cell.get("관리기관명", "")
    lat, lon = _position(cell.get("위도", ""), cell.get("경도", ""))
    direction_text = cell.get("촬영방면정보", "")
    direction = parse_viewing_direction(direction_text)
    return _row(
        layout,
        line,
        gu=_gu_of(address) or _gu_of(manager),
        address=address,
        lat=lat,
        lon=lon,
        purpose=cell.get("설치목적구분", ""),
        camera_count=_count(cell.get("카메라대수", "")),
        pixels=_pixels(cell.get("카메라화소수", "")),
        direction_text=direction_text,
        bearing_deg=direction.bearing_deg,
        omnidirectional=direction.omnidirectional,
        retention_days=_retention(cell.get("보관일수", "")),
        manager=manager,
    )


def _ansimi_row(line: int, cell: dict[str, str], layout: Layout) -> CameraRow:
    lat, lon = _position(cell.get("위도", ""), cell.get("경도", ""))
    gu = cell.get("자치구", "")
    if not gu:
        raise RowError("no_district", "자치구 is empty")
    return _row(
        layout,
        line,
        gu=gu,
        address=cell.get("안심주소", ""),
        lat=lat,
        lon=lon,
        purpose=cell.get("CCTV용도", ""),
        camera_count=_count(cell.get("CCTV수량", "")),
        pixels=None,
        direction_text="",
        bearing_deg=None,
        omnidirectional=False,
        retention_days=None,
        manager=f"서울특별시 {gu}",
    )


def _row(layout: Layout, line: int, **fields: object) -> CameraRow:
    identity = (
        "|".join(str(fields[k]) for k in ("gu", "address", "purpose") if fields[k] is not None)
        + f"|{fields['lat']:.6f}|{fields['lon']:.6f}"
    )
    key = hashlib.sha256(f"{layout.value}|{identity}".encode()).hexdigest()[:40]
    return CameraRow(site_key=key, line=line, **fields)  # type: ignore[arg-type]


def _number(text: str, what: str) -> float:
    try:
        value = float(text.replace(",", ""))
    except ValueError:
        raise RowError("not_a_number", f"{what} {text!r} is not a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise RowError("not_a_number", f"{what} {text!r} is not a number")
    return value


def _position(lat_text: str, lon_text: str) -> tuple[float, float]:
    if not lat_text or not lon_text:
        raise RowError("missing_coordinates", "missing coordinates")
    lat, lon = _number(lat_text, "latitude"), _number(lon_text, "longitude")
    if lat == 0 and lon == 0:
        raise RowError("missing_coordinates", "missing coordinates (0, 0)")
    inside = KOREA_LAT[0] <= lat <= KOREA_LAT[1] and KOREA_LON[0] <= lon <= KOREA_LON[1]
    if inside:
        return lat, lon
    if KOREA_LAT[0] <= lon <= KOREA_LAT[1] and KOREA_LON[0] <= lat <= KOREA_LON[1]:
        # Never guessed right: a swapped pair is reported so the publisher's row gets fixed.
        raise RowError(
            "swapped_coordinates", f"swapped coordinates: latitude {lat}, longitude {lon}"
        )
    raise RowError("outside_korea", f"coordinates outside South Korea: {lat}, {lon}")


def _count(text: str) -> int:
    if not text:
        return 1  # the 안심이 lists leave it empty only for single cameras
    value = _number(text, "camera count")
    if value != int(value) or not 1 <= value <= MAX_CAMERAS_PER_SITE:
        raise RowError(
            "impossible_count", f"impossible camera count {text!r} (1-{MAX_CAMERAS_PER_SITE})"
        )
    return int(value)


def _pixels(text: str) -> int | None:
    if not text:
        return None
    value = _number(text, "pixel count")
    pixels = value if value >= PLAIN_PIXELS_FROM else value * 10_000
    if not 0 < pixels <= MAX_PIXELS:
        raise RowError("impossible_pixels", f"impossible pixel count {text!r}")
    return int(pixels)


def _retention(text: str) -> int | None:
    if not text:
        return None
    value = _number(text, "retention days")
    if value != int(value) or not 0 <= value <= MAX_RETENTION_DAYS:
        raise RowError(
            "impossible_retention", f"impossible retention {text!r} days (0-{MAX_RETENTION_DAYS})"
        )
    return int(value)


_GU = re.compile(r"(?:서울특별시|서울시|서울)?\s*([가-힣]{1,4}구)(?:청)?(?:\s|$)")


def _gu_of(text: str) -> str:
    match = _GU.search(text)
    return match.group(1) if match else ""
