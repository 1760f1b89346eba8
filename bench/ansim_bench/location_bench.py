"""Location benchmark: fused estimate against the raw fixes a dispatcher would otherwise read.

Every 10 s of each trace the board is looked at: (a) the latest fix received, (b) the most
accurate fix received in the last 30 s (the latest when there is none), (c) the fused estimate.
(o) is no estimator: the distance moved since the latest fix was taken, the error even an exact
fix would have, so it shows how much of the error is staleness that no filter can remove.

Two error models: "independent" (each fix's error drawn afresh, `location_traces.draw_fixes`)
and "persistent" (biases that last minutes, `location_errors`); standing still is indoors.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

import numpy as np

from ansim.domain.estimate import Estimate, inside_polygons
from ansim.domain.fixes import LocationFix
from ansim.domain.fusion import LocationTrack, Outcome, Tuning
from ansim.sim.location_traces import T0, Kind, ReceivedFix, Trace, draw_fixes, synthetic_trace
from ansim_bench.location_errors import INDOORS, OUTDOORS, draw_persistent_fixes

LOOK_EVERY_S = 10
RECENT = timedelta(seconds=30)
KINDS: tuple[Kind, ...] = ("still", "walk", "car")
ERROR_MODELS = ("independent", "persistent")

TraceSource = Callable[[Kind, np.random.Generator], Trace]
Region = Callable[[Estimate], Estimate]


@dataclass(frozen=True, slots=True)
class ErrorStats:
    """Median and 90th percentile of horizontal error (m)."""

    median_m: float
    p90_m: float

    @classmethod
    def of(cls, errors: list[float]) -> ErrorStats:
        if not errors:
            return cls(math.nan, math.nan)
        return cls(float(np.median(errors)), float(np.percentile(errors, 90)))


@dataclass(frozen=True, slots=True)
class ScenarioResult:
    """Figures for one kind of movement (or all together)."""

    name: str
    looks: int
    latest_fix: ErrorStats
    best_recent_fix: ErrorStats
    fused: ErrorStats
    exact_last_fix: ErrorStats
    calibration: float
    median_area_m2: float
    refused: int
    gated: int
    # Share of fixes (by method) whose own 95 % circle held the truth when taken.
    fix_coverage: tuple[tuple[str, float, int], ...] = ()

    @property
    def median_ratio(self) -> float:
        """Fused median over the best recent fix's median."""
        return self.fused.median_m / self.best_recent_fix.median_m


@dataclass(frozen=True, slots=True)
class BenchResult:
    """All scenarios of one run."""

    traces: int
    seed: int
    scenarios: tuple[ScenarioResult, ...]
    source: str = "synthetic street paths"
    errors: str = "independent"

    def scenario(self, name: str) -> ScenarioResult:
        return next(s for s in self.scenarios if s.name == name)

    def format_table(self) -> str:
        """A Markdown table of the figures."""
        head = (
            f"{self.traces} traces per movement, seed {self.seed}, {self.errors} errors, "
            f"ground truth: {self.source}\n\n"
            "| movement | looks | (a) latest fix median / p90 m | (b) best fix 30 s median / p90 m "
            "| (c) fused median / p90 m | (c)/(b) median | (c) inside 95 % | (c) median area m² "
            "| (o) staleness floor median / p90 m | refused | gated | fix circles hold truth |\n"
            "|---|---|---|---|---|---|---|---|---|---|---|---|\n"
        )
        rows = [
            f"| {s.name} | {s.looks} | {_pair(s.latest_fix)} | {_pair(s.best_recent_fix)} "
            f"| {_pair(s.fused)} | {s.median_ratio:.2f} | {s.calibration * 100:.1f} % "
            f"| {s.median_area_m2:,.0f} | {_pair(s.exact_last_fix)} | {s.refused} | {s.gated} "
            f"| {_coverage(s.fix_coverage)} |"
            for s in self.scenarios
        ]
        return head + "\n".join(rows) + "\n"


@dataclass
class _Tally:
    latest: list[float] = field(default_factory=list)
    best: list[float] = field(default_factory=list)
    fused: list[float] = field(default_factory=list)
    exact: list[float] = field(default_factory=list)
    inside: list[bool] = field(default_factory=list)
    area: list[float] = field(default_factory=list)
    refused: int = 0
    gated: int = 0
    fix_inside: dict[str, list[bool]] = field(default_factory=dict)

    def result(self, name: str) -> ScenarioResult:
        return ScenarioResult(
            name=name,
            looks=len(self.fused),
            latest_fix=ErrorStats.of(self.latest),
            best_recent_fix=ErrorStats.of(self.best),
            fused=ErrorStats.of(self.fused),
            exact_last_fix=ErrorStats.of(self.exact),
            calibration=float(np.mean(self.inside)) if self.inside else math.nan,
            median_area_m2=float(np.median(self.area)) if self.area else math.nan,
            refused=self.refused,
            gated=self.gated,
            fix_coverage=tuple(
                (method, float(np.mean(inside)), len(inside))
                for method, inside in sorted(self.fix_inside.items())
            ),
        )

    def merge(self, other: _Tally) -> None:
        self.latest += other.latest
        self.best += other.best
        self.fused += other.fused
        self.exact += other.exact
        self.inside += other.inside
        self.area += other.area
        self.refused += other.refused
        self.gated += other.gated
        for method, inside in other.fix_inside.items():
            self.fix_inside.setdefault(method, []).extend(inside)


def run(
    *,
    traces: int,
    seed: int,
    source: TraceSource | None = None,
    source_name: str | None = None,
    tuning: Tuning | None = None,
    errors: str = "independent",
    kinds: tuple[Kind, ...] = KINDS,
    region: Region | None = None,
) -> BenchResult:
    """Runs `traces` traces per movement kind, all drawn from one seeded generator.

    `region` (e.g. the road-shaped region of `ansim.geo.road_region`) turns each estimate into
    the one the board would show; its region, when it has one, is what must hold the truth.
    """
    if errors not in ERROR_MODELS:
        raise ValueError(f"unknown error model {errors!r}")
    rng = np.random.default_rng(seed)
    make = source or (lambda kind, g: synthetic_trace(kind, g))
    tallies = {kind: _Tally() for kind in kinds}
    for _ in range(traces):
        for kind in kinds:
            trace = make(kind, rng)
            if errors == "persistent":
                models = INDOORS if kind == "still" else OUTDOORS
                received = draw_persistent_fixes(trace, rng, models)
            else:
                received = draw_fixes(trace, rng)
            _tally_fix_circles(trace, received, tallies[kind])
            _replay(trace, received, tallies[kind], tuning, region)
    total = _Tally()
    for tally in tallies.values():
        total.merge(tally)
    scenarios = (*(tallies[k].result(k) for k in kinds), total.result("all"))
    return BenchResult(traces, seed, scenarios, source_name or "synthetic street paths", errors)


def _tally_fix_circles(trace: Trace, received: list[ReceivedFix], tally: _Tally) -> None:
    """Whether each fix's own 95 % circle held the truth when it was taken (honest radii)."""
    for item in received:
        fix = item.fix
        truth = trace.position((fix.observed_at - T0).total_seconds())
        inside = _error(trace, fix.lat, fix.lon, truth) <= fix.radius_m
        tally.fix_inside.setdefault(fix.method.value, []).append(inside)


def _replay(
    trace: Trace,
    received: list[ReceivedFix],
    tally: _Tally,
    tuning: Tuning | None,
    region: Region | None,
) -> None:
    track = LocationTrack(tuning)
    seen: list[LocationFix] = []
    pending = list(received)
    look = math.ceil(received[0].arrival_s) if received else trace.duration_s + 1
    while look <= trace.duration_s:
        now = T0 + timedelta(seconds=look)
        while pending and pending[0].arrival_s <= look:
            fix = pending.pop(0).fix
            seen.append(fix)
            verdict = track.add(fix, now=T0 + timedelta(seconds=look))
            tally.refused += verdict.outcome is Outcome.REFUSED
        truth = trace.position(look)
        latest = max(seen, key=lambda f: f.observed_at)
        recent = [f for f in seen if now - f.observed_at <= RECENT]
        best = min(recent, key=lambda f: f.radius_m) if recent else latest
        estimate = track.estimate(now)
        assert estimate is not None
        if region is not None:
            estimate = region(estimate)
        tally.latest.append(_error(trace, latest.lat, latest.lon, truth))
        tally.best.append(_error(trace, best.lat, best.lon, truth))
        tally.fused.append(_error(trace, estimate.lat, estimate.lon, truth))
        then = trace.position((latest.observed_at - T0).total_seconds())
        tally.exact.append(math.hypot(then[0] - truth[0], then[1] - truth[1]))
        tally.inside.append(_inside(trace, estimate, truth))
        tally.area.append(estimate.area_m2)
        look += LOOK_EVERY_S
    final = track.estimate(T0 + timedelta(seconds=trace.duration_s))
    if final is not None:
        tally.gated += sum(c.gated for c in final.contributions)


def _error(trace: Trace, lat: float, lon: float, truth: tuple[float, float]) -> float:
    east, north = trace.to_local(lat, lon)
    return math.hypot(east - truth[0], north - truth[1])


def _inside(trace: Trace, estimate: Estimate, truth: tuple[float, float]) -> bool:
    """True when the true position lies inside the reported 95 % region (ellipse or roads)."""
    if estimate.region is not None:
        lat, lon = trace.to_wgs84(*truth)
        return inside_polygons(estimate.region.polygons, lat, lon)
    east, north = trace.to_local(estimate.lat, estimate.lon)
    de, dn = truth[0] - east, truth[1] - north
    theta = math.radians(estimate.orientation_deg)  # bearing of the major axis
    along = de * math.sin(theta) + dn * math.cos(theta)
    across = de * math.cos(theta) - dn * math.sin(theta)
    a, b = max(estimate.semi_major_m, 1e-9), max(estimate.semi_minor_m, 1e-9)
    return (along / a) ** 2 + (across / b) ** 2 <= 1.0


def _pair(stats: ErrorStats) -> str:
    return f"{stats.median_m:,.0f} / {stats.p90_m:,.0f}"


def _coverage(coverage: tuple[tuple[str, float, int], ...]) -> str:
    return ", ".join(f"{method} {share * 100:.1f} %" for method, share, _ in coverage)


def worst_of(results: list[BenchResult]) -> str:
    """Per error model and movement, the worst seed's figures: calibration furthest outside
    93-97 % (or nearest its edge) and the highest median ratio, each with its seed."""
    lines = [
        "| errors | movement | inside 95 % (worst seed) | inside 95 % over seeds "
        "| (c)/(b) median (worst seed) | (c) p90 m (worst seed) |",
        "|---|---|---|---|---|---|",
    ]
    for errors in ERROR_MODELS:
        runs = [r for r in results if r.errors == errors]
        if not runs:
            continue
        for scenario in runs[0].scenarios:
            rows = [(r.seed, r.scenario(scenario.name)) for r in runs]
            cal_seed, cal = max(rows, key=lambda p: abs(p[1].calibration - 0.95))
            ratio_seed, ratio = max(rows, key=lambda p: p[1].median_ratio)
            p90_seed, p90 = max(rows, key=lambda p: p[1].fused.p90_m)
            spread = " – ".join(
                f"{x * 100:.1f} %"
                for x in (min(r.calibration for _, r in rows), max(r.calibration for _, r in rows))
            )
            lines.append(
                f"| {errors} | {scenario.name} | {cal.calibration * 100:.1f} % (seed {cal_seed}) "
                f"| {spread} | {ratio.median_ratio:.2f} (seed {ratio_seed}) "
                f"| {p90.fused.p90_m:,.0f} (seed {p90_seed}) |"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    """Prints the table of a default run."""
    print(run(traces=100, seed=1).format_table())


if __name__ == "__main__":
    main()
