"""The knobs of the location filter: motion models, mode switching, persistent errors, roads.

The defaults are what the benchmark in docs/location.md measured.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ansim.domain.fixes import FixMethod
from ansim.domain.imm import ImmFilter, MotionModel

WALK = MotionModel("walk", speed_sigma_mps=1.0, tau_s=30.0)
# A 60 s memory lowers a car's error a little but under-covers more (docs/location.md).
VEHICLE = MotionModel("vehicle", speed_sigma_mps=9.0, tau_s=30.0)
# Standing or sitting somewhere (a child hiding, waiting at a bus stop): barely drifts.
STILL = MotionModel("still", speed_sigma_mps=0.1, tau_s=10.0)


RoadSnap = Callable[[float, float], "tuple[float, float] | None"]
# Road segments near (lat, lon): (lat, lon, distance m, bearing deg) of each one's nearest point.
RoadPoints = Callable[[float, float], "list[tuple[float, float, float, float]]"]


@dataclass(frozen=True, slots=True)
class MethodBias:
    """How much of a method's error persists in time: `share` of each fix's variance is a bias
    shared with the method's other fixes, forgotten over `memory_s` (Gauss-Markov). A fix's
    radius stays honest as claimed; only the split between persistent and fresh error is assumed.
    Averaging N fixes then shrinks only the fresh part, until the bias has had time to change.
    """

    method: FixMethod
    share: float
    memory_s: float


# A mis-surveyed access point is off by the same tens of metres for minutes; indoor GNSS
# multipath lasts while the person stays at that window, outdoor GNSS errors tens of seconds;
# a cell fix is off the same way while the serving cells stay the same.
BIASES = (
    MethodBias(FixMethod.WIFI, 0.8, 300.0),
    MethodBias(FixMethod.GNSS, 0.6, 120.0),
    MethodBias(FixMethod.CELL, 0.8, 900.0),
)


@dataclass(frozen=True, slots=True)
class Tuning:
    """Knobs of the filter; the defaults are what the benchmark in docs/location.md measured."""

    walk: MotionModel = WALK
    vehicle: MotionModel = VEHICLE
    # Mean time before a walker gets into a car, and before a car stops for good (s). 300 s
    # rather than 600 s: a filter that expects the car a little sooner switches in time (car
    # coverage 90 -> 96 % under persistent errors, docs/location.md).
    walk_to_vehicle_s: float = 300.0
    vehicle_to_walk_s: float = 900.0
    vehicle_prior: float = 0.1
    # A third, stationary model (None: two models). Mean times: a walker stops after
    # ~walk_to_still_s, a still person walks on after ~still_to_walk_s.
    still: MotionModel | None = STILL
    walk_to_still_s: float = 120.0
    # 5 min rather than 1 (issue 16): someone standing indoors mostly stays; the still model
    # then holds its average longer (still median 0.78 -> 0.68 of the best fix, persistent
    # errors) and walks are less over-covered (docs/location.md).
    still_to_walk_s: float = 300.0
    still_prior: float = 0.3
    # Nearest road point to (lat, lon), or None off the network: cars keep to roads, so the
    # vehicle model is pulled toward the road across it (never along it). Supplied by the
    # caller (a road graph's snap); None leaves the filter free.
    road: RoadSnap | None = None
    road_sigma_m: float = 12.0
    # Map matching light: the candidate roads near the vehicle model, weighed by distance and by
    # how well their direction fits the model's velocity; a car not moving along any of them
    # (or too slow to tell) is left free. Off by default (docs/location.md).
    road_points: RoadPoints | None = None
    road_heading_tolerance_deg: float = 30.0
    road_min_speed_mps: float = 3.0
    # Chi-square (2 dof) levels: past soft the fix is trusted less, past gate it is left out.
    # The gate is wide (chi² 99.99997 %): a car that pulled away is not an outlier.
    soft_d2: float = 5.99
    gate_d2: float = 30.0
    # Persistent error per method (empty: every fix's error independent, the earlier model).
    biases: tuple[MethodBias, ...] = BIASES

    def imm(self) -> ImmFilter:
        """The filter; model 0 is walking, model 1 the vehicle, model 2 (if any) standing still."""
        a, b = 1.0 / self.walk_to_vehicle_s, 1.0 / self.vehicle_to_walk_s
        if self.still is None:
            rates = np.array([[-a, a], [b, -b]])
            prior = np.array([1.0 - self.vehicle_prior, self.vehicle_prior])
            return ImmFilter((self.walk, self.vehicle), rates, prior, self._bias_memory())
        c, d = 1.0 / self.walk_to_still_s, 1.0 / self.still_to_walk_s
        # A car stops through walking (getting out); someone standing can be pulled into a car.
        rates = np.array([[-(a + c), a, c], [b, -b, 0.0], [d, a, -(d + a)]])
        walk_prior = 1.0 - self.vehicle_prior - self.still_prior
        prior = np.array([walk_prior, self.vehicle_prior, self.still_prior])
        models = (self.walk, self.vehicle, self.still)
        return ImmFilter(models, rates, prior, self._bias_memory())

    def _bias_memory(self) -> tuple[float, ...]:
        return tuple(b.memory_s for b in self.biases)

    def bias_of(self, method: FixMethod) -> tuple[int, float] | None:
        """(index of the method's bias state, share of its variance) or None: independent."""
        for index, bias in enumerate(self.biases):
            if bias.method is method:
                return index, bias.share
        return None


@functools.lru_cache(maxsize=8)
def filter_of(tuning: Tuning) -> ImmFilter:
    """One filter per tuning, shared by every track: it is stateless but for what it remembers."""
    return tuning.imm()
