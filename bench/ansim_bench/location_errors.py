"""Fix errors that persist in time, for the location benchmark beside the independent model.

Each method's error is a bias that persists (Gauss-Markov with a memory, plus occasional jumps
to a freshly drawn bias: the phone now hears another access point) plus small fresh noise per
fix. The bias is always drawn from its stationary spread, so over the population of fixes each
error is a circular normal of the claimed size: every fix's 95 % radius is honest, and only the
persistence in time is what a filter has to discover (the bench checks the radii's coverage).

- Wi-Fi: bias 30 m per axis, memory 10 min, a jump every ~3 min; noise 8 m per axis.
- GNSS indoors (a person standing at a window): multipath bias 25 m per axis, memory 10 min,
  a jump every ~5 min; noise 4 m.
- GNSS outdoors: AR(1) error of 6 m per axis correlated over 45 s; noise 2 m.
- Cell: bias 250 m per axis, memory 30 min; noise 80 m.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ansim.domain.fixes import FixMethod
from ansim.sim.location_traces import ReceivedFix, Trace, fix_times, gross_outlier, received_fix

_R95_PER_SIGMA = math.sqrt(-2.0 * math.log(0.05))
GROSS_OUTLIER_SHARE = 0.01
LATE_SHARE = 0.05


@dataclass(frozen=True, slots=True)
class PersistentError:
    """One method's error: a persistent bias and fresh per-fix noise (metres per axis)."""

    share: float
    bias_sigma_m: float
    memory_s: float
    jump_every_s: float  # mean time between jumps to a new bias (inf: none)
    noise_sigma_m: float
    # Log-normal spread of the fresh noise per fix (the device knows it, so the radius follows).
    noise_spread: float = 0.3


WIFI = PersistentError(0.78, 30.0, 600.0, 180.0, 8.0)
CELL = PersistentError(0.08, 250.0, 1800.0, math.inf, 80.0)
INDOOR_GNSS = PersistentError(0.14, 25.0, 600.0, 300.0, 4.0)
OUTDOOR_GNSS = PersistentError(0.14, 6.0, 45.0, math.inf, 2.0)

INDOORS: dict[FixMethod, PersistentError] = {
    FixMethod.WIFI: WIFI,
    FixMethod.GNSS: INDOOR_GNSS,
    FixMethod.CELL: CELL,
}
OUTDOORS: dict[FixMethod, PersistentError] = {
    FixMethod.WIFI: WIFI,
    FixMethod.GNSS: OUTDOOR_GNSS,
    FixMethod.CELL: CELL,
}


class _Bias:
    """A 2-D Gauss-Markov bias with jumps, always at its stationary spread."""

    def __init__(self, model: PersistentError, rng: np.random.Generator) -> None:
        self.model = model
        self.value = rng.normal(0.0, model.bias_sigma_m, 2)
        self.at = 0.0

    def at_time(self, t: float, rng: np.random.Generator) -> tuple[float, float]:
        model, dt = self.model, max(0.0, t - self.at)
        if rng.random() < 1.0 - math.exp(-dt / model.jump_every_s):
            self.value = rng.normal(0.0, model.bias_sigma_m, 2)
        else:
            kept = math.exp(-dt / model.memory_s)
            fresh = model.bias_sigma_m * math.sqrt(1.0 - kept * kept)
            self.value = kept * self.value + rng.normal(0.0, fresh, 2)
        self.at = t
        return float(self.value[0]), float(self.value[1])


def draw_persistent_fixes(
    trace: Trace,
    rng: np.random.Generator,
    models: dict[FixMethod, PersistentError],
    outlier_share: float = GROSS_OUTLIER_SHARE,
    late_share: float = LATE_SHARE,
) -> list[ReceivedFix]:
    """Fixes along `trace` with persistent errors, sorted by arrival, 5-30 s apart with
    occasional 1-2 minute gaps (as `draw_fixes`)."""
    biases = {method: _Bias(model, rng) for method, model in models.items()}
    received = []
    for t, method in fix_times(trace, rng, {m: model.share for m, model in models.items()}):
        model = models[method]
        noise = model.noise_sigma_m * math.exp(rng.normal(0, model.noise_spread))
        bias = biases[method].at_time(t, rng)
        dx, dy = bias[0] + rng.normal(0, noise), bias[1] + rng.normal(0, noise)
        error = gross_outlier(rng, (dx, dy), outlier_share)
        # Honest: the 95 % radius of bias + this fix's noise as a circular normal.
        radius = _R95_PER_SIGMA * math.hypot(model.bias_sigma_m, noise)
        doppler = method is FixMethod.GNSS and models is OUTDOORS
        received.append(received_fix(trace, rng, t, method, error, radius, doppler, late_share))
    return sorted(received, key=lambda r: r.arrival_s)
