"""Patrol units, their statuses, and their assignments to incidents."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from ansim.domain.errors import IllegalTransition


class UnitStatus(StrEnum):
    AVAILABLE = "available"
    ORDERED = "ordered"
    EN_ROUTE = "en_route"
    ON_SCENE = "on_scene"
    BUSY = "busy"
    OFF_DUTY = "off_duty"


U = UnitStatus
UNIT_TRANSITIONS: dict[UnitStatus, frozenset[UnitStatus]] = {
    U.AVAILABLE: frozenset({U.ORDERED, U.BUSY, U.OFF_DUTY}),
    U.ORDERED: frozenset({U.EN_ROUTE, U.ON_SCENE, U.AVAILABLE}),
    U.EN_ROUTE: frozenset({U.ON_SCENE, U.AVAILABLE, U.ORDERED}),
    U.ON_SCENE: frozenset({U.AVAILABLE, U.BUSY}),
    U.BUSY: frozenset({U.AVAILABLE, U.ORDERED, U.OFF_DUTY}),
    U.OFF_DUTY: frozenset({U.AVAILABLE}),
}


class StationKind(StrEnum):
    POLICE_STATION = "police_station"  # 경찰서
    DISTRICT_UNIT = "district_unit"  # 지구대
    POLICE_BOX = "police_box"  # 파출소


@dataclass
class Station:
    id: str
    name: str
    kind: StationKind
    lat: float
    lon: float
    district: str = ""
    retired_at: datetime | None = None


class UnitKind(StrEnum):
    PATROL_CAR = "patrol_car"
    FOOT = "foot"


@dataclass
class Unit:
    """A patrol car with its crew's terminal."""

    id: str
    call_sign: str
    station_id: str
    status: UnitStatus
    status_at: datetime
    lat: float | None = None
    lon: float | None = None
    position_at: datetime | None = None
    kind: str = UnitKind.PATROL_CAR.value
    retired_at: datetime | None = None

    def move_to(self, target: UnitStatus, *, at: datetime) -> UnitStatus:
        """Changes status if allowed and returns the previous one."""
        if target == self.status:
            return self.status
        if self.retired_at is not None and target != UnitStatus.OFF_DUTY:
            raise IllegalTransition(f"unit {self.call_sign} is retired")
        if target not in UNIT_TRANSITIONS[self.status]:
            raise IllegalTransition(
                f"unit {self.call_sign} is {self.status}; it cannot become {target}"
            )
        previous, self.status, self.status_at = self.status, target, at
        return previous


class AssignmentState(StrEnum):
    ORDERED = "ordered"
    ACKNOWLEDGED = "acknowledged"
    EN_ROUTE = "en_route"
    ON_SCENE = "on_scene"
    CLEARED = "cleared"
    DECLINED = "declined"
    TIMED_OUT = "timed_out"  # not acknowledged in time; the order moved to the next unit
    PREEMPTED = "preempted"  # the unit was taken for a more urgent incident
    WITHDRAWN = "withdrawn"  # the person cancelled before the unit acknowledged


CLOSED_ASSIGNMENT_STATES = frozenset(
    {
        AssignmentState.CLEARED,
        AssignmentState.DECLINED,
        AssignmentState.TIMED_OUT,
        AssignmentState.PREEMPTED,
        AssignmentState.WITHDRAWN,
    }
)


@dataclass
class Assignment:
    """A unit ordered to an incident, with the times of each step."""

    id: str
    incident_id: str
    unit_id: str
    state: AssignmentState
    ordered_at: datetime
    ordered_by: str
    acknowledged_at: datetime | None = None
    arrived_at: datetime | None = None
    cleared_at: datetime | None = None
    eta_s: float | None = None
    ack_due_at: datetime | None = None
    end_reason: str = ""

    @property
    def is_open(self) -> bool:
        return self.state not in CLOSED_ASSIGNMENT_STATES
