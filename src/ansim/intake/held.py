"""HELD (RFC 5985) location requests to a carrier's location server, by the caller's number.

The request names the device by its tel: URI (RFC 6155 identity extension) and asks for geodetic
and civic location; the answer is a PIDF-LO inside `<locationResponse>` (parsed with the project's
PIDF-LO parser) or `<error code="...">`. Every answer is checked before it becomes a fix: an answer
whose presence names another number is refused, a civic-only answer becomes a fix at its 동 (the
bundled 법정동 boundaries) with that area's size as its uncertainty.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from xml.etree.ElementTree import Element, ParseError

import defusedxml
import defusedxml.ElementTree as SafeET
import httpx

from ansim.domain.errors import InvalidInput
from ansim.domain.fixes import FixMethod, LocationFix
from ansim.geo.demo_data import District, district_at, load_dongs
from ansim.intake.formats.pidf import PidfError, PidfLocation, method_of, parse_pidf_lo

HELD_NS = "urn:ietf:params:xml:ns:geopriv:held"
HELD_ID_NS = "urn:ietf:params:xml:ns:geopriv:held:id"
CONTENT_TYPE = "application/held+xml"
# The server is asked to answer within this many seconds; the client waits a little longer.
RESPONSE_TIME_S = 8
MAX_ANSWER_BYTES = 64 * 1024
EARTH_RADIUS_M = 6_371_008.8


class HeldFailed(Exception):
    """The location server did not answer usefully (down, slow, HTTP error, HELD error code)."""


class HeldRefused(InvalidInput):
    """The answer is malformed or about someone else: refused and logged, never a fix."""


@dataclass(frozen=True, slots=True)
class LocationServer:
    """A carrier's location server (LIS) and how we authenticate to it."""

    url: str
    username: str | None = None
    password: str | None = None


class CallerLocator(Protocol):
    """Asks a location server where a number is; returns the raw answer body."""

    def __call__(self, server: LocationServer, number: str) -> bytes: ...


def request_body(number: str) -> bytes:
    """The HELD locationRequest for a caller's E.164 number."""
    if not number.startswith("+") or not number[1:].isdigit():
        raise InvalidInput(f"{number!r} is not an E.164 number")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<locationRequest xmlns="{HELD_NS}" responseTime="{RESPONSE_TIME_S}">'
        '<locationType exact="false">geodetic civic</locationType>'
        f'<device xmlns="{HELD_ID_NS}"><uri>tel:{number}</uri></device>'
        "</locationRequest>"
    ).encode()


@dataclass(frozen=True, slots=True)
class HttpLocator:
    """The real client: an HTTP(S) POST of the request, Basic auth when credentials are set."""

    timeout_s: float = RESPONSE_TIME_S + 2

    def __call__(self, server: LocationServer, number: str) -> bytes:
        auth = (server.username, server.password or "") if server.username else None
        try:
            with httpx.stream(
                "POST",
                server.url,
                content=request_body(number),
                headers={"Content-Type": CONTENT_TYPE, "Accept": CONTENT_TYPE},
                auth=auth,
                timeout=self.timeout_s,
            ) as answer:
                if answer.status_code != 200:
                    raise HeldFailed(f"location server answered HTTP {answer.status_code}")
                body = bytearray()
                for chunk in answer.iter_bytes():
                    body += chunk
                    if len(body) > MAX_ANSWER_BYTES:  # read no further than the limit
                        raise HeldRefused(f"answer is over the {MAX_ANSWER_BYTES} byte limit")
        except httpx.TimeoutException as err:
            raise HeldFailed(
                f"location server did not answer within {self.timeout_s:.0f} s"
            ) from err
        except httpx.HTTPError as err:
            raise HeldFailed(f"location server unreachable: {type(err).__name__}") from err
        return bytes(body)


def fixes_of_answer(
    body: bytes, *, number: str, received_at: datetime, source: str
) -> tuple[LocationFix, ...]:
    """The fixes of a HELD answer for `number`; raises HeldFailed for a HELD error, HeldRefused
    for anything malformed or naming another number."""
    error = _held_error(body)
    if error is not None:
        raise HeldFailed(f"location server error {error}")
    try:
        document = parse_pidf_lo(body)
    except PidfError as err:
        raise HeldRefused(f"malformed HELD answer: {err}") from err
    if document.container != "held":
        raise HeldRefused("answer is not a HELD locationResponse")
    _check_identity(document.entity, number)
    for location in document.locations:
        for device in location.device_ids:
            _check_identity(device, number)
    fixes = []
    for location in document.locations:
        try:
            if location.shape is not None:
                fixes.append(location.to_fix(received_at=received_at, source=source))
            elif location.civic:
                fix = _civic_fix(location, received_at=received_at, source=source)
                if fix is not None:
                    fixes.append(fix)
        except (PidfError, InvalidInput) as err:
            raise HeldRefused(f"unusable location in HELD answer: {err}") from err
    if not fixes:
        raise HeldFailed("location server answered without a usable location")
    return tuple(fixes)


def _held_error(body: bytes) -> str | None:
    """The code of a HELD `<error>` answer, None for anything else."""
    try:
        root: Element = SafeET.fromstring(body, forbid_dtd=True, forbid_entities=True)
    except (defusedxml.DefusedXmlException, ParseError, ValueError, UnicodeError) as err:
        raise HeldRefused(f"malformed HELD answer: {err}") from err
    if root.tag == f"{{{HELD_NS}}}error":
        return root.get("code") or "unknown"
    return None


def _check_identity(uri: str | None, number: str) -> None:
    """A tel: identity in the answer must be the number asked about (other forms say nothing)."""
    if not uri:
        return
    value = uri.strip()
    if value.lower().startswith("tel:"):
        answered = value[4:].split(";")[0].replace("-", "").replace(" ", "")
        if answered != number:
            raise HeldRefused(f"answer is about {answered}, not the caller {number}")


def _civic_fix(location: PidfLocation, *, received_at: datetime, source: str) -> LocationFix | None:
    """A civic-only answer placed at its 동: the area's centre, radius reaching its far edge."""
    assert location.civic is not None
    dong = dong_named(location.civic)
    if dong is None:
        return None
    lat, lon, radius = _area_circle(dong)
    return LocationFix(
        lat=lat,
        lon=lon,
        radius_m=radius,
        method=FixMethod.CELL if location.method is None else _civic_method(location),
        observed_at=location.timestamp or received_at,
        source=source,
        floor=_floor(location.civic.get("FLR")),
    )


def _floor(text: str | None) -> int | None:
    """The civic FLR element as a floor number (B1 = -1), None when it is not one."""
    value = (text or "").strip().upper()
    if value.startswith("B") and value[1:].isdigit():
        return -int(value[1:])
    if value.lstrip("-").isdigit() and abs(int(value)) < 200:
        return int(value)
    return None


def _civic_method(location: PidfLocation) -> FixMethod:
    method = method_of(location.method)
    return FixMethod.CELL if method is FixMethod.UNKNOWN else method


def dong_named(civic: dict[str, str]) -> District | None:
    """The 법정동 a civic address names (A3..A6 checked), disambiguated by its 구 when given."""
    names = [civic.get(key, "") for key in ("A6", "A5", "A4", "A3")]
    gu = civic.get("A2", "") + " " + civic.get("A3", "")
    for name in names:
        if not name:
            continue
        found = [d for d in load_dongs() if d.name_ko == name or d.name_en == name]
        if len(found) > 1 and gu.strip():
            found = [d for d in found if _in_gu(d, gu)] or found
        if found:
            return found[0]
    return None


def _in_gu(dong: District, gu: str) -> bool:
    lat, lon, _ = _area_circle(dong)
    district = district_at(lat, lon)
    return district is not None and district.name_ko in gu


def _area_circle(area: District) -> tuple[float, float, float]:
    """Centre of the area's outer rings and the distance from it to the farthest vertex."""
    points = [p for polygon in area.polygons for p in polygon[0]]
    lon = sum(p[0] for p in points) / len(points)
    lat = sum(p[1] for p in points) / len(points)
    far = 0.0
    for p_lon, p_lat in points:
        north = math.radians(p_lat - lat) * EARTH_RADIUS_M
        east = math.radians(p_lon - lon) * EARTH_RADIUS_M * math.cos(math.radians(lat))
        far = max(far, math.hypot(east, north))
    return lat, lon, max(far, 50.0)
