"""PIDF-LO (RFC 4119, shapes RFC 5491, confidence RFC 7459): strict and safe parsing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from xml.etree.ElementTree import Element, ParseError

import defusedxml
import defusedxml.ElementTree as SafeET

from ansim.domain.errors import InvalidInput
from ansim.domain.fixes import FixMethod, LocationFix
from ansim.intake.formats.pidf_gml import CA, GML, GS, PidfError, double, parse_shape
from ansim.intake.formats.pidf_shapes import Shape

__all__ = [
    "PidfDocument",
    "PidfError",
    "PidfLocation",
    "method_of",
    "parse_pidf_lo",
]

MAX_DOCUMENT_BYTES = 64 * 1024
# RFC 5491 §5 and RFC 7459 §5: a shape without <con:confidence> is read at 95 %.
DEFAULT_CONFIDENCE_PCT = 95.0

PIDF = "urn:ietf:params:xml:ns:pidf"
DM = "urn:ietf:params:xml:ns:pidf:data-model"
GP = "urn:ietf:params:xml:ns:pidf:geopriv10"
CON = "urn:ietf:params:xml:ns:geopriv:conf"
DYN = "urn:ietf:params:xml:ns:pidf:geopriv10:dynamic"
HELD = "urn:ietf:params:xml:ns:geopriv:held"
LOST = "urn:ietf:params:xml:ns:lost1"
CORE = frozenset({PIDF, DM, GP})

PDFS = frozenset({"unknown", "normal", "rectangular"})

METHOD_FIX = (
    (re.compile(r"gps|gnss|gnss|a-gps|agps|glonass|galileo", re.I), FixMethod.GNSS),
    (re.compile(r"802\.11|wi-?fi|wlan", re.I), FixMethod.WIFI),
    (re.compile(r"cell|otdoa|e-?otd|eotd|aoa|toa|rtt|ta-nmr|ta\b|u-tdoa|ecid|e-cid", re.I),
     FixMethod.CELL),
    (re.compile(r"manual|wiremap|dhcp", re.I), FixMethod.MANUAL),
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class PidfLocation:
    """One location (a geodetic shape or a civic address) with its geopriv context."""

    shape: Shape | None
    civic: dict[str, str] | None
    confidence_pct: float | None
    confidence_pdf: str | None
    method: str | None
    timestamp: datetime | None
    holder: str
    holder_id: str | None
    device_ids: tuple[str, ...] = ()
    speed_mps: float | None = None
    heading_deg: float | None = None

    @property
    def effective_confidence_pct(self) -> float:
        return DEFAULT_CONFIDENCE_PCT if self.confidence_pct is None else self.confidence_pct

    def to_fix(
        self, *, received_at: datetime | None = None, source: str = "pidf-lo"
    ) -> LocationFix:
        """Reduces the shape to a centre and the radius of its 95 % region."""
        if self.shape is None:
            raise PidfError("a civic address has no coordinates to make a fix from")
        observed_at = self.timestamp or received_at
        if observed_at is None:
            raise PidfError("the location has no timestamp and no receive time was given")
        lat, lon, radius = self.shape.extent()
        # A 100 % region cannot be rescaled under a normal model; take the strongest finite claim.
        confidence = min(self.effective_confidence_pct, 99.0) / 100
        try:
            return LocationFix.with_confidence(
                lat=lat,
                lon=lon,
                radius_m=radius,
                confidence=confidence,
                method=method_of(self.method),
                observed_at=observed_at,
                source=source,
                altitude_m=getattr(self.shape, "alt_m", None),
                speed_mps=self.speed_mps,
                heading_deg=self.heading_deg,
            )
        except InvalidInput as err:
            raise PidfError(f"PIDF-LO location is unusable: {err}") from err


@dataclass(frozen=True, slots=True)
class PidfDocument:
    """A parsed PIDF-LO (possibly inside a HELD response or a LoST request)."""

    entity: str | None
    container: str
    locations: tuple[PidfLocation, ...]

    @property
    def geodetic(self) -> tuple[PidfLocation, ...]:
        return tuple(location for location in self.locations if location.shape is not None)


def method_of(method: str | None) -> FixMethod:
    """Maps a gp:method token (IANA registry or in-the-wild spelling) to our fix method."""
    for pattern, fix_method in METHOD_FIX:
        if method and pattern.search(method):
            return fix_method
    return FixMethod.UNKNOWN


def parse_pidf_lo(document: bytes) -> PidfDocument:
    """Parses a PIDF-LO (bare, in HELD or in LoST); rejects anything doubtful."""
    if not isinstance(document, bytes):
        raise PidfError("a PIDF-LO document must be given as bytes")
    if len(document) > MAX_DOCUMENT_BYTES:
        raise PidfError(f"document is {len(document)} bytes; the limit is {MAX_DOCUMENT_BYTES}")
    try:
        root = SafeET.fromstring(document, forbid_dtd=True, forbid_entities=True)
    except defusedxml.DefusedXmlException as err:
        raise PidfError(f"document uses a forbidden XML feature: {type(err).__name__}") from err
    except (ParseError, ValueError, UnicodeError) as err:
        raise PidfError(f"document is not well-formed XML: {err}") from err
    ns, name = _split(root)
    if (ns, name) == (PIDF, "presence"):
        return PidfDocument(root.get("entity"), "pidf", tuple(_presence(root)))
    if (ns, name) == (HELD, "locationResponse"):
        presences = [child for child in root if _split(child) == (PIDF, "presence")]
        if not presences:
            raise PidfError("HELD locationResponse carries no PIDF presence")
        locations = [loc for presence in presences for loc in _presence(presence)]
        return PidfDocument(presences[0].get("entity"), "held", tuple(locations))
    if (ns, name) == (LOST, "findService"):
        return PidfDocument(None, "lost", tuple(_lost(root)))
    raise PidfError(f"root element {{{ns}}}{name} is not a PIDF presence, HELD or LoST document")


def _split(element: Element) -> tuple[str, str]:
    tag = element.tag
    if not isinstance(tag, str) or not tag.startswith("{"):
        return "", str(tag)
    ns, _, name = tag[1:].partition("}")
    return ns, name


def _unexpected(element: Element, where: str) -> PidfError:
    ns, name = _split(element)
    return PidfError(f"unexpected element {{{ns}}}{name} in {where}")


def _presence(presence: Element) -> Iterator[PidfLocation]:
    for child in presence:
        ns, name = _split(child)
        if (ns, name) == (PIDF, "tuple"):
            yield from _holder(child, "tuple")
        elif ns == DM and name in ("device", "person"):
            yield from _holder(child, name)
        elif (ns, name) in ((PIDF, "note"), (DM, "note")):
            continue
        elif ns in CORE:
            raise _unexpected(child, "presence")


def _holder(holder: Element, kind: str) -> Iterator[PidfLocation]:
    geoprivs: list[Element] = []
    timestamp = None
    device_ids: list[str] = []
    for child in holder:
        ns, name = _split(child)
        if kind == "tuple" and (ns, name) == (PIDF, "status"):
            geoprivs.extend(_status(child))
        elif kind != "tuple" and (ns, name) == (GP, "geopriv"):
            geoprivs.append(child)
        elif name == "timestamp" and ns in (PIDF, DM):
            timestamp = _timestamp(child.text)
        elif (ns, name) == (DM, "deviceID"):
            device_ids.append((child.text or "").strip())
        elif (name == "note" and ns in (PIDF, DM)) or (ns, name) == (PIDF, "contact"):
            continue
        elif ns in CORE:
            raise _unexpected(child, kind)
    for geopriv in geoprivs:
        yield from _geopriv(geopriv, kind, holder.get("id"), timestamp, tuple(device_ids))


def _status(status: Element) -> Iterator[Element]:
    for child in status:
        ns, name = _split(child)
        if (ns, name) == (GP, "geopriv"):
            yield child
        elif ns in CORE and (ns, name) != (PIDF, "basic"):
            raise _unexpected(child, "status")


def _geopriv(
    geopriv: Element, kind: str, holder_id: str | None, timestamp: datetime | None,
    device_ids: tuple[str, ...],
) -> Iterator[PidfLocation]:  # fmt: skip
    infos: list[Element] = []
    method = None
    for child in geopriv:
        ns, name = _split(child)
        if (ns, name) == (GP, "location-info"):
            infos.append(child)
        elif name == "method" and ns in (GP, PIDF):
            method = (child.text or "").strip() or None
        elif (ns, name) in ((GP, "usage-rules"), (GP, "provided-by")):
            continue
        elif ns in CORE:
            raise _unexpected(child, "geopriv")
    if len(infos) != 1:
        raise PidfError(f"geopriv must hold exactly one location-info, found {len(infos)}")
    shapes, civics, confidence, pdf, speed, heading = _location_info(infos[0])
    for shape in shapes:
        yield PidfLocation(shape, None, confidence, pdf, method, timestamp, kind, holder_id,
                           device_ids, speed, heading)  # fmt: skip
    for civic in civics:
        yield PidfLocation(None, civic, None, None, method, timestamp, kind, holder_id, device_ids)


def _location_info(
    info: Element,
) -> tuple[list[Shape], list[dict[str, str]], float | None, str | None, float | None, float | None]:
    shapes: list[Shape] = []
    civics: list[dict[str, str]] = []
    confidence = pdf = speed = heading = None
    for child in info:
        ns, name = _split(child)
        if (ns, name) == (GML, "location"):
            inner = list(child)
            if len(inner) != 1:
                raise PidfError("gml:location must wrap exactly one shape")
            shapes.append(parse_shape(inner[0]))
        elif ns in (GS, GML):
            shapes.append(parse_shape(child))
        elif (ns, name) == (CA, "civicAddress"):
            civics.append(_civic(child))
        elif (ns, name) == (CON, "confidence"):
            if confidence is not None:
                raise PidfError("location-info holds more than one con:confidence")
            confidence, pdf = _confidence(child)
        elif (ns, name) == (DYN, "Dynamic"):
            speed, heading = _dynamic(child)
        else:
            raise _unexpected(child, "location-info")
    return shapes, civics, confidence, pdf, speed, heading


def _confidence(element: Element) -> tuple[float, str]:
    value = double(element.text, "con:confidence")
    if not 0 < value <= 100:
        raise PidfError(f"con:confidence {value} is not a percentage in (0, 100]")
    pdf = element.get("pdf", "unknown")
    if pdf not in PDFS:
        raise PidfError(f"con:confidence pdf={pdf!r} is not unknown, normal or rectangular")
    return value, pdf


def _dynamic(element: Element) -> tuple[float | None, float | None]:
    speed = heading = None
    for child in element:
        ns, name = _split(child)
        if (ns, name) == (DYN, "speed"):
            speed = double(child.text, "dyn:speed")
        elif (ns, name) == (DYN, "heading"):
            heading = double(child.text, "dyn:heading")
    return speed, heading


def _civic(element: Element) -> dict[str, str]:
    civic: dict[str, str] = {}
    for child in element:
        _, name = _split(child)
        value = (child.text or "").strip()
        if value:
            civic[name] = value
    return civic


def _timestamp(text: str | None) -> datetime:
    value = (text or "").strip()
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as err:
        raise PidfError(f"timestamp {value!r} is not an xs:dateTime") from err
    # PIDF requires an offset; a few senders omit it, and UTC is what they mean in practice.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _lost(root: Element) -> Iterator[PidfLocation]:
    for child in root:
        if _split(child) != (LOST, "location"):
            continue
        profile = child.get("profile")
        key = child.get("id")
        for inner in child:
            if profile == "geodetic-2d":
                yield PidfLocation(parse_shape(inner), None, None, None, None, None, "lost", key)
            elif profile == "civic" and _split(inner) == (CA, "civicAddress"):
                yield PidfLocation(None, _civic(inner), None, None, None, None, "lost", key)
            else:
                raise PidfError(f"LoST location profile {profile!r} is not geodetic-2d or civic")
