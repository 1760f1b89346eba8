import json
import math
from dataclasses import replace
from datetime import datetime, timedelta

import numpy as np
import pytest

from ansim.domain.errors import InvalidInput
from ansim.domain.estimate import Estimate, ellipse_95
from ansim.domain.fixes import FixMethod, LocationFix
from ansim.domain.fusion import (
    R95_PER_SIGMA,
    STILL,
    HistoryNeeded,
    LocationTrack,
    Outcome,
    Tuning,
    haversine_m,
)
from ansim.domain.track_checkpoint import TrackCheckpoint
from ansim.sim.location_traces import (
    ERROR_MODELS,
    T0,
    ErrorModel,
    draw_fixes,
    synthetic_trace,
)

HOME = (37.5663, 126.9779)
M_PER_DEG_LAT = 111_195.0
M_PER_DEG_LON = M_PER_DEG_LAT * math.cos(math.radians(HOME[0]))


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def fix(
    east: float = 0.0,
    north: float = 0.0,
    *,
    t: float,
    radius: float = 80.0,
    method: FixMethod = FixMethod.WIFI,
    **extra: float,
) -> LocationFix:
    return LocationFix(
        lat=HOME[0] + north / M_PER_DEG_LAT,
        lon=HOME[1] + east / M_PER_DEG_LON,
        radius_m=radius,
        method=method,
        observed_at=at(t),
        source="test",
        **extra,  # type: ignore[arg-type]
    )


def noisy_static_fixes(
    rng: np.random.Generator, n: int, radius: float = 100.0
) -> list[LocationFix]:
    sigma = radius / R95_PER_SIGMA
    return [fix(*rng.normal(0, sigma, 2), t=10.0 * i, radius=radius) for i in range(n)]


def distance_from_home(estimate: Estimate) -> float:
    return haversine_m(estimate.lat, estimate.lon, *HOME)


# Every fix's error independent of the last (the filter before bias states).
INDEPENDENT = replace(Tuning(), biases=())


def test_converges_on_a_static_target_when_errors_are_independent() -> None:
    track = LocationTrack(INDEPENDENT)
    for f in noisy_static_fixes(np.random.default_rng(1), 30):
        assert track.add(f, now=f.observed_at).outcome is Outcome.ACCEPTED
    estimate = track.estimate(at(290))
    assert estimate is not None
    assert distance_from_home(estimate) < 30
    assert estimate.radius_95_m < 60  # well inside one fix's 100 m
    assert estimate.area_m2 == pytest.approx(
        math.pi * estimate.semi_major_m * estimate.semi_minor_m
    )


def test_no_estimate_without_fixes() -> None:
    assert LocationTrack().estimate(at(0)) is None


def test_gross_outlier_is_gated_and_does_not_drag() -> None:
    track = LocationTrack()
    for i in range(6):
        track.add(fix(t=10.0 * i, radius=15, method=FixMethod.GNSS), now=at(10.0 * i))
    before = track.estimate(at(80))
    verdict = track.add(fix(900, 0, t=80, radius=60), now=at(80))  # reachable, but implausible
    after = track.estimate(at(80))
    assert verdict.outcome is Outcome.GATED
    assert "Mahalanobis" in verdict.reason
    assert before is not None
    assert after is not None
    assert distance_from_home(after) < 10
    wifi = next(c for c in after.contributions if c.method is FixMethod.WIFI)
    assert (wifi.used, wifi.gated) == (0, 1)


def test_reacquires_after_the_person_really_moved_far() -> None:
    track = LocationTrack()
    for i in range(6):
        track.add(fix(t=10.0 * i, radius=15, method=FixMethod.GNSS), now=at(10.0 * i))
    verdicts = [
        track.add(fix(1500, 300, t=100 + 10.0 * i, radius=20, method=FixMethod.GNSS), now=at(130))
        for i in range(3)
    ]
    assert [v.outcome for v in verdicts[:2]] == [Outcome.GATED, Outcome.GATED]
    assert verdicts[2].outcome is Outcome.ACCEPTED
    assert "re-acquired" in verdicts[2].reason
    estimate = track.estimate(at(120))
    assert estimate is not None
    target = fix(1500, 300, t=0)
    assert haversine_m(estimate.lat, estimate.lon, target.lat, target.lon) < 30
    gnss = next(c for c in estimate.contributions if c.method is FixMethod.GNSS)
    assert (gnss.used, gnss.gated) == (9, 0)


def test_uncertainty_grows_with_staleness() -> None:
    track = LocationTrack()
    for f in noisy_static_fixes(np.random.default_rng(2), 10):
        track.add(f, now=f.observed_at)
    fresh, minute, ten = (track.estimate(at(90 + s)) for s in (0, 60, 600))
    assert fresh is not None
    assert minute is not None
    assert ten is not None
    assert fresh.radius_95_m < minute.radius_95_m < ten.radius_95_m
    assert ten.age_s == pytest.approx(600)
    assert ten.last_fix_at == at(90)


def test_out_of_order_fixes_give_the_same_estimate_as_in_order() -> None:
    fixes = noisy_static_fixes(np.random.default_rng(3), 20)
    fixes[5] = fix(0, 0, t=50, radius=10, method=FixMethod.GNSS, speed_mps=1.0, heading_deg=90)
    in_order = LocationTrack()
    for f in fixes:
        in_order.add(f, now=at(200))
    shuffled = LocationTrack()
    for j in np.random.default_rng(4).permutation(len(fixes)):
        shuffled.add(fixes[int(j)], now=at(200))
    assert in_order.estimate(at(220)) == shuffled.estimate(at(220))
    assert LocationTrack.from_fixes(reversed(fixes), now=at(200)).estimate(at(220)) == (
        in_order.estimate(at(220))
    )


def test_switches_to_the_vehicle_model_when_the_person_starts_driving() -> None:
    track = LocationTrack()
    rng = np.random.default_rng(5)
    walked = 0.0
    for i in range(13):  # two minutes of walking north
        walked = 1.3 * 10 * i
        f = fix(
            *rng.normal(0, 6, 2) + np.array([0, walked]),
            t=10.0 * i,
            radius=15,
            method=FixMethod.GNSS,
        )
        track.add(f, now=f.observed_at)
    walking = track.estimate(at(120))
    for i in range(1, 7):  # then a car eastwards at 12 m/s
        f = fix(
            *rng.normal(0, 6, 2) + np.array([120 * i, walked]),
            t=120 + 10.0 * i,
            radius=15,
            method=FixMethod.GNSS,
        )
        track.add(f, now=f.observed_at)
    driving = track.estimate(at(180))
    assert walking is not None
    assert driving is not None
    assert walking.vehicle_probability < 0.3
    assert driving.vehicle_probability > 0.7
    assert 8 < driving.speed_mps < 16
    assert 45 < driving.heading_deg < 135


@pytest.mark.parametrize("kind", ["walk", "car"])
def test_calibrated_on_synthetic_traces(kind: str) -> None:
    honest = {m: ErrorModel(e.share, e.median_error_m, 0.0, 0.0) for m, e in ERROR_MODELS.items()}
    rng = np.random.default_rng(11)
    inside = []
    for _ in range(8):
        trace = synthetic_trace(kind, rng, duration_s=300)  # type: ignore[arg-type]
        track = LocationTrack()
        for received in sorted(
            draw_fixes(trace, rng, honest, outlier_share=0.0, late_share=0.0),
            key=lambda r: r.arrival_s,
        ):
            f = received.fix
            track.add(f, now=f.observed_at)
            estimate = track.estimate(f.observed_at + timedelta(seconds=5))
            assert estimate is not None
            t = (f.observed_at - T0).total_seconds() + 5
            east, north = trace.to_local(estimate.lat, estimate.lon)
            te, tn = trace.position(t)
            inside.append(_in_ellipse(te - east, tn - north, estimate))
    assert 0.88 <= float(np.mean(inside)) <= 0.995


def _in_ellipse(de: float, dn: float, estimate: Estimate) -> bool:
    theta = math.radians(estimate.orientation_deg)
    along = de * math.sin(theta) + dn * math.cos(theta)
    across = de * math.cos(theta) - dn * math.sin(theta)
    return (along / estimate.semi_major_m) ** 2 + (across / estimate.semi_minor_m) ** 2 <= 1


def test_refuses_a_fix_from_the_future() -> None:
    track = LocationTrack()
    verdict = track.add(fix(t=600), now=at(0))
    assert verdict.outcome is Outcome.REFUSED
    with pytest.raises(InvalidInput, match="future"):
        verdict.raise_if_refused()
    assert track.estimate(at(0)) is None


def test_refuses_a_teleport_and_keeps_the_estimate() -> None:
    track = LocationTrack()
    for i in range(3):
        track.add(fix(t=10.0 * i, radius=15, method=FixMethod.GNSS), now=at(20))
    before = track.estimate(at(30))
    verdict = track.add(fix(40_000, 0, t=30, radius=50), now=at(30))
    assert verdict.outcome is Outcome.REFUSED
    assert "faster than any vehicle" in verdict.reason
    assert track.estimate(at(30)) == before
    # A late teleport into the past is refused against the fix after it too.
    assert track.add(fix(0, 30_000, t=15, radius=50), now=at(30)).outcome is Outcome.REFUSED
    assert len(track.fixes) == 3


@pytest.mark.parametrize(
    "bad",
    [
        {"radius_m": -5.0},
        {"radius_m": 1e9},
        {"radius_m": math.nan},
        {"lat": 91.0},
        {"lon": math.inf},
        {"observed_at": datetime(2026, 3, 2, 8, 0)},  # no time zone
    ],
)
def test_refuses_malformed_fixes(bad: dict[str, object]) -> None:
    fields: dict[str, object] = {
        "lat": HOME[0],
        "lon": HOME[1],
        "radius_m": 30.0,
        "method": FixMethod.GNSS,
        "observed_at": T0,
        "source": "test",
    }
    with pytest.raises(InvalidInput):
        LocationFix(**{**fields, **bad})  # type: ignore[arg-type]


def test_a_repeated_fix_counts_once() -> None:
    track = LocationTrack()
    f = fix(t=0)
    assert track.add(f, now=at(0)).outcome is Outcome.ACCEPTED
    verdict = track.add(f, now=at(5))
    assert verdict.outcome is Outcome.DUPLICATE
    assert verdict.accepted
    estimate = track.estimate(at(5))
    assert estimate is not None
    assert [c.used for c in estimate.contributions] == [1]


def test_describe_in_english_and_korean() -> None:
    track = LocationTrack()
    rng = np.random.default_rng(6)
    for f in noisy_static_fixes(rng, 5, radius=60):
        track.add(f, now=f.observed_at)
    track.add(fix(t=45, radius=12, method=FixMethod.GNSS, floor=3), now=at(45))
    estimate = track.estimate(at(57))
    assert estimate is not None
    en = estimate.describe("en", at(57))
    ko = estimate.describe("ko", at(57))
    assert en.startswith("Wi-Fi ±")
    assert "12 s ago" in en
    assert "(Wi-Fi 5, GPS 1)" in en
    assert ko.startswith("Wi-Fi ±")
    assert "12초 전" in ko
    assert "(Wi-Fi 5건, GPS 1건)" in ko
    assert "floor 3" in en
    assert "3층" in ko
    assert "3 min ago" in estimate.describe("en", at(225))
    assert "1시간 2분 전" in estimate.describe("ko", at(45 + 3720))
    with pytest.raises(InvalidInput):
        estimate.describe("fr", at(57))  # type: ignore[arg-type]


def test_describe_mentions_a_moving_vehicle() -> None:
    track = LocationTrack()
    for i in range(10):
        f = fix(
            150.0 * i, 0, t=10.0 * i, radius=10, method=FixMethod.GNSS, speed_mps=15, heading_deg=90
        )
        track.add(f, now=f.observed_at)
    estimate = track.estimate(at(95))
    assert estimate is not None
    assert "moving E at about" in estimate.describe("en", at(95))
    assert "동쪽으로 시속" in estimate.describe("ko", at(95))


@pytest.mark.parametrize(
    ("cov", "orientation"),
    [((100.0, 0.0, 400.0), 0.0), ((400.0, 0.0, 100.0), 90.0), ((250.0, 150.0, 250.0), 45.0)],
)
def test_ellipse_orientation_is_a_bearing(
    cov: tuple[float, float, float], orientation: float
) -> None:
    major, minor, bearing = ellipse_95(cov)
    assert bearing == pytest.approx(orientation)
    assert major == pytest.approx(20 * math.sqrt(-2 * math.log(0.05)))
    assert minor == pytest.approx(10 * math.sqrt(-2 * math.log(0.05)))


def test_a_first_fix_that_is_an_outlier_does_not_lock_true_fixes_out() -> None:
    track = LocationTrack()
    track.add(fix(3000, 0, t=0, radius=60), now=at(0))
    verdicts = [
        track.add(fix(t=10.0 * i, radius=15, method=FixMethod.GNSS), now=at(10.0 * i))
        for i in range(1, 4)
    ]
    assert Outcome.REFUSED not in [v.outcome for v in verdicts]
    assert verdicts[-1].outcome is Outcome.ACCEPTED
    estimate = track.estimate(at(30))
    assert estimate is not None
    assert distance_from_home(estimate) < 20


def test_a_third_still_model_keeps_a_standing_person_tight_and_out_of_a_car() -> None:
    rng = np.random.default_rng(11)
    two = LocationTrack(replace(INDEPENDENT, still=None))
    three = LocationTrack(replace(INDEPENDENT, still=STILL))
    for f in noisy_static_fixes(rng, 30):
        two.add(f, now=f.observed_at)
        three.add(f, now=f.observed_at)
    still, moving = three.estimate(at(290)), two.estimate(at(290))
    assert still is not None
    assert moving is not None
    assert still.semi_major_m < moving.semi_major_m
    assert still.vehicle_probability < 0.2
    assert distance_from_home(still) < 30


def test_the_road_constraint_pulls_a_car_onto_its_road_across_it_only() -> None:
    # A straight road running north through HOME; the car drives it at 15 m/s.
    def road(lat: float, lon: float) -> tuple[float, float] | None:
        return (lat, HOME[1])

    free = LocationTrack()
    on_road = LocationTrack(replace(Tuning(), road=road, vehicle_prior=0.9))
    rng = np.random.default_rng(5)
    for i in range(20):
        east, north = rng.normal(0, 30, 2)
        f = fix(east, 150.0 * i + north, t=10.0 * i, radius=75)
        free.add(f, now=f.observed_at)
        on_road.add(f, now=f.observed_at)
    constrained, loose = on_road.estimate(at(190)), free.estimate(at(190))
    assert constrained is not None
    assert loose is not None
    east_of = (constrained.lon - HOME[1]) * M_PER_DEG_LON
    assert abs(east_of) < abs((loose.lon - HOME[1]) * M_PER_DEG_LON) + 1.0
    assert abs(east_of) < 15
    assert constrained.semi_minor_m < loose.semi_minor_m
    # Along the road it is no tighter than the fixes allow: the major axis runs north-south.
    assert min(constrained.orientation_deg, 180 - constrained.orientation_deg) < 20


def test_road_matching_takes_the_road_the_car_drives_along_not_the_nearest() -> None:
    # A road running north through HOME, and an east-west street always 10 m from the car.
    def roads(lat: float, lon: float) -> list[tuple[float, float, float, float]]:
        east = (lon - HOME[1]) * M_PER_DEG_LON
        cross = (lat + 10.0 / M_PER_DEG_LAT, lon, 10.0, 90.0)
        along = (lat, HOME[1], abs(east), 0.0)
        return sorted([cross, along], key=lambda c: c[2])

    matched = LocationTrack(replace(Tuning(), road_points=roads, vehicle_prior=0.9))
    free = LocationTrack(replace(Tuning(), vehicle_prior=0.9))
    rng = np.random.default_rng(5)
    for i in range(20):
        east, north = rng.normal(0, 30, 2)
        f = fix(40.0 + east, 150.0 * i + north, t=10.0 * i, radius=75)
        matched.add(f, now=f.observed_at)
        free.add(f, now=f.observed_at)
    on_road, loose = matched.estimate(at(190)), free.estimate(at(190))
    assert on_road is not None
    assert loose is not None
    # Pulled toward the north-south road (the fixes sit 40 m east of it), not onto the street.
    assert (on_road.lon - HOME[1]) * M_PER_DEG_LON < (loose.lon - HOME[1]) * M_PER_DEG_LON - 5
    assert on_road.semi_minor_m < loose.semi_minor_m


def test_road_matching_leaves_a_car_free_when_no_road_fits_its_heading() -> None:
    def roads(lat: float, lon: float) -> list[tuple[float, float, float, float]]:
        return [(lat, HOME[1], 5.0, 90.0)]  # an east-west road; the car drives north

    matched = LocationTrack(replace(Tuning(), road_points=roads, vehicle_prior=0.9))
    free = LocationTrack(replace(Tuning(), vehicle_prior=0.9))
    for i in range(12):
        f = fix(0.0, 150.0 * i, t=10.0 * i, radius=75)
        matched.add(f, now=f.observed_at)
        free.add(f, now=f.observed_at)
    assert matched.estimate(at(120)) == free.estimate(at(120))


def resumed(track: LocationTrack) -> LocationTrack:
    """The track as a later transaction sees it: its checkpoint through JSON, resumed."""
    text = json.dumps(track.checkpoint().to_json())
    return LocationTrack.resume(TrackCheckpoint.from_json(json.loads(text)))


def test_a_track_resumed_after_every_fix_filters_exactly_as_one_that_never_stopped() -> None:
    rng = np.random.default_rng(5)
    fixes = [*noisy_static_fixes(rng, 8, radius=40)]
    fixes += [fix(2, 1, t=85, radius=12, method=FixMethod.GNSS, floor=3, altitude_m=41.0)]
    fixes += [fix(900, 0, t=95, radius=50)]  # an outlier, gated
    fixes += [fix(1500, 300, t=110 + 10.0 * i, radius=20, method=FixMethod.GNSS) for i in range(3)]
    fixes += [fix(1500 + 5 * i, 300, t=140 + 5.0 * i, radius=30) for i in range(70)]  # track > 60
    whole, stepwise = LocationTrack(), LocationTrack()
    for f in fixes:
        expected = whole.add(f, now=f.observed_at)
        stepwise = resumed(stepwise) if stepwise.last_fix_at else stepwise
        assert stepwise.add(f, now=f.observed_at) == expected
        assert stepwise.estimate(f.observed_at + timedelta(seconds=5)) == whole.estimate(
            f.observed_at + timedelta(seconds=5)
        )
    outcomes = [whole.add(f, now=at(500)).outcome for f in fixes[9:13]]
    assert outcomes == [Outcome.DUPLICATE] * 4  # all kept, the outlier gated
    final = stepwise.estimate(at(500))
    assert final is not None
    assert final.floor == 3
    assert final.altitude_m == 41.0
    assert len(final.track) == 60
    gnss = next(c for c in final.contributions if c.method is FixMethod.GNSS)
    assert (gnss.used, gnss.gated) == (4, 0)  # the three gated GNSS fixes were re-acquired
    wifi = next(c for c in final.contributions if c.method is FixMethod.WIFI)
    assert wifi.gated == 1  # the outlier


def test_a_re_acquisition_across_resumes_takes_in_the_gated_fixes_held_by_the_checkpoint() -> None:
    whole = LocationTrack()
    for i in range(6):
        whole.add(fix(t=10.0 * i, radius=15, method=FixMethod.GNSS), now=at(10.0 * i))
    away = [fix(1500, 300, t=100 + 10.0 * i, radius=20, method=FixMethod.GNSS) for i in range(3)]
    track = whole
    for f in away[:2]:
        track = resumed(track)
        assert track.add(f, now=at(130)).outcome is Outcome.GATED
    track = resumed(track)
    # It holds the last three accepted fixes (for the reachability check) and the two gated.
    assert track.outcomes() == (Outcome.ACCEPTED,) * 3 + (Outcome.GATED,) * 2
    assert "re-acquired" in track.add(away[2], now=at(130)).reason
    assert track.outcomes() == (Outcome.ACCEPTED,) * 6
    assert track.fixes[3:] == tuple(away)
    estimate = track.estimate(at(120))
    assert estimate is not None
    gnss = next(c for c in estimate.contributions if c.method is FixMethod.GNSS)
    assert (gnss.used, gnss.gated) == (9, 0)


def test_a_resumed_track_needs_the_history_for_an_older_fix_but_knows_its_newest() -> None:
    track = LocationTrack()
    for i in range(5):
        track.add(fix(t=10.0 * i), now=at(40))
    again = resumed(track)
    older, newest, newer = fix(3, 3, t=25), fix(t=40), fix(t=50)
    assert again.needs_history(older)
    assert not again.needs_history(newest)
    assert not again.needs_history(newer)
    with pytest.raises(HistoryNeeded):
        again.add(older, now=at(50))
    assert again.add(newest, now=at(50)).outcome is Outcome.DUPLICATE
    assert again.add(newer, now=at(50)).outcome is Outcome.ACCEPTED


def test_a_checkpoint_of_another_format_is_refused() -> None:
    track = LocationTrack()
    track.add(fix(t=0), now=at(0))
    stored = track.checkpoint().to_json()
    with pytest.raises(ValueError, match="format"):
        TrackCheckpoint.from_json({**stored, "format": 0})
    with pytest.raises(ValueError, match="empty track"):
        LocationTrack().checkpoint()


def _biased_static_fixes(rng: np.random.Generator, bias_east_m: float) -> list[LocationFix]:
    """30 Wi-Fi fixes of someone standing still, all off by the same bias (one access point)."""
    return [
        fix(bias_east_m + rng.normal(0, 8), rng.normal(0, 8), t=10.0 * i, radius=100.0)
        for i in range(30)
    ]


def test_a_persistent_bias_is_not_averaged_away_into_a_false_certainty() -> None:
    # 60 m is within the honest spread of a 100 m (95 %) fix: one draw of a persistent bias.
    fixes = _biased_static_fixes(np.random.default_rng(3), 60.0)
    biased, naive = LocationTrack(), LocationTrack(INDEPENDENT)
    for f in fixes:
        biased.add(f, now=f.observed_at)
        naive.add(f, now=f.observed_at)
    honest, overconfident = biased.estimate(at(290)), naive.estimate(at(290))
    assert honest is not None
    assert overconfident is not None
    # Treating 30 fixes of one access point as 30 independent ones claims ±25 m and misses.
    assert distance_from_home(overconfident) > overconfident.semi_major_m
    # Bias states keep the region honest: home is inside, and it is still no wider than a fix.
    assert distance_from_home(honest) < honest.semi_minor_m
    assert honest.semi_major_m <= 100.0


def test_bias_states_forget_a_bias_over_their_memory() -> None:
    """Fixes far apart in time carry less of the same bias, so the region shrinks again."""
    rng = np.random.default_rng(8)
    close = LocationTrack()
    spread = LocationTrack()
    for i in range(12):
        east, north = rng.normal(0, 20, 2)
        a = fix(east, north, t=5.0 * i, radius=100.0)
        b = fix(east, north, t=300.0 * i, radius=100.0)
        close.add(a, now=a.observed_at)
        spread.add(b, now=b.observed_at)
    near = close.estimate(at(55))
    far = spread.estimate(at(3300))
    assert near is not None
    assert far is not None
    assert far.semi_major_m < near.semi_major_m
