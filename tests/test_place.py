import math

import pytest

from ansim.domain.errors import InvalidInput
from ansim.geo.place import Place, describe_place

M_PER_DEG_LAT = 111_195.0
# 서울덕수초등학교 in the bundled schools.
DEOKSU = (37.5690889, 126.9746579)


def _offset(origin: tuple[float, float], east: float, north: float) -> tuple[float, float]:
    lat0, lon0 = origin
    return (
        lat0 + north / M_PER_DEG_LAT,
        lon0 + east / (M_PER_DEG_LAT * math.cos(math.radians(lat0))),
    )


def test_city_hall_is_described_by_street_dong_and_a_landmark_in_both_languages() -> None:
    place = describe_place(37.5663, 126.9779)
    assert place.street == "세종대로"
    assert place.dong_ko == "태평로1가"
    ko, en = place.text("ko"), place.text("en")
    assert ko.startswith("세종대로, 태평로1가, ")
    assert en.startswith("세종대로, Taepyeongno 1(il)-ga, ")
    assert place.landmark is not None
    assert place.landmark in ko
    assert place.landmark in en
    assert ko.endswith(" m")
    assert " of " in en


def test_the_direction_and_distance_are_seen_from_the_landmark() -> None:
    lat, lon = _offset(DEOKSU, 0.0, 80.0)  # 80 m north of the school
    place = describe_place(lat, lon)
    assert place.landmark == "서울덕수초등학교"
    assert place.landmark_distance_m == pytest.approx(80, abs=2)
    assert "서울덕수초등학교 북쪽 80 m" in place.text("ko")
    assert "80 m N of 서울덕수초등학교" in place.text("en")
    lat, lon = _offset(DEOKSU, -60.0, -60.0)  # south-west
    assert "서울덕수초등학교 남서쪽 80 m" in describe_place(lat, lon).text("ko")


def test_at_the_landmark_itself_no_direction_is_given() -> None:
    place = describe_place(*DEOKSU)
    assert "서울덕수초등학교 앞" in place.text("ko")
    assert "at 서울덕수초등학교" in place.text("en")


def test_outside_the_bundled_area_only_what_is_known_is_said() -> None:
    # South of Seoul: no road of the central graph, no 동, no landmark within 1.5 km.
    place = describe_place(37.30, 126.90)
    assert place == Place(None, None, None, None, None, None)
    assert place.text("ko") == ""
    # In Gangnam: a 동 and a police box, but the bundled road graph covers central Seoul only.
    gangnam = describe_place(37.5133, 127.0290)
    assert gangnam.street is None
    assert gangnam.dong_ko == "논현동"
    assert gangnam.text("ko").startswith("논현동, ")


def test_a_position_out_of_range_is_refused() -> None:
    with pytest.raises(InvalidInput):
        describe_place(91.0, 0.0)
