"""Keeping the vehicle model on roads (optional): the nearest road, or the road it drives along.

Both add one scalar pseudo-measurement to the vehicle model only: "the distance from the road
across it is 0" (sigma `Tuning.road_sigma_m`), so a car is pulled onto its road across the road,
never along it. Off by default: docs/location.md measures what they cost.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from ansim.domain.fusion_tuning import Tuning
from ansim.domain.imm import ImmFilter, ImmState, Vector

VEHICLE_MODEL = 1
ToLocal = Callable[[float, float], Vector]
ToWgs84 = Callable[[Vector], "tuple[float, float]"]


def on_road(
    state: ImmState, tuning: Tuning, imm: ImmFilter, to_local: ToLocal, to_wgs84: ToWgs84
) -> ImmState:
    """The state with the vehicle model pulled onto its road, when the tuning names roads."""
    if tuning.road_points is not None:
        road = _matched_road(state, tuning, to_wgs84)
    elif tuning.road is not None:
        road = tuning.road(*to_wgs84(state.means[VEHICLE_MODEL][:2]))
    else:
        return state
    if road is None:
        return state
    return _across_road(state, road, tuning, imm, to_local)


def _matched_road(state: ImmState, tuning: Tuning, to_wgs84: ToWgs84) -> tuple[float, float] | None:
    """The road point the vehicle model drives along (distance and heading), if any fits."""
    assert tuning.road_points is not None
    mean, cov = state.means[VEHICLE_MODEL], state.covs[VEHICLE_MODEL]
    if math.hypot(mean[2], mean[3]) < tuning.road_min_speed_mps:
        return None  # too slow to tell a heading
    heading = math.degrees(math.atan2(mean[2], mean[3])) % 360.0
    spread = math.sqrt(max(cov[0, 0] + cov[1, 1], 1.0) / 2.0)
    best: tuple[float, float] | None = None
    best_cost = math.inf
    for road_lat, road_lon, distance, bearing in tuning.road_points(*to_wgs84(mean[:2])):
        off = abs((heading - bearing + 90.0) % 180.0 - 90.0)  # a road runs both ways
        if off > tuning.road_heading_tolerance_deg or distance > 3.0 * spread:
            continue
        cost = (distance / spread) ** 2 + (off / tuning.road_heading_tolerance_deg) ** 2
        if cost < best_cost:
            best, best_cost = (road_lat, road_lon), cost
    return best  # None: no road fits, the car is left free


def _across_road(
    state: ImmState,
    road: tuple[float, float],
    tuning: Tuning,
    imm: ImmFilter,
    to_local: ToLocal,
) -> ImmState:
    mean = state.means[VEHICLE_MODEL]
    offset = mean[:2] - to_local(*road)
    distance = float(np.hypot(*offset))
    if distance < 1.0:
        return state
    normal = offset / distance
    # One scalar measurement: the distance from the road along its normal is zero.
    h = np.zeros((1, imm.size))
    h[0, :2] = normal
    z = np.array([float(normal @ to_local(*road))])
    return imm.update_model(state, VEHICLE_MODEL, h, z, np.array([[tuning.road_sigma_m**2]]))
