"""The fix-drawing pieces the simulated phones and both location benchmarks share."""

import math

import numpy as np
import pytest

from ansim.domain.fixes import FixMethod
from ansim.sim.location_traces import (
    T0,
    fix_times,
    gross_outlier,
    received_fix,
    synthetic_trace,
)


def test_fix_times_are_spaced_like_a_phone_and_follow_the_method_shares() -> None:
    trace = synthetic_trace("walk", np.random.default_rng(1), duration_s=20_000)
    shares = {FixMethod.WIFI: 3.0, FixMethod.GNSS: 1.0}  # normalised: 75 % / 25 %
    drawn = list(fix_times(trace, np.random.default_rng(2), shares))
    times = [t for t, _ in drawn]
    assert 0 <= times[0] <= 5
    assert times[-1] <= trace.duration_s
    gaps = np.diff(times)
    assert all(5 <= g <= 30 or 60 <= g <= 120 for g in gaps)
    assert 0.01 < np.mean(gaps > 60) < 0.1
    wifi = sum(method is FixMethod.WIFI for _, method in drawn) / len(drawn)
    assert wifi == pytest.approx(0.75, abs=0.05)


def test_a_gross_outlier_is_kilometres_off_and_otherwise_the_error_stands() -> None:
    rng = np.random.default_rng(3)
    assert gross_outlier(rng, (4.0, -2.0), 0.0) == (4.0, -2.0)
    far = gross_outlier(rng, (4.0, -2.0), 1.0)
    assert 1000 <= math.hypot(*far) <= 5000


def test_a_received_fix_is_off_by_its_error_and_arrives_after_it_was_taken() -> None:
    trace = synthetic_trace("car", np.random.default_rng(4))
    rng = np.random.default_rng(5)
    still = received_fix(trace, rng, 300.0, FixMethod.WIFI, (30.0, 40.0), 90.0, False, 0.0)
    east, north = trace.to_local(still.fix.lat, still.fix.lon)
    true_east, true_north = trace.position(300.0)
    assert (east - true_east, north - true_north) == pytest.approx((30.0, 40.0), abs=1e-6)
    assert still.fix.radius_m == 90.0
    assert still.fix.speed_mps is None
    assert still.fix.observed_at == T0.replace(minute=5)
    assert 300.0 <= still.arrival_s <= 302.0
    moving = received_fix(trace, rng, 300.0, FixMethod.GNSS, (0.0, 0.0), 10.0, True, 1.0)
    assert moving.fix.speed_mps is not None
    assert moving.fix.heading_deg is not None
    assert 305.0 <= moving.arrival_s <= 390.0
