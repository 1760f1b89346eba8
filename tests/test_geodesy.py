import math

import numpy as np
import pytest

from ansim.domain.errors import InvalidInput
from ansim.geo.geodesy import (
    LocalFrame,
    haversine_m,
    haversine_many_m,
    initial_bearing_deg,
)

CITY_HALL = (37.5663, 126.9779)
GANGNAM_STATION = (37.4979, 127.0276)


def test_haversine_matches_a_known_distance() -> None:
    # One degree of latitude on the mean sphere is 111.195 km.
    assert haversine_m(37.0, 127.0, 38.0, 127.0) == pytest.approx(111_195, rel=1e-4)
    assert haversine_m(*CITY_HALL, *GANGNAM_STATION) == pytest.approx(8_800, rel=0.03)
    assert haversine_m(*CITY_HALL, *CITY_HALL) == 0.0


def test_haversine_many_agrees_with_the_scalar_version() -> None:
    lats = np.array([37.50, 37.55, 37.60])
    lons = np.array([126.90, 127.00, 127.10])
    many = haversine_many_m(lats, lons, CITY_HALL[0], CITY_HALL[1])
    for lat, lon, d in zip(lats, lons, many, strict=True):
        assert d == pytest.approx(haversine_m(lat, lon, *CITY_HALL), rel=1e-12)


@pytest.mark.parametrize(
    ("target", "bearing"),
    [((38.0, 127.0), 0.0), ((37.0, 127.0), 180.0), ((37.5, 127.1), 90.0), ((37.5, 126.9), 270.0)],
)
def test_initial_bearing_points_along_the_compass(
    target: tuple[float, float], bearing: float
) -> None:
    got = initial_bearing_deg(37.5, 127.0, *target)
    assert min(abs(got - bearing), 360 - abs(got - bearing)) < 0.1


def test_local_frame_round_trips_and_measures_like_haversine() -> None:
    frame = LocalFrame(*CITY_HALL)
    east, north = frame.to_metres(37.5700, 126.9850)
    assert frame.to_latlon(east, north) == pytest.approx((37.5700, 126.9850), abs=1e-12)
    assert math.hypot(east, north) == pytest.approx(
        haversine_m(*CITY_HALL, 37.5700, 126.9850), rel=1e-3
    )
    assert east > 0
    assert north > 0


def test_local_frame_vectorised_matches_scalar() -> None:
    frame = LocalFrame(*CITY_HALL)
    lat = np.array([37.55, 37.58])
    lon = np.array([126.96, 127.00])
    east, north = frame.to_metres_many(lat, lon)
    assert (east[1], north[1]) == pytest.approx(frame.to_metres(37.58, 127.00))
    back_lat, back_lon = frame.to_latlon_many(east, north)
    assert back_lat == pytest.approx(lat)
    assert back_lon == pytest.approx(lon)


def test_local_frame_refuses_an_impossible_origin() -> None:
    with pytest.raises(InvalidInput):
        LocalFrame(95.0, 127.0)
