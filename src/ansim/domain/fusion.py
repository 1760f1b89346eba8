"""Location fusion: all fixes of one incident, over time, into one honest estimate.

Fixes are kept sorted by observation time; a late fix re-filters from where it belongs, so the
estimate depends only on the set of fixes, never on their arrival order. A track can be resumed
from a checkpoint (`checkpoint()`, `resume()`): fixes newer than its newest are then filtered
on the stored state, exactly as the full track would; an older one needs the full history.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from operator import attrgetter

import numpy as np

from ansim.domain.errors import InvalidInput
from ansim.domain.estimate import Estimate, MethodContribution, TrackPoint, ellipse_95
from ansim.domain.fixes import MAX_SPEED_MPS, FixMethod, LocationFix
from ansim.domain.fusion_roads import on_road
from ansim.domain.fusion_tuning import BIASES as BIASES
from ansim.domain.fusion_tuning import STILL as STILL
from ansim.domain.fusion_tuning import VEHICLE as VEHICLE
from ansim.domain.fusion_tuning import WALK as WALK
from ansim.domain.fusion_tuning import MethodBias as MethodBias
from ansim.domain.fusion_tuning import Tuning as Tuning
from ansim.domain.fusion_tuning import filter_of
from ansim.domain.imm import ImmState, Measurement, Vector
from ansim.domain.mixture_region import mixture_scale
from ansim.domain.track_checkpoint import TrackCheckpoint

EARTH_RADIUS_M = 6_371_008.8
# A radius_95 is a circular normal: r95 = sigma * sqrt(-2 ln 0.05).
R95_PER_SIGMA = math.sqrt(-2.0 * math.log(0.05))
# Nobody is located better than this, whatever the device says.
MIN_RADIUS_M = 4.0
# Spread of a device-reported velocity, per axis, on top of 10 % of the speed.
VELOCITY_SIGMA_MPS = 1.0

VEHICLE_MODEL = 1
# This many consecutive, mutually consistent gated fixes mean the person really is elsewhere.
REACQUIRE_COUNT = 3
REACQUIRE_WINDOW = timedelta(minutes=5)
REACQUIRE_SPEED_MPS = 25.0
# Accepted fixes nearest in time that a new fix is checked against for impossible jumps.
NEIGHBOURS_CHECKED = 3
TRACK_WINDOW = timedelta(minutes=10)
TRACK_POINTS = 60


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    GATED = "gated"
    REFUSED = "refused"
    DUPLICATE = "duplicate"


@dataclass(frozen=True, slots=True)
class FixVerdict:
    """What the track did with one fix, and why."""

    outcome: Outcome
    reason: str = ""

    @property
    def accepted(self) -> bool:
        return self.outcome in (Outcome.ACCEPTED, Outcome.DUPLICATE)

    def raise_if_refused(self) -> None:
        """Raises InvalidInput with the reason when the fix was refused."""
        if self.outcome is Outcome.REFUSED:
            raise InvalidInput(self.reason)


@dataclass(frozen=True, slots=True)
class _Step:
    """Filter state right after one sorted fix was considered."""

    state: ImmState | None
    state_at: datetime | None
    outcome: Outcome
    reason: str
    pending: tuple[int, ...]  # indices of consecutive gated fixes, oldest first
    revived: tuple[int, ...] = ()  # gated fixes that a re-acquisition took in after all
    point: TrackPoint | None = None


_START = _Step(None, None, Outcome.ACCEPTED, "", ())
# Time, then every field: equal keys are equal fixes. Optional fields sort absent first.
_Key = tuple[datetime, str, str, float, float, float, tuple[tuple[bool, float], ...]]
_OPTIONAL = attrgetter("altitude_m", "floor", "speed_mps", "heading_deg")


class HistoryNeeded(LookupError):
    """A resumed track was given a fix older than its newest: rebuild it from all fixes."""


class LocationTrack:
    """All fixes of one incident and the fused estimate drawn from them."""

    def __init__(self, tuning: Tuning | None = None) -> None:
        self._tuning = tuning or Tuning()
        self._filter = filter_of(self._tuning)
        self._fixes: list[LocationFix] = []
        self._keys: list[_Key] = []
        self._steps: list[_Step] = []
        self._anchor = (0.0, 0.0)
        self._outcome_list: list[Outcome] | None = []  # None: recompute from the steps
        # A resumed track starts with the fixes its checkpoint carried (held, never re-filtered).
        self._base: TrackCheckpoint | None = None
        self._held = 0
        self._held_accepted = 0

    @classmethod
    def from_fixes(
        cls, fixes: Iterable[LocationFix], *, now: datetime, tuning: Tuning | None = None
    ) -> LocationTrack:
        """Rebuilds a track from stored fixes; fixes that would be refused are dropped."""
        track = cls(tuning)
        for fix in sorted(fixes, key=order_key):
            track.add(fix, now=now)
        return track

    @classmethod
    def resume(cls, checkpoint: TrackCheckpoint, *, tuning: Tuning | None = None) -> LocationTrack:
        """Continues a track from its checkpoint; see `needs_history` for the fixes it cannot take.

        Raises ValueError when the checkpoint's filter state is of another size (saved before
        the tuning's bias states changed): the caller rebuilds the track from the fixes.
        """
        track = cls(tuning)
        if checkpoint.state.means.shape[-1] != track._filter.size:
            raise ValueError("checkpoint of another filter state size")
        track._base = checkpoint
        track._anchor = checkpoint.anchor
        held = [*checkpoint.neighbours, *checkpoint.pending]
        accepted = len(checkpoint.neighbours)
        track._fixes = held
        track._keys = [order_key(f) for f in held]
        track._steps = [
            _Step(None, None, Outcome.ACCEPTED if i < accepted else Outcome.GATED, "", ())
            for i in range(len(held))
        ]
        newest = track._steps[-1]
        pending = tuple(range(accepted, len(held)))
        track._steps[-1] = _Step(checkpoint.state, checkpoint.state_at, newest.outcome, "", pending)
        track._outcome_list = None
        track._held, track._held_accepted = len(held), accepted
        return track

    def needs_history(self, fix: LocationFix) -> bool:
        """True when a resumed track cannot place `fix`: it is older than the newest fix held."""
        return self._held > 0 and order_key(fix) < self._keys[self._held - 1]

    def checkpoint(self) -> TrackCheckpoint:
        """What `resume()` needs to take newer fixes in exactly as this track would."""
        if not self._steps:
            raise ValueError("an empty track has no checkpoint")
        last = self._steps[-1]
        assert last.state is not None
        assert last.state_at is not None
        neighbours = sorted(self._accepted_before(len(self._fixes)))
        # Only the last REACQUIRE_COUNT - 1 gated fixes can ever join a re-acquisition.
        pending = last.pending[-(REACQUIRE_COUNT - 1) :]
        return TrackCheckpoint(
            anchor=self._anchor,
            state=last.state,
            state_at=last.state_at,
            neighbours=tuple(self._fixes[i] for i in neighbours),
            pending=tuple(self._fixes[i] for i in pending),
            points=self._track(last.state_at),
            contributions=self._contributions(),
            floor=self._latest_floor(),
            altitude_m=self._latest_altitude(),
        )

    @property
    def fixes(self) -> tuple[LocationFix, ...]:
        """Fixes kept (accepted or gated), oldest first; resumed: the held ones and those since."""
        return tuple(self._fixes)

    @property
    def last_fix_at(self) -> datetime | None:
        """Time of the newest fix the estimate rests on (None before any fix)."""
        return self._steps[-1].state_at if self._steps else None

    def outcomes(self) -> tuple[Outcome, ...]:
        """What became of each kept fix (in the order of `fixes`): accepted or gated."""
        return tuple(self._outcomes())

    def add(self, fix: LocationFix, *, now: datetime) -> FixVerdict:
        """Takes one fix in, in any order; refused fixes leave the track untouched.

        A resumed track raises HistoryNeeded for a fix older than its newest (`needs_history`).
        """
        try:
            fix.check_not_future(now)
            key = order_key(fix)
            index = bisect.bisect_left(self._keys, key)
            if index < len(self._fixes) and self._fixes[index] == fix:
                return FixVerdict(Outcome.DUPLICATE, "this fix was already taken in")
            if index < self._held:
                raise HistoryNeeded(f"fix of {fix.observed_at.isoformat()} predates the checkpoint")
            self._check_reachable(fix, index)
        except InvalidInput as refusal:
            return FixVerdict(Outcome.REFUSED, str(refusal))
        self._fixes.insert(index, fix)
        self._keys.insert(index, key)
        self._refilter_from(index)
        step = self._steps[index]
        return FixVerdict(step.outcome, step.reason)

    def estimate(self, now: datetime) -> Estimate | None:
        """The fused position at `now`, its uncertainty grown for the time since the last fix."""
        if not self._steps:
            return None
        last = self._steps[-1]
        assert last.state is not None
        assert last.state_at is not None
        dt = max(0.0, (now - last.state_at).total_seconds())
        state = self._filter.predict(last.state, dt)
        mean, cov = state.combined()
        lat, lon = self._to_wgs84(mean[:2])
        major, minor, orientation = ellipse_95((cov[0, 0], cov[0, 1], cov[1, 1]))
        scale = mixture_scale(  # the mixture's own 95 %, not its moments' (mixture_region)
            state.probs, state.means[:, :2], state.covs[:, :2, :2], mean[:2], cov[:2, :2]
        )
        major, minor = major * scale, minor * scale
        speed = math.hypot(mean[2], mean[3])
        heading = math.degrees(math.atan2(mean[2], mean[3])) % 360.0
        return Estimate(
            lat=lat,
            lon=lon,
            semi_major_m=major,
            semi_minor_m=minor,
            orientation_deg=orientation,
            radius_95_m=major,
            area_m2=math.pi * major * minor,
            at=now,
            last_fix_at=last.state_at,
            age_s=dt,
            speed_mps=speed,
            heading_deg=heading,
            vehicle_probability=float(state.probs[1]),
            track=self._track(last.state_at),
            contributions=self._contributions(),
            floor=self._latest_floor(),
            altitude_m=self._latest_altitude(),
        )

    def _latest_floor(self) -> int | None:
        """Floor of the newest accepted fix that gives one."""
        for fix in self._accepted_newest_first():
            if fix.floor is not None:
                return fix.floor
        return self._base.floor if self._base else None

    def _latest_altitude(self) -> float | None:
        for fix in self._accepted_newest_first():
            if fix.altitude_m is not None:
                return fix.altitude_m
        return self._base.altitude_m if self._base else None

    def _accepted_newest_first(self) -> Iterable[LocationFix]:
        outcomes = self._outcomes()
        return (
            self._fixes[i]
            for i in range(len(self._fixes) - 1, -1, -1)
            if outcomes[i] is Outcome.ACCEPTED
        )

    def _check_reachable(self, fix: LocationFix, index: int) -> None:
        """Refuses a fix no vehicle could have reached from the accepted fixes nearest in time.

        One accepted fix could itself be the outlier (say the very first fix), so it takes two
        that disagree; below that the gate and re-acquisition decide.
        """
        nearest = sorted(
            self._accepted_before(index) + self._accepted_from(index),
            key=lambda i: abs((fix.observed_at - self._fixes[i].observed_at).total_seconds()),
        )[:NEIGHBOURS_CHECKED]
        conflicts = []
        for i in nearest:
            other = self._fixes[i]
            gap = (
                haversine_m(fix.lat, fix.lon, other.lat, other.lon) - fix.radius_m - other.radius_m
            )
            seconds = abs((fix.observed_at - other.observed_at).total_seconds())
            if gap > MAX_SPEED_MPS * seconds:
                conflicts.append((gap, seconds, other))
        if len(conflicts) >= 2:
            gap, seconds, other = conflicts[0]
            raise InvalidInput(
                f"fix is {gap:.0f} m beyond the accepted {other.method} fix of "
                f"{other.observed_at.isoformat()} ({seconds:.0f} s apart): "
                "faster than any vehicle"
            )

    def _accepted_before(self, index: int) -> list[int]:
        """The accepted fixes before `index` that can be nearest in time to a fix put there.

        Sorting by time gap keeps ties in track order, so the group of fixes sharing the time
        of the last one counted is taken whole (the order in the list does not matter).
        """
        outcomes = self._outcomes()
        found: list[int] = []
        i = index - 1
        while i >= 0:
            if (
                len(found) >= NEIGHBOURS_CHECKED
                and self._fixes[i].observed_at != self._fixes[found[-1]].observed_at
            ):
                break
            if outcomes[i] is Outcome.ACCEPTED:
                found.append(i)
            i -= 1
        return found

    def _accepted_from(self, index: int) -> list[int]:
        """The first accepted fixes from `index` on (ties in time are already in order)."""
        outcomes = self._outcomes()
        found: list[int] = []
        for i in range(index, len(self._fixes)):
            if len(found) == NEIGHBOURS_CHECKED:
                break
            if outcomes[i] is Outcome.ACCEPTED:
                found.append(i)
        return found

    def _refilter_from(self, index: int) -> None:
        if index == 0:
            self._anchor = (self._fixes[0].lat, self._fixes[0].lon)
        appended = index == len(self._steps) == len(self._fixes) - 1
        del self._steps[index:]
        previous = self._steps[-1] if self._steps else _START
        for i in range(index, len(self._fixes)):
            previous = self._step(previous, i)
            self._steps.append(previous)
        if appended and self._outcome_list is not None:
            self._outcome_list.append(previous.outcome)
            for j in previous.revived:
                self._outcome_list[j] = Outcome.ACCEPTED
        else:
            self._outcome_list = None

    def _step(self, previous: _Step, i: int) -> _Step:
        fix = self._fixes[i]
        measured = self._measurement(fix)
        if previous.state is None or previous.state_at is None:
            state = self._filter.start(measured)
            return _Step(
                state, fix.observed_at, Outcome.ACCEPTED, "", (), (), self._point(state, fix)
            )
        dt = (fix.observed_at - previous.state_at).total_seconds()
        predicted = self._filter.predict(previous.state, dt)
        innovation = self._filter.innovation(predicted, measured)
        if innovation.mahalanobis2 <= self._tuning.gate_d2:
            inflation = max(1.0, innovation.mahalanobis2 / self._tuning.soft_d2)
            evidence = _with_velocity(fix, measured).r
            measured = _with_velocity(fix, self._measurement(fix, inflation))
            state = self._on_road(self._filter.update(predicted, measured, evidence))
            return _Step(
                state, fix.observed_at, Outcome.ACCEPTED, "", (), (), self._point(state, fix)
            )
        pending = (*previous.pending, i)
        pending = tuple(
            j for j in pending if fix.observed_at - self._fixes[j].observed_at <= REACQUIRE_WINDOW
        )
        if self._consistent(pending[-REACQUIRE_COUNT:]):
            state = self._restart(pending[-REACQUIRE_COUNT:])
            revived = pending[-REACQUIRE_COUNT:-1]
            reason = f"re-acquired: {len(revived) + 1} consistent fixes away from the old track"
            return _Step(
                state,
                fix.observed_at,
                Outcome.ACCEPTED,
                reason,
                (),
                revived,
                self._point(state, fix),
            )
        reason = (
            f"gated as outlier: Mahalanobis distance {math.sqrt(innovation.mahalanobis2):.1f} "
            f"beyond {math.sqrt(self._tuning.gate_d2):.1f}"
        )
        return _Step(previous.state, previous.state_at, Outcome.GATED, reason, pending)

    def _on_road(self, state: ImmState) -> ImmState:
        """The vehicle model kept on roads when the tuning asks for it (fusion_roads)."""
        return on_road(state, self._tuning, self._filter, self._to_local, self._to_wgs84)

    def _consistent(self, indices: tuple[int, ...]) -> bool:
        """True when enough gated fixes agree with each other, allowing for a fast vehicle."""
        if len(indices) < REACQUIRE_COUNT:
            return False
        fixes = [self._fixes[j] for j in indices]
        for a_pos, a in enumerate(fixes):
            for b in fixes[a_pos + 1 :]:
                dist = haversine_m(a.lat, a.lon, b.lat, b.lon)
                seconds = (b.observed_at - a.observed_at).total_seconds()
                var = _sigma(a) ** 2 + _sigma(b) ** 2
                if dist**2 > self._tuning.gate_d2 * var + (REACQUIRE_SPEED_MPS * seconds) ** 2:
                    return False
        return True

    def _restart(self, indices: tuple[int, ...]) -> ImmState:
        first = self._fixes[indices[0]]
        state, at = self._filter.start(self._measurement(first)), first.observed_at
        for j in indices[1:]:
            fix = self._fixes[j]
            state = self._filter.predict(state, (fix.observed_at - at).total_seconds())
            state, at = self._filter.update(state, self._measurement(fix)), fix.observed_at
        return state

    def _measurement(self, fix: LocationFix, inflation: float = 1.0) -> Measurement:
        """The fix as position + its method's bias (scaled to this fix) + fresh noise."""
        variance = _sigma(fix) ** 2 * inflation
        h = np.zeros((2, self._filter.size))
        h[0, 0] = h[1, 1] = 1.0
        bias = self._tuning.bias_of(fix.method)
        share = 0.0
        if bias is not None:
            index, share = bias
            h[0, 4 + 2 * index] = h[1, 5 + 2 * index] = math.sqrt(share * variance)
        r = np.eye(2) * (1.0 - share) * variance
        return Measurement(self._to_local(fix.lat, fix.lon), r, h)

    def _point(self, state: ImmState, fix: LocationFix) -> TrackPoint:
        mean, cov = state.combined()
        lat, lon = self._to_wgs84(mean[:2])
        major, _, _ = ellipse_95((cov[0, 0], cov[0, 1], cov[1, 1]))
        # Drawn on a map: a centimetre is plenty, and checkpoints that carry points stay short.
        return TrackPoint(fix.observed_at, round(lat, 7), round(lon, 7), round(major, 2))

    def _outcomes(self) -> list[Outcome]:
        """Outcome of every kept fix (kept up to date on appends; the caller must not change it)."""
        if self._outcome_list is None:
            outcomes = [s.outcome for s in self._steps]
            for step in self._steps:
                for j in step.revived:
                    outcomes[j] = Outcome.ACCEPTED
            self._outcome_list = outcomes
        return self._outcome_list

    def _track(self, last_at: datetime) -> tuple[TrackPoint, ...]:
        points = [*(self._base.points if self._base else ())]
        points += [s.point for s in self._steps if s.point is not None]
        recent = [p for p in points if last_at - p.at <= TRACK_WINDOW]
        return tuple(recent[-TRACK_POINTS:])

    def _contributions(self) -> tuple[MethodContribution, ...]:
        base = self._base.contributions if self._base else ()
        tally = {c.method: (c.used, c.gated, c.last_radius_m) for c in base}
        for i, (fix, outcome) in enumerate(zip(self._fixes, self._outcomes(), strict=True)):
            used, gated, radius = tally.get(fix.method, (0, 0, 0.0))
            if i < self._held:
                # Counted in the checkpoint already; only a re-acquisition changes a held fix.
                if i >= self._held_accepted and outcome is Outcome.ACCEPTED:
                    used, gated = used + 1, gated - 1
            elif outcome is Outcome.ACCEPTED:
                used, radius = used + 1, fix.radius_m
            else:
                gated, radius = gated + 1, fix.radius_m
            tally[fix.method] = (used, gated, radius)
        return tuple(
            MethodContribution(method, used, gated, radius)
            for method, (used, gated, radius) in sorted(tally.items())
        )

    def _to_local(self, lat: float, lon: float) -> Vector:
        lat0, lon0 = self._anchor
        east = math.radians(lon - lon0) * EARTH_RADIUS_M * math.cos(math.radians(lat0))
        north = math.radians(lat - lat0) * EARTH_RADIUS_M
        return np.array([east, north])

    def _to_wgs84(self, en: Vector) -> tuple[float, float]:
        lat0, lon0 = self._anchor
        lat = lat0 + math.degrees(float(en[1]) / EARTH_RADIUS_M)
        lon = lon0 + math.degrees(float(en[0]) / (EARTH_RADIUS_M * math.cos(math.radians(lat0))))
        return lat, lon


def _with_velocity(fix: LocationFix, measured: Measurement) -> Measurement:
    """Adds the device's own speed and heading (GNSS Doppler) to the measurement when given."""
    if fix.speed_mps is None or fix.heading_deg is None or fix.method is not FixMethod.GNSS:
        return measured
    z, r = measured.z, measured.r
    heading = math.radians(fix.heading_deg)
    velocity = np.array([fix.speed_mps * math.sin(heading), fix.speed_mps * math.cos(heading)])
    # Heading is noise at walking pace; the spread grows with speed for the bearing error.
    sigma = VELOCITY_SIGMA_MPS + 0.1 * fix.speed_mps
    r4 = np.zeros((4, 4))
    r4[:2, :2] = r
    r4[2:, 2:] = np.eye(2) * sigma**2
    h = np.zeros((4, measured.h.shape[1]))
    h[:2] = measured.h
    h[2, 2] = h[3, 3] = 1.0
    return Measurement(np.concatenate([z, velocity]), r4, h)


def _sigma(fix: LocationFix) -> float:
    return max(fix.radius_m, MIN_RADIUS_M) / R95_PER_SIGMA


def order_key(fix: LocationFix) -> _Key:
    """How a track orders its fixes: by observation time, ties by content."""
    return (
        fix.observed_at,
        fix.method.value,
        fix.source,
        fix.lat,
        fix.lon,
        fix.radius_m,
        tuple((v is not None, v or 0.0) for v in _OPTIONAL(fix)),
    )


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))
