from datetime import UTC, datetime

import pytest

from ansim.domain.errors import IllegalTransition, InvalidInput
from ansim.domain.fixes import FixMethod, LocationFix, radius_at_95
from ansim.domain.incidents import (
    TRANSITIONS,
    Channel,
    Incident,
    IncidentStatus,
    PriorityCode,
    check_transition,
    parse_priority,
)
from ansim.domain.units import Unit, UnitStatus

T = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
S = IncidentStatus


def incident(status: IncidentStatus = S.RECEIVED) -> Incident:
    return Incident(
        id="i1",
        channel=Channel.APP,
        status=status,
        priority=PriorityCode.CODE_1,
        received_at=T,
        updated_at=T,
    )


def test_the_happy_path_is_allowed_and_recorded() -> None:
    case = incident()
    path = [S.DISPATCHED, S.VERIFYING, S.CONFIRMED, S.ON_SCENE, S.RESOLVED, S.CLOSED]
    entries = [case.move_to(step, at=T, actor="dispatcher", reason="test") for step in path]
    assert case.status == S.CLOSED
    assert [e.data["to"] for e in entries] == [s.value for s in path]
    assert entries[0].data["from"] == "received"


def test_a_false_alarm_can_still_turn_into_danger() -> None:
    case = incident(S.FALSE_ALARM)
    case.move_to(S.CONFIRMED, at=T, actor="guardian")
    assert case.status == S.CONFIRMED


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (S.CLOSED, S.RECEIVED),
        (S.RESOLVED, S.DISPATCHED),
        (S.RECEIVED, S.CLOSED),
        (S.RECEIVED, S.ON_SCENE),
    ],
)
def test_illegal_transitions_raise_and_change_nothing(
    current: IncidentStatus, target: IncidentStatus
) -> None:
    case = incident(current)
    with pytest.raises(IllegalTransition, match=f"cannot become {target}"):
        case.move_to(target, at=T, actor="x")
    assert case.status == current


def test_every_status_has_a_rule_and_closed_is_final() -> None:
    assert set(TRANSITIONS) == set(IncidentStatus)
    for target in IncidentStatus:
        with pytest.raises(IllegalTransition):
            check_transition(S.CLOSED, target)


def test_priority_only_rises_automatically() -> None:
    case = incident()
    assert case.raise_priority(PriorityCode.CODE_2, at=T, actor="x", reason="r") is None
    entry = case.raise_priority(
        PriorityCode.CODE_0, at=T, actor="guardian", reason="danger confirmed"
    )
    assert entry is not None
    assert entry.data == {"from": 1, "to": 0, "reason": "danger confirmed"}
    assert case.priority == PriorityCode.CODE_0
    with pytest.raises(InvalidInput):
        parse_priority(5)


def test_unit_statuses_follow_their_rules() -> None:
    unit = Unit(
        id="u", call_sign="태평로11", station_id="s", status=UnitStatus.AVAILABLE, status_at=T
    )
    assert unit.move_to(UnitStatus.ORDERED, at=T) == UnitStatus.AVAILABLE
    with pytest.raises(IllegalTransition):
        unit.move_to(UnitStatus.OFF_DUTY, at=T)


def test_fixes_are_normalised_to_95_percent_and_refuse_nonsense() -> None:
    # A 68 % radius (one sigma-ish, as Android reports) grows when restated at 95 %.
    assert radius_at_95(10, 0.95) == pytest.approx(10)
    assert radius_at_95(10, 0.68) == pytest.approx(16.21, abs=0.01)
    fix = LocationFix.with_confidence(
        lat=37.5,
        lon=127.0,
        radius_m=10,
        confidence=0.68,
        method=FixMethod.GNSS,
        observed_at=T,
        source="t",
    )
    assert fix.radius_m == pytest.approx(16.21, abs=0.01)
    for bad in (
        {"lat": 91.0},
        {"lon": -181.0},
        {"radius_m": -1.0},
        {"radius_m": float("nan")},
        {"speed_mps": 400.0},
    ):
        values = {
            "lat": 37.5,
            "lon": 127.0,
            "radius_m": 10.0,
            "method": FixMethod.GNSS,
            "observed_at": T,
            "source": "t",
        } | bad
        with pytest.raises(InvalidInput):
            LocationFix(**values)  # type: ignore[arg-type]
