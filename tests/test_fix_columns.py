"""A fix as the fix tables store it, and back (handset fixes and incident fixes alike)."""

from datetime import UTC, datetime

from ansim.domain.fixes import FixMethod, LocationFix


def test_a_fix_round_trips_through_its_columns() -> None:
    fix = LocationFix(
        lat=37.5665,
        lon=126.978,
        radius_m=42.0,
        method=FixMethod.WIFI,
        observed_at=datetime(2026, 3, 2, 8, 0, tzinfo=UTC),
        source="aml",
        altitude_m=31.5,
        floor=3,
        speed_mps=1.2,
        heading_deg=270.0,
    )
    columns = fix.columns()
    assert columns["method"] == "wifi"
    assert set(columns) == {
        "lat", "lon", "radius_m", "method", "observed_at", "source",
        "altitude_m", "floor", "speed_mps", "heading_deg",
    }  # fmt: skip
    assert LocationFix.from_columns({**columns, "id": 7, "verdict": "accepted"}) == fix
