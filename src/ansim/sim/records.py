"""What the simulator knows that the platform does not: the truth about each case."""

from __future__ import annotations

from dataclasses import dataclass, field

from ansim.domain.incidents import Channel
from ansim.sim.city import Mobility
from ansim.sim.location_traces import Trace


@dataclass
class CaseRecord:
    """One SOS as it really happened; times are virtual seconds since the scenario start."""

    press_s: float
    channel: Channel
    mis_press: bool
    mobility: Mobility
    trace: Trace
    incident_id: str | None = None
    subscriber_id: str | None = None
    error_at_dispatch_m: float | None = None
    error_at_arrival_m: float | None = None
    # None: no guardian got a message; False: some did, none answered; True: one answered on the page.
    guardian_answered: bool | None = None
    stood_down: bool = False
    closed: bool = False

    def truth(self, now_s: float) -> tuple[float, float]:
        """The person's true position at virtual time `now_s`."""
        return self.trace.to_wgs84(*self.trace.position(max(0.0, now_s - self.press_s)))


@dataclass
class SimLog:
    """Everything the summary needs beyond the database."""

    cases: list[CaseRecord] = field(default_factory=list)
    gaps: set[str] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)
    # Text messages the platform got to the simulated phones.
    messages: int = 0

    def case_of(self, incident_id: str) -> CaseRecord | None:
        return next((c for c in self.cases if c.incident_id == incident_id), None)

    def latest_case_of_person(self, subscriber_id: str) -> CaseRecord | None:
        """The registered person's most recent SOS: what a message to their guardian is about."""
        return next((c for c in reversed(self.cases) if c.subscriber_id == subscriber_id), None)
