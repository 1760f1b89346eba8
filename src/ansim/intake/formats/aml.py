"""AML SMS (ETSI TS 103 625, versions 1 and 2): text and Android's 7-bit packed data SMS."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ansim.domain.errors import InvalidInput
from ansim.domain.fixes import FixMethod, LocationFix

HEADER = 'A"ML='
# A handset that states no confidence is assumed to report one standard deviation, the
# usual AML figure; that is also the cautious choice (it widens the 95 % radius).
ASSUMED_CONFIDENCE_PCT = 68

V1_KEYS = frozenset({"lt", "lg", "rd", "top", "lc", "pm", "si", "ei", "mcc", "mnc", "ml"})
V2_KEYS = frozenset({"en", "et", "lo", "lt", "lc", "lz", "ls", "ei", "nc", "hc", "lg"})
V1_METHODS = frozenset({"G", "W", "C", "N", "U"})
V2_METHODS = frozenset({"G", "W", "C", "N", "U", "F"})
METHOD_FIX = {"G": FixMethod.GNSS, "W": FixMethod.WIFI, "C": FixMethod.CELL}

_KEY = re.compile(r"[a-z]{1,8}")
_DEGREES = re.compile(r"[+-]?\d{1,3}(\.\d{1,10})?")
_METRES = re.compile(r"\d{1,7}(\.\d{1,6})?")
_SIGNED_METRES = re.compile(r"[+-]?\d{1,7}(\.\d{1,6})?")
_PERCENT = re.compile(r"\d{1,3}")
_TOP = re.compile(r"\d{14}")
_IMSI = re.compile(r"\d{5,15}")
_IMEI = re.compile(r"\d{14,16}")
_MCC = re.compile(r"\d{3}")
_MNC = re.compile(r"\d{2,3}")
_PLMN = re.compile(r"\d{5,6}")
_NUMBER = re.compile(r"\+?\d{1,20}")
_EPOCH_S = re.compile(r"\d{1,12}")
_OFFSET_S = re.compile(r"[+-]?\d{1,9}")
_LANGUAGES = re.compile(r"[A-Za-z0-9-]{1,35}(,[A-Za-z0-9-]{1,35}){0,9}")


class AmlError(InvalidInput):
    """An AML message is malformed, incomplete or out of range."""


@dataclass(frozen=True, slots=True)
class AmlMessage:
    """One AML SMS, every field parsed; `fix()` turns it into our 95 % location model."""

    version: int
    originating_number: str | None
    raw_fields: tuple[tuple[str, str], ...]
    lat: float | None = None
    lon: float | None = None
    radius_m: float | None = None
    time_of_positioning: datetime | None = None
    confidence_pct: int | None = None
    method: str | None = None
    imsi: str | None = None
    imei: str | None = None
    mcc: str | None = None
    mnc: str | None = None
    message_length: int | None = None
    emergency_number: str | None = None
    call_started_at: datetime | None = None
    altitude_m: float | None = None
    vertical_accuracy_m: float | None = None
    home_mcc: str | None = None
    home_mnc: str | None = None
    languages: tuple[str, ...] = ()

    @property
    def has_location(self) -> bool:
        """False for the 'no fix' form (pm=N, rd=N, 0/0) and for messages lacking a position."""
        if self.method == "N" or self.lat is None or self.lon is None or self.radius_m is None:
            return False
        # Null Island is how handsets spell "no position"; never plot it.
        return not (self.lat == 0.0 and self.lon == 0.0)

    def fix(self, received_at: datetime) -> LocationFix | None:
        """Converts to a 95 % LocationFix; None when the message carries no location."""
        if not self.has_location:
            return None
        assert self.lat is not None
        assert self.lon is not None
        assert self.radius_m is not None
        pct = self.confidence_pct or ASSUMED_CONFIDENCE_PCT
        # A radius "at 100 %" cannot be converted; read it as the strongest finite claim.
        confidence = min(pct, 99) / 100
        try:
            return LocationFix.with_confidence(
                lat=self.lat,
                lon=self.lon,
                radius_m=self.radius_m,
                confidence=confidence,
                method=METHOD_FIX.get(self.method or "", FixMethod.AML),
                observed_at=self.time_of_positioning or received_at,
                source=f"aml-v{self.version}",
                altitude_m=self.altitude_m,
            )
        except InvalidInput as err:
            raise AmlError(f"AML location is unusable: {err}") from err


def parse_aml_text(text: str, *, originating_number: str | None = None) -> AmlMessage:
    """Parses the text of an AML SMS (version 1 or 2) exactly as the SMS centre delivered it."""
    if originating_number is not None and not _NUMBER.fullmatch(originating_number):
        raise AmlError(f"originating number {originating_number!r} is not a phone number")
    if not text.startswith(HEADER):
        raise AmlError(f"message does not start with the AML header {HEADER!r}")
    pairs = _split_pairs(text)
    header_value = pairs[0][1]
    if header_value == "1":
        return _parse_v1(text, pairs, originating_number)
    if header_value == "2":
        return _parse_v2(pairs, originating_number)
    raise AmlError(f"unsupported AML version {header_value!r} (expected 1 or 2)")


def parse_aml_data_sms(payload: bytes, *, originating_number: str | None = None) -> AmlMessage:
    """Parses Android's binary AML data SMS (GSM 7-bit packed user data)."""
    return parse_aml_text(decode_aml_data_sms(payload), originating_number=originating_number)


def _split_pairs(text: str) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    seen: set[str] = set()
    for index, segment in enumerate(text.split(";")):
        if segment == "":
            raise AmlError(f"empty attribute at position {index} (stray ';')")
        key, sep, value = segment.partition("=")
        if index == 0:
            pairs.append(('A"ML', value))
            continue
        if not sep or "=" in value:
            raise AmlError(f"attribute {segment!r} is not a single key=value pair")
        if not _KEY.fullmatch(key):
            raise AmlError(f"attribute name {key!r} is not a lower-case AML key")
        if key in seen:
            raise AmlError(f"attribute {key!r} appears twice")
        seen.add(key)
        pairs.append((key, value))
    return pairs


def _parse_v1(
    text: str, pairs: list[tuple[str, str]], originating_number: str | None
) -> AmlMessage:
    fields = dict(pairs[1:])
    unknown = sorted(set(fields) - V1_KEYS)
    if unknown:
        raise AmlError(f"unknown version 1 attribute(s): {', '.join(unknown)}")
    if "ml" not in fields:
        raise AmlError("version 1 message lacks the ml (message length) attribute")
    length = _int(fields["ml"], "ml", re.compile(r"\d{1,4}"))
    if length != len(text):
        raise AmlError(f"ml={length} but the message is {len(text)} characters long")
    method = fields.get("pm")
    if method is not None and method not in V1_METHODS:
        raise AmlError(f"pm={method!r} is not a positioning method (G, W, C, N or U)")
    radius = fields.get("rd")
    return AmlMessage(
        version=1,
        originating_number=originating_number,
        raw_fields=tuple(pairs),
        lat=_degrees(fields, "lt", 90.0),
        lon=_degrees(fields, "lg", 180.0),
        radius_m=None if radius in (None, "N") else _metres(radius, "rd"),
        time_of_positioning=_top(fields.get("top")),
        confidence_pct=_percent(fields.get("lc")),
        method=method,
        imsi=_match(fields.get("si"), "si", _IMSI),
        imei=_match(fields.get("ei"), "ei", _IMEI),
        mcc=_match(fields.get("mcc"), "mcc", _MCC),
        mnc=_match(fields.get("mnc"), "mnc", _MNC),
        message_length=length,
    )


def _parse_v2(pairs: list[tuple[str, str]], originating_number: str | None) -> AmlMessage:
    fields = dict(pairs[1:])
    unknown = sorted(set(fields) - V2_KEYS)
    if unknown:
        raise AmlError(f"unknown version 2 attribute(s): {', '.join(unknown)}")
    method = fields.get("ls")
    if method is not None and method not in V2_METHODS:
        raise AmlError(f"ls={method!r} is not a location source (G, W, C, F, N or U)")
    call_started_at = None
    if "et" in fields:
        call_started_at = _epoch(_int(fields["et"], "et", _EPOCH_S), "et")
    lat = lon = radius = None
    if "lo" in fields:
        lat, lon, radius = _v2_location(fields["lo"])
    fix_time = None
    if "lt" in fields:
        offset = _int(fields["lt"], "lt", _OFFSET_S)
        if call_started_at is None:
            raise AmlError("lt (fix time) is an offset from et, but et is missing")
        # Same reading as other AML receivers: time of positioning = et + lt seconds.
        fix_time = call_started_at + timedelta(seconds=offset)
    altitude = vertical = None
    if "lz" in fields:
        altitude, vertical = _v2_altitude(fields["lz"])
    network, home = fields.get("nc"), fields.get("hc")
    languages = _match(fields.get("lg"), "lg", _LANGUAGES)
    return AmlMessage(
        version=2,
        originating_number=originating_number,
        raw_fields=tuple(pairs),
        lat=lat,
        lon=lon,
        radius_m=radius,
        time_of_positioning=fix_time,
        confidence_pct=_percent(fields.get("lc")),
        method=method,
        imei=_match(fields.get("ei"), "ei", _IMEI),
        mcc=_plmn(network, "nc")[0],
        mnc=_plmn(network, "nc")[1],
        home_mcc=_plmn(home, "hc")[0],
        home_mnc=_plmn(home, "hc")[1],
        emergency_number=_match(fields.get("en"), "en", _NUMBER),
        call_started_at=call_started_at,
        altitude_m=altitude,
        vertical_accuracy_m=vertical,
        languages=tuple(languages.split(",")) if languages else (),
    )


def _v2_location(value: str) -> tuple[float, float, float]:
    parts = value.split(",")
    if len(parts) != 3:
        raise AmlError(f"lo={value!r} must be latitude,longitude,accuracy")
    lat = _bounded_degrees(parts[0], "lo latitude", 90.0)
    lon = _bounded_degrees(parts[1], "lo longitude", 180.0)
    return lat, lon, _metres(parts[2], "lo accuracy")


def _v2_altitude(value: str) -> tuple[float, float]:
    parts = value.split(",")
    if len(parts) != 2:
        raise AmlError(f"lz={value!r} must be altitude,vertical accuracy")
    if not _SIGNED_METRES.fullmatch(parts[0]):
        raise AmlError(f"lz altitude {parts[0]!r} is not a number of metres")
    return float(parts[0]), _metres(parts[1], "lz vertical accuracy")


def _plmn(value: str | None, key: str) -> tuple[str | None, str | None]:
    if value is None:
        return None, None
    if not _PLMN.fullmatch(value):
        raise AmlError(f"{key}={value!r} must be MCC+MNC (5 or 6 digits)")
    return value[:3], value[3:]


def _match(value: str | None, key: str, pattern: re.Pattern[str]) -> str | None:
    if value is None:
        return None
    if not pattern.fullmatch(value):
        raise AmlError(f"{key}={value!r} is malformed")
    return value


def _int(value: str, key: str, pattern: re.Pattern[str]) -> int:
    if not pattern.fullmatch(value):
        raise AmlError(f"{key}={value!r} is not an integer")
    return int(value)


def _degrees(fields: dict[str, str], key: str, limit: float) -> float | None:
    value = fields.get(key)
    return None if value is None else _bounded_degrees(value, key, limit)


def _bounded_degrees(value: str, key: str, limit: float) -> float:
    if not _DEGREES.fullmatch(value):
        raise AmlError(f"{key}={value!r} is not a decimal number of degrees")
    degrees = float(value)
    if abs(degrees) > limit:
        raise AmlError(f"{key}={value!r} is outside ±{limit:.0f} degrees")
    return degrees


def _metres(value: str, key: str) -> float:
    if not _METRES.fullmatch(value):
        raise AmlError(f"{key}={value!r} is not a non-negative number of metres")
    return float(value)


def _percent(value: str | None) -> int | None:
    if value is None:
        return None
    if not _PERCENT.fullmatch(value) or int(value) > 100:
        raise AmlError(f"lc={value!r} is not an integer percentage 0-100")
    return int(value)


def _top(value: str | None) -> datetime | None:
    if value is None:
        return None
    if not _TOP.fullmatch(value):
        raise AmlError(f"top={value!r} is not yyyyMMddHHmmss")
    try:
        return datetime.strptime(value, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    except ValueError as err:
        raise AmlError(f"top={value!r} is not a real date and time") from err


def _epoch(seconds: int, key: str) -> datetime:
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError) as err:
        raise AmlError(f"{key}={seconds} is not a usable epoch time") from err


# GSM 03.38 default alphabet and its escape extension (3GPP TS 23.038 §6.2.1).
_GSM_DEFAULT = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENSION = {
    0x0A: "\f", 0x14: "^", 0x28: "{", 0x29: "}", 0x2F: "\\",
    0x3C: "[", 0x3D: "~", 0x3E: "]", 0x40: "|", 0x65: "€",
}  # fmt: skip
_ESCAPE = 0x1B
_CR = 0x0D


def decode_aml_data_sms(payload: bytes) -> str:
    """Unpacks GSM 7-bit packed user data (no UDH) into the AML text it carries."""
    if not payload:
        raise AmlError("data SMS payload is empty")
    if len(payload) > 140:
        raise AmlError(f"data SMS payload is {len(payload)} octets; one SMS holds at most 140")
    bits = int.from_bytes(payload, "little")
    count = len(payload) * 8 // 7
    septets = [(bits >> (7 * i)) & 0x7F for i in range(count)]
    # When the last octet leaves exactly 7 spare bits they are padding (CR, or 0 from old senders).
    if len(payload) * 8 % 7 == 0 and septets[-1] in (0, _CR):
        septets.pop()
    chars: list[str] = []
    escaped = False
    for septet in septets:
        if escaped:
            chars.append(_GSM_EXTENSION.get(septet, " "))
            escaped = False
        elif septet == _ESCAPE:
            escaped = True
        else:
            chars.append(_GSM_DEFAULT[septet])
    if escaped:
        raise AmlError("data SMS ends in the middle of a GSM escape sequence")
    return "".join(chars)
