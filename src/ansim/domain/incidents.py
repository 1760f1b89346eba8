"""Incidents: the case opened by an SOS, its lifecycle and its append-only timeline."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum, StrEnum
from typing import Any

from ansim.domain.errors import IllegalTransition, InvalidInput
from ansim.domain.estimate import WALK_GROWTH_MPS, Estimate
from ansim.domain.fixes import LocationFix


class Channel(StrEnum):
    ONE_TOUCH = "one_touch"
    APP = "app"
    TERMINAL = "terminal"


class EscalationCause(StrEnum):
    """Why an incident went to code 0: the consoles name it in the reader's language."""

    GUARDIAN_DANGER = "guardian_danger"
    NO_ANSWER = "no_answer"
    DURESS = "duress"
    DISPATCHER = "dispatcher"


class PriorityCode(IntEnum):
    """Korean 112 priority codes (since 2016): 0 is the most urgent."""

    CODE_0 = 0
    CODE_1 = 1
    CODE_2 = 2
    CODE_3 = 3
    CODE_4 = 4


class IncidentStatus(StrEnum):
    RECEIVED = "received"
    DISPATCHED = "dispatched"
    VERIFYING = "verifying"
    CONFIRMED = "confirmed"
    FALSE_ALARM = "false_alarm"
    CANCELLED = "cancelled"
    ON_SCENE = "on_scene"
    RESOLVED = "resolved"
    CLOSED = "closed"


S = IncidentStatus
# Fail safe: every state before "resolved" can still turn into confirmed danger.
TRANSITIONS: dict[IncidentStatus, frozenset[IncidentStatus]] = {
    S.RECEIVED: frozenset({S.DISPATCHED, S.VERIFYING, S.CONFIRMED, S.CANCELLED, S.FALSE_ALARM}),
    S.DISPATCHED: frozenset({S.VERIFYING, S.CONFIRMED, S.FALSE_ALARM, S.CANCELLED, S.ON_SCENE}),
    S.VERIFYING: frozenset({S.CONFIRMED, S.FALSE_ALARM, S.CANCELLED, S.ON_SCENE, S.DISPATCHED}),
    S.CONFIRMED: frozenset({S.DISPATCHED, S.ON_SCENE, S.RESOLVED}),
    S.FALSE_ALARM: frozenset({S.CONFIRMED, S.RESOLVED, S.CLOSED}),
    S.CANCELLED: frozenset({S.CONFIRMED, S.RESOLVED, S.CLOSED}),
    S.ON_SCENE: frozenset({S.CONFIRMED, S.RESOLVED}),
    S.RESOLVED: frozenset({S.CLOSED}),
    S.CLOSED: frozenset(),
}
# Finished: nothing changes any more. Called off: a person ended it (the PIN, a dispatcher).
FINISHED_STATUSES = frozenset({S.RESOLVED, S.CLOSED})
CALLED_OFF_STATUSES = frozenset({S.CANCELLED, S.FALSE_ALARM})
# Open: the police still owe the person help, so it merges repeated SOS, is dispatched and listed.
OPEN_STATUSES = frozenset(
    s for s in IncidentStatus if s not in FINISHED_STATUSES | CALLED_OFF_STATUSES
)
# Unfinished: a person (a dispatcher, a guardian) may still act on it, e.g. re-open a cancel.
UNFINISHED_STATUSES = frozenset(s for s in IncidentStatus if s not in FINISHED_STATUSES)


def check_transition(current: IncidentStatus, target: IncidentStatus) -> None:
    """Raises IllegalTransition unless the lifecycle allows current → target."""
    if target not in TRANSITIONS[current]:
        allowed = ", ".join(sorted(TRANSITIONS[current])) or "none (final state)"
        raise IllegalTransition(
            f"an incident that is {current} cannot become {target}; allowed: {allowed}"
        )


@dataclass
class IncidentEvent:
    """One entry of an incident's append-only timeline."""

    incident_id: str
    kind: str
    at: datetime
    actor: str
    data: dict[str, Any] = field(default_factory=dict)
    id: int | None = None


@dataclass
class Incident:
    """A case opened by an SOS (or by a dispatcher); the subject of dispatch and verification."""

    id: str
    channel: Channel
    status: IncidentStatus
    priority: PriorityCode
    received_at: datetime
    updated_at: datetime
    subscriber_id: str | None = None
    caller_number: str | None = None
    lat: float | None = None
    lon: float | None = None
    radius_m: float | None = None
    location_method: str | None = None
    located_at: datetime | None = None
    semi_major_m: float | None = None
    semi_minor_m: float | None = None
    orientation_deg: float | None = None
    area_m2: float | None = None
    # How fast the single figure grows after `located_at` (m/s): walking pace or a car's bound.
    growth_mps: float | None = None
    duress: bool = False
    drill: bool = False
    sos_count: int = 1
    # The person cancelled with a correct PIN (real or duress): their device shows "cancelled".
    person_cancelled: bool = False
    # The incident a person's SOS came after when that one had been cancelled or closed.
    previous_incident_id: str | None = None
    # Units the dispatch policy still asks for (0: none missing) and since when.
    waiting_for_units: int = 0
    waiting_since: datetime | None = None

    @property
    def is_open(self) -> bool:
        """The police still owe help: not cancelled, false alarm, resolved or closed."""
        return self.status in OPEN_STATUSES

    @property
    def is_active(self) -> bool:
        """Not resolved or closed: a person may still act on it (a cancel can be re-opened)."""
        return self.status in UNFINISHED_STATUSES

    @property
    def unknown_caller(self) -> bool:
        return self.subscriber_id is None

    def move_to(
        self, target: IncidentStatus, *, at: datetime, actor: str, reason: str = ""
    ) -> IncidentEvent:
        """Moves along the lifecycle and returns the timeline entry that records it."""
        check_transition(self.status, target)
        previous, self.status, self.updated_at = self.status, target, at
        return IncidentEvent(
            incident_id=self.id,
            kind="status_changed",
            at=at,
            actor=actor,
            data={"from": previous.value, "to": target.value, "reason": reason},
        )

    def raise_priority(
        self, code: PriorityCode, *, at: datetime, actor: str, reason: str
    ) -> IncidentEvent | None:
        """Makes the incident more urgent; a lower urgency is a dispatcher's explicit act, not this."""
        if code >= self.priority:
            return None
        return self.set_priority(code, at=at, actor=actor, reason=reason)

    def set_priority(
        self, code: PriorityCode, *, at: datetime, actor: str, reason: str
    ) -> IncidentEvent:
        if not self.is_active:
            raise IllegalTransition(f"incident is {self.status}; its priority can no longer change")
        previous, self.priority, self.updated_at = self.priority, code, at
        return IncidentEvent(
            incident_id=self.id,
            kind="priority_changed",
            at=at,
            actor=actor,
            data={"from": int(previous), "to": int(code), "reason": reason},
        )

    def locate(self, fix: LocationFix, *, at: datetime) -> None:
        """Takes a single `fix` as the location estimate (a circle: its radius both ways)."""
        self.lat, self.lon, self.radius_m = fix.lat, fix.lon, fix.radius_m
        self.location_method, self.located_at = fix.method.value, fix.observed_at
        self.semi_major_m = self.semi_minor_m = fix.radius_m
        self.orientation_deg, self.area_m2 = 0.0, math.pi * fix.radius_m**2
        self.growth_mps = WALK_GROWTH_MPS  # one fix says nothing of a vehicle
        self.updated_at = at

    def take_estimate(self, estimate: Estimate, *, at: datetime) -> None:
        """Takes the fused estimate (as of its last fix) as the incident's location."""
        self.lat, self.lon = estimate.lat, estimate.lon
        self.radius_m = round(estimate.radius_95_m, 2)
        self.location_method = estimate.main_method.value
        self.located_at = estimate.last_fix_at
        self.semi_major_m = round(estimate.semi_major_m, 2)
        self.semi_minor_m = round(estimate.semi_minor_m, 2)
        self.orientation_deg = round(estimate.orientation_deg, 1)
        self.area_m2 = round(estimate.area_m2, 1)
        self.growth_mps = estimate.growth_mps
        self.updated_at = at


def parse_priority(value: int) -> PriorityCode:
    try:
        return PriorityCode(value)
    except ValueError:
        raise InvalidInput(f"priority code must be 0-4, got {value}") from None
