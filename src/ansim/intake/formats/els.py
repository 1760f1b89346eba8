"""Android ELS (Emergency Location Service) and AML-over-HTTPS form posts."""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qsl

from ansim.domain.errors import InvalidInput
from ansim.domain.fixes import FixMethod, LocationFix
from ansim.security.signing import hmac_hex, same_digest

# Android's location_accuracy is Location.getAccuracy(): a 68 % radius.
ASSUMED_CONFIDENCE = 0.68
# No accuracy means nothing is known; a cell-sized radius keeps the map honest.
UNKNOWN_ACCURACY_M = 2000.0
MAX_BODY_BYTES = 16 * 1024
# Epoch milliseconds later than this (year 2200) are garbage, not clock skew.
MAX_EPOCH_MS = 7_258_118_400_000

SOURCE_FIX = {
    "gps": FixMethod.GNSS,
    "gnss": FixMethod.GNSS,
    "wifi": FixMethod.WIFI,
    "wlan": FixMethod.WIFI,
    "cell": FixMethod.CELL,
    "network": FixMethod.CELL,
}

_NUMBER = re.compile(r"\+?\d{1,20}")
_IMEI = re.compile(r"\d{14,16}")
_IMSI = re.compile(r"\d{5,15}")
_ICCID = re.compile(r"\d{18,22}F?")
_MCC = re.compile(r"\d{3}")
_MNC = re.compile(r"\d{2,3}")
_DECIMAL = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_INTEGER = re.compile(r"[+-]?\d{1,15}")


class ElsError(InvalidInput):
    """An ELS form post is malformed or out of range."""


@dataclass(frozen=True, slots=True)
class ElsMessage:
    """One ELS / AML-over-HTTPS post, every known field parsed."""

    raw_fields: tuple[tuple[str, str], ...]
    version: str | None = None
    emergency_number: str | None = None
    source: str | None = None
    sent_at: datetime | None = None
    phone_number: str | None = None
    imei: str | None = None
    imsi: str | None = None
    iccid: str | None = None
    device_model: str | None = None
    languages: tuple[str, ...] = ()
    home_mcc: str | None = None
    home_mnc: str | None = None
    network_mcc: str | None = None
    network_mnc: str | None = None
    lat: float | None = None
    lon: float | None = None
    accuracy_m: float | None = None
    confidence: float | None = None
    location_time: datetime | None = None
    location_source: str | None = None
    altitude_m: float | None = None
    vertical_accuracy_m: float | None = None
    floor: int | None = None
    bearing_deg: float | None = None
    speed_mps: float | None = None

    def fix(self, received_at: datetime | None = None) -> LocationFix | None:
        """Converts to a LocationFix at 95 % confidence; None when the post has no position."""
        # Null Island is how handsets spell "no position"; never plot it.
        if self.lat is None or self.lon is None or (self.lat == 0 and self.lon == 0):
            return None
        observed_at = self.location_time or self.sent_at or received_at
        if observed_at is None:
            raise ElsError("the post has no location_time or time and no receive time was given")
        confidence = min(self.confidence or ASSUMED_CONFIDENCE, 0.99)
        method = SOURCE_FIX.get((self.location_source or "").lower(), FixMethod.UNKNOWN)
        try:
            return LocationFix.with_confidence(
                lat=self.lat,
                lon=self.lon,
                radius_m=UNKNOWN_ACCURACY_M if self.accuracy_m is None else self.accuracy_m,
                confidence=confidence,
                method=method,
                observed_at=observed_at,
                source="els",
                altitude_m=self.altitude_m,
                floor=self.floor,
                speed_mps=self.speed_mps,
                heading_deg=self.bearing_deg,
            )
        except InvalidInput as err:
            raise ElsError(f"ELS location is unusable: {err}") from err


def parse_els_body(body: bytes, *, hmac_key: bytes | None = None) -> ElsMessage:
    """Parses a raw form-encoded body; with `hmac_key`, the trailing hmac field must verify."""
    if len(body) > MAX_BODY_BYTES:
        raise ElsError(f"body is {len(body)} bytes; the limit is {MAX_BODY_BYTES}")
    if hmac_key is not None and not verify_els_hmac(body, key=hmac_key):
        raise ElsError("hmac is missing or does not match the body")
    try:
        text = body.decode("ascii")
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text))
    except (UnicodeDecodeError, ValueError) as err:
        raise ElsError(f"body is not application/x-www-form-urlencoded: {err}") from err
    form: dict[str, str] = {}
    for key, value in pairs:
        if key in form:
            raise ElsError(f"field {key!r} appears twice")
        form[key] = value
    return parse_els_form(form)


def verify_els_hmac(body: bytes, *, key: bytes) -> bool:
    """Checks HMAC-SHA1 (hex) of the raw bytes before '&hmac=' against the hmac field."""
    prefix, sep, digest = body.rpartition(b"&hmac=")
    if not sep or not re.fullmatch(rb"[0-9a-fA-F]{40}", digest):
        return False
    return same_digest(hmac_hex(key, prefix, hashlib.sha1), digest)


def parse_els_form(form: Mapping[str, str]) -> ElsMessage:
    """Parses the decoded fields of an ELS post; unknown fields are kept in raw_fields only."""
    # Senders leave fields empty rather than omitting them (cell_carrier=).
    fields = {key: value.strip() for key, value in form.items() if value.strip()}
    lat = _float(fields, "location_latitude")
    lon = _float(fields, "location_longitude")
    if (lat is None) != (lon is None):
        raise ElsError("location_latitude and location_longitude must come together")
    if lat is not None and not -90 <= lat <= 90:
        raise ElsError(f"location_latitude {lat} is outside ±90 degrees")
    if lon is not None and not -180 <= lon <= 180:
        raise ElsError(f"location_longitude {lon} is outside ±180 degrees")
    bearing = _float(fields, "location_bearing")
    if bearing is not None and not 0 <= bearing <= 360:
        raise ElsError(f"location_bearing {bearing} is not 0-360 degrees")
    floor = _int(fields, "location_floor")
    languages = fields.get("device_languages")
    return ElsMessage(
        raw_fields=tuple(sorted(form.items())),
        version=fields.get("v"),
        emergency_number=_match(fields, "emergency_number", _NUMBER),
        source=fields.get("source"),
        sent_at=_epoch_ms(fields, "time"),
        phone_number=_match(fields, "device_number", _NUMBER),
        imei=_match(fields, "device_imei", _IMEI),
        imsi=_match(fields, "device_imsi", _IMSI),
        iccid=_match(fields, "device_iccid", _ICCID),
        device_model=fields.get("device_model"),
        languages=tuple(part.strip() for part in languages.split(",")) if languages else (),
        home_mcc=_match(fields, "cell_home_mcc", _MCC),
        home_mnc=_match(fields, "cell_home_mnc", _MNC),
        network_mcc=_match(fields, "cell_network_mcc", _MCC),
        network_mnc=_match(fields, "cell_network_mnc", _MNC),
        lat=lat,
        lon=lon,
        accuracy_m=_non_negative(fields, "location_accuracy"),
        confidence=_confidence(fields),
        location_time=_epoch_ms(fields, "location_time"),
        location_source=fields.get("location_source"),
        altitude_m=_float(fields, "location_altitude"),
        vertical_accuracy_m=_non_negative(fields, "location_vertical_accuracy"),
        floor=floor,
        bearing_deg=bearing,
        speed_mps=_non_negative(fields, "location_speed"),
    )


def _confidence(fields: Mapping[str, str]) -> float | None:
    if "location_confidence" in fields:
        value = _float(fields, "location_confidence")
        assert value is not None
        if not 0 < value <= 1:
            raise ElsError(f"location_confidence {value} must be a fraction in (0, 1]")
        return value
    value = _float(fields, "location_certainty")
    if value is None:
        return None
    # location_certainty is a percentage in the senders we know; a value <= 1 is a fraction.
    fraction = value if value <= 1 else value / 100
    if not 0 < fraction <= 1:
        raise ElsError(f"location_certainty {value} must be a percentage in (0, 100]")
    return fraction


def _match(fields: Mapping[str, str], key: str, pattern: re.Pattern[str]) -> str | None:
    value = fields.get(key)
    if value is not None and not pattern.fullmatch(value):
        raise ElsError(f"{key}={value!r} is malformed")
    return value


def _float(fields: Mapping[str, str], key: str) -> float | None:
    value = fields.get(key)
    if value is None:
        return None
    if not _DECIMAL.fullmatch(value) or not math.isfinite(number := float(value)):
        raise ElsError(f"{key}={value!r} is not a number")
    return number


def _non_negative(fields: Mapping[str, str], key: str) -> float | None:
    number = _float(fields, key)
    if number is not None and number < 0:
        raise ElsError(f"{key}={number} must not be negative")
    return number


def _int(fields: Mapping[str, str], key: str) -> int | None:
    value = fields.get(key)
    if value is None:
        return None
    if not _INTEGER.fullmatch(value):
        raise ElsError(f"{key}={value!r} is not an integer")
    return int(value)


def _epoch_ms(fields: Mapping[str, str], key: str) -> datetime | None:
    millis = _int(fields, key)
    if millis is None:
        return None
    if not 0 <= millis <= MAX_EPOCH_MS:
        raise ElsError(f"{key}={millis} is not a plausible epoch time in milliseconds")
    return datetime.fromtimestamp(millis / 1000, tz=UTC)
