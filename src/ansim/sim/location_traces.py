"""Ground-truth movements and the fixes devices would report along them, for location studies.

Error model from field figures (see docs/location.md): Wi-Fi 83 %, GNSS 11 %, cell 6 % of fixes;
median errors 74 m, 8 m and 600 m with heavy tails, ~1.5 % gross outliers kilometres off, and
reported radii that are honest only on average.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

import numpy as np
import numpy.typing as npt

from ansim.domain.fixes import FixMethod, LocationFix

Kind = Literal["still", "walk", "car"]
FloatArray = npt.NDArray[np.float64]

EARTH_RADIUS_M = 6_371_008.8
SEOUL_CITY_HALL = (37.5663, 126.9779)
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
_R95_PER_SIGMA = math.sqrt(-2.0 * math.log(0.05))
# Rayleigh median = sigma * sqrt(2 ln 2).
_MEDIAN_PER_SIGMA = math.sqrt(2.0 * math.log(2.0))


@dataclass(frozen=True, slots=True)
class ErrorModel:
    """How one positioning method errs and how it reports its radius."""

    share: float
    median_error_m: float
    tail_spread: float  # log-normal spread of the per-fix error scale
    radius_spread: float  # log-normal spread of reported radius around the honest one


ERROR_MODELS: dict[FixMethod, ErrorModel] = {
    FixMethod.WIFI: ErrorModel(0.83, 74.0, 0.5, 0.35),
    FixMethod.GNSS: ErrorModel(0.11, 8.0, 0.5, 0.35),
    FixMethod.CELL: ErrorModel(0.06, 600.0, 0.5, 0.35),
}
GROSS_OUTLIER_SHARE = 0.015
# The reported radius spreads around the honest one; this scale keeps 95 % of the (non-outlier)
# circles holding the truth over the population (without it they held it 89.6 %).
HONEST_SCALE = 1.23
LATE_SHARE = 0.05


@dataclass(frozen=True, slots=True)
class Trace:
    """True position each second, in metres east/north of `origin`."""

    kind: Kind
    origin: tuple[float, float]
    east: FloatArray
    north: FloatArray

    @property
    def duration_s(self) -> int:
        return len(self.east) - 1

    def position(self, t: float) -> tuple[float, float]:
        """(east, north) at `t` seconds, linearly interpolated."""
        secs = np.arange(len(self.east), dtype=np.float64)
        return float(np.interp(t, secs, self.east)), float(np.interp(t, secs, self.north))

    def to_wgs84(self, east: float, north: float) -> tuple[float, float]:
        lat0, lon0 = self.origin
        lat = lat0 + math.degrees(north / EARTH_RADIUS_M)
        lon = lon0 + math.degrees(east / (EARTH_RADIUS_M * math.cos(math.radians(lat0))))
        return lat, lon

    def to_local(self, lat: float, lon: float) -> tuple[float, float]:
        lat0, lon0 = self.origin
        north = math.radians(lat - lat0) * EARTH_RADIUS_M
        east = math.radians(lon - lon0) * EARTH_RADIUS_M * math.cos(math.radians(lat0))
        return east, north


@dataclass(frozen=True, slots=True)
class ReceivedFix:
    """A fix and the second (since trace start) it reached the server."""

    arrival_s: float
    fix: LocationFix


def synthetic_path(
    rng: np.random.Generator, length_m: float, block_m: tuple[float, float] = (60.0, 250.0)
) -> FloatArray:
    """A street-like polyline (vertices, metres) of straight blocks with mostly square turns."""
    heading = rng.uniform(0, 2 * math.pi)
    points = [(0.0, 0.0)]
    total = 0.0
    while total < length_m:
        block = rng.uniform(*block_m)
        x, y = points[-1]
        points.append((x + block * math.sin(heading), y + block * math.cos(heading)))
        total += block
        heading += rng.choice([-math.pi / 2, 0.0, math.pi / 2]) + rng.normal(0, 0.15)
    return np.array(points)


def follow(
    path: FloatArray,
    kind: Kind,
    rng: np.random.Generator,
    duration_s: int,
    origin: tuple[float, float] = SEOUL_CITY_HALL,
) -> Trace:
    """Moves along `path` second by second with a walking or abduction-by-car speed profile."""
    seg = np.hypot(*np.diff(path, axis=0).T)
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    corners = cum[1:-1][_turns(path) > math.radians(30)]
    s, v = 0.0, 0.0
    pause_left = 0.0
    walk_speed = rng.uniform(1.1, 1.5)
    cruise = rng.uniform(8.0, 15.0)
    pickup_s = rng.uniform(30, 120) if kind == "car" else math.inf
    if kind == "still":  # standing indoors: hiding, waiting, held somewhere
        return Trace(kind, origin, np.zeros(duration_s + 1), np.zeros(duration_s + 1))
    dist = [0.0]
    for t in range(1, duration_s + 1):
        in_car = t >= pickup_s
        if pause_left > 0:
            pause_left -= 1
            v = 0.0
        elif not in_car:
            if rng.random() < 1 / 120:
                pause_left = rng.uniform(10, 60)
            v = walk_speed
        else:
            if rng.random() < 1 / 100:
                pause_left = rng.uniform(10, 40)  # traffic light
            ahead = corners[corners > s]
            to_corner = float(ahead[0] - s) if len(ahead) else math.inf
            limit = math.sqrt(5.0**2 + 2 * 2.0 * to_corner)  # slow to ~5 m/s for a turn
            v = min(v + 2.0, cruise, limit)
        s = min(s + v, float(cum[-1]))
        dist.append(s)
    d = np.array(dist)
    east = np.interp(d, cum, path[:, 0])
    north = np.interp(d, cum, path[:, 1])
    return Trace(kind, origin, east, north)


def _turns(path: FloatArray) -> FloatArray:
    """Turning angle (radians) at each inner vertex of `path`; a car slows only for real turns."""
    if len(path) < 3:
        return np.zeros(0)
    d = np.diff(path, axis=0)
    heading = np.arctan2(d[:, 0], d[:, 1])
    turn = np.abs(np.diff(heading))
    return np.asarray(np.minimum(turn, 2 * math.pi - turn), dtype=np.float64)


def synthetic_trace(kind: Kind, rng: np.random.Generator, duration_s: int = 600) -> Trace:
    """A walk or a car abduction along a synthetic street path (or standing still)."""
    if kind != "car":
        return follow(synthetic_path(rng, duration_s * 2.0), kind, rng, duration_s)
    # A car keeps to through roads: longer straights between turns.
    return follow(synthetic_path(rng, duration_s * 16.0, (150.0, 600.0)), kind, rng, duration_s)


def draw_fixes(
    trace: Trace,
    rng: np.random.Generator,
    models: dict[FixMethod, ErrorModel] | None = None,
    outlier_share: float = GROSS_OUTLIER_SHARE,
    late_share: float = LATE_SHARE,
) -> list[ReceivedFix]:
    """Fixes along `trace`, sorted by arrival, 5-30 s apart with occasional 1-2 minute gaps."""
    models = models or ERROR_MODELS
    received = []
    for t, method in fix_times(trace, rng, {m: model.share for m, model in models.items()}):
        model = models[method]
        sigma = (
            model.median_error_m / _MEDIAN_PER_SIGMA * math.exp(rng.normal(0, model.tail_spread))
        )
        dx, dy = rng.normal(0, sigma, size=2)
        error = gross_outlier(rng, (dx, dy), outlier_share)
        spread = math.exp(rng.normal(0, model.radius_spread))
        radius = HONEST_SCALE * _R95_PER_SIGMA * sigma * spread
        doppler = method is FixMethod.GNSS
        received.append(received_fix(trace, rng, t, method, error, radius, doppler, late_share))
    return sorted(received, key=lambda r: r.arrival_s)


def fix_times(
    trace: Trace, rng: np.random.Generator, shares: dict[FixMethod, float]
) -> Iterator[tuple[float, FixMethod]]:
    """When a device takes a fix along `trace` and by which method (drawn by `shares`): 5-30 s
    apart with occasional 1-2 minute gaps. The caller draws each fix between two steps."""
    methods: Sequence[FixMethod] = list(shares)
    p = np.array([shares[m] for m in methods])
    p = p / p.sum()
    t = rng.uniform(0, 5)
    while t <= trace.duration_s:
        yield t, methods[int(rng.choice(len(methods), p=p))]
        t += rng.uniform(60, 120) if rng.random() < 0.05 else rng.uniform(5, 30)


def gross_outlier(
    rng: np.random.Generator, error: tuple[float, float], share: float
) -> tuple[float, float]:
    """`error` (metres east, north), or with probability `share` one kilometres off instead."""
    if rng.random() < share:
        angle, far = rng.uniform(0, 2 * math.pi), rng.uniform(1000, 5000)
        return far * math.sin(angle), far * math.cos(angle)
    return error


def received_fix(
    trace: Trace,
    rng: np.random.Generator,
    t: float,
    method: FixMethod,
    error: tuple[float, float],
    radius_m: float,
    doppler: bool,
    late_share: float,
) -> ReceivedFix:
    """The fix taken at `t`, `error` metres (east, north) off the truth, with Doppler speed and
    bearing if `doppler`, and when it reaches the server (late with probability `late_share`)."""
    east, north = trace.position(t)
    lat, lon = trace.to_wgs84(east + error[0], north + error[1])
    speed = heading = None
    if doppler:  # as Android reports them for GNSS
        ve, vn = np.subtract(trace.position(t + 0.5), trace.position(t - 0.5))
        ve, vn = ve + rng.normal(0, 0.5), vn + rng.normal(0, 0.5)
        speed = min(float(math.hypot(ve, vn)), 69.0)
        heading = float(math.degrees(math.atan2(ve, vn)) % 360.0)
    fix = LocationFix(
        lat=lat,
        lon=lon,
        radius_m=radius_m,
        method=method,
        observed_at=T0 + timedelta(seconds=t),
        source="bench",
        speed_mps=speed,
        heading_deg=heading,
    )
    delay = rng.uniform(5, 90) if rng.random() < late_share else rng.uniform(0, 2)
    return ReceivedFix(t + delay, fix)
