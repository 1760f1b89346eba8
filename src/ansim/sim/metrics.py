"""The run's figures: read back from the database the real services wrote, joined with the truth."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import sqlalchemy as sa

from ansim.domain.incidents import Incident, IncidentEvent, PriorityCode
from ansim.domain.units import Assignment
from ansim.domain.verification import Verification
from ansim.sim.records import CaseRecord
from ansim.sim.runner import Simulation
from ansim.store.tables import assignments, incident_events, incidents

# Anchors printed beside the figures (REFERENCE.md).
ANCHORS = {
    "arrival_code01_national_s": 305.0,  # 5:05, 2020
    "arrival_code01_seoul_s": 260.0,  # 4:20, 2018
    "call_end_to_order_s": 28.0,  # 12 s to system entry + 16 s to order, 2024
}
STAGES = ("board", "order", "ack", "arrival")


@dataclass(frozen=True)
class CaseTimes:
    """One incident's milestones in seconds after the press (the first order, the first crew to
    acknowledge, the first on scene), and what was true about it."""

    case: CaseRecord
    incident: Incident
    first: Assignment | None
    board_s: float
    order_s: float | None
    ack_s: float | None
    arrival_s: float | None

    def stage(self, name: str) -> float | None:
        return {
            "board": self.board_s,
            "order": self.order_s,
            "ack": self.ack_s,
            "arrival": self.arrival_s,
        }[name]


def verification_outcomes(sim: Simulation) -> dict[str, int]:
    """How the platform's verification of the simulated cases stands, by state."""
    with sim.uow.read() as session:
        states = [v.state.value for v in session.execute(sa.select(Verification)).scalars()]
    return {state: states.count(state) for state in sorted(set(states))}


def collect(sim: Simulation) -> tuple[list[CaseTimes], list[Assignment]]:
    """Every simulated case with its incident and first assignment as the store holds them."""
    with sim.uow.read() as session:
        stored = {i.id: i for i in session.execute(sa.select(Incident)).scalars()}
        orders = list(
            session.execute(sa.select(Assignment).order_by(assignments.c.ordered_at)).scalars()
        )
        drills = session.execute(
            sa.select(sa.func.count()).where(incidents.c.drill.is_(False))
        ).scalar_one()
    if drills:
        raise AssertionError("a simulated incident was stored without the drill flag")
    per_incident: dict[str, list[Assignment]] = {}
    for order in orders:
        per_incident.setdefault(order.incident_id, []).append(order)
    times = []
    for case in sim.log.cases:
        if case.incident_id is None:
            continue
        incident = stored[case.incident_id]
        mine = per_incident.get(case.incident_id, [])

        def after(moments: list[datetime | None], press: float = case.press_s) -> float | None:
            # The first crew to get there counts, also when an earlier order timed out or was declined.
            known = [sim.seconds_of(at) for at in moments if at is not None]
            return min(known) - press if known else None

        times.append(
            CaseTimes(
                case,
                incident,
                mine[0] if mine else None,
                board_s=sim.seconds_of(incident.received_at) - case.press_s,
                order_s=after([a.ordered_at for a in mine]),
                ack_s=after([a.acknowledged_at for a in mine]),
                arrival_s=after([a.arrived_at for a in mine]),
            )
        )
    return times, orders


def code0_convergence(
    sim: Simulation, times: list[CaseTimes], orders: list[Assignment]
) -> dict[str, Any]:
    """Code 0 must converge units: seconds from the escalation to code 0 (or the press, for an SOS
    that came in at code 0) until a second and a third unit are on scene, per code-0 incident.

    An incident whose second (third) unit never arrived within the run is counted, not timed.
    """
    code0 = [t for t in times if t.incident.priority == PriorityCode.CODE_0]
    with sim.uow.read() as session:
        raised = list(
            session.execute(
                sa.select(IncidentEvent)
                .where(
                    incident_events.c.kind == "priority_changed",
                    incident_events.c.incident_id.in_([t.incident.id for t in code0]),
                )
                .order_by(incident_events.c.at)
            ).scalars()
        )
    escalated_at: dict[str, datetime] = {}
    for event in raised:
        if event.data.get("to") == int(PriorityCode.CODE_0):
            escalated_at.setdefault(event.incident_id, event.at)
    arrivals: dict[str, list[datetime]] = {}
    for order in orders:
        if order.arrived_at is not None:
            arrivals.setdefault(order.incident_id, []).append(order.arrived_at)
    second: list[float] = []
    third: list[float] = []
    for t in code0:
        start = escalated_at.get(t.incident.id, t.incident.received_at)
        on_scene = sorted(arrivals.get(t.incident.id, []))
        # A unit already there when the danger was confirmed counts as there at once.
        waits = [max(0.0, (at - start).total_seconds()) for at in on_scene]
        if len(waits) >= 2:
            second.append(waits[1])
        if len(waits) >= 3:
            third.append(waits[2])
    return {
        "incidents": len(code0),
        "second_unit_on_scene_s": _stats(second),
        "third_unit_on_scene_s": _stats(third),
        "without_second_unit": len(code0) - len(second),
        "without_third_unit": len(code0) - len(third),
    }


def _stats(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"n": 0}
    data = np.array(values, np.float64)
    return {
        "n": len(values),
        "mean": round(float(data.mean()), 1),
        "median": round(float(np.percentile(data, 50)), 1),
        "p90": round(float(np.percentile(data, 90)), 1),
        "p99": round(float(np.percentile(data, 99)), 1),
    }


def _group(times: list[CaseTimes], key: str) -> dict[str, Any]:
    groups: dict[str, list[CaseTimes]] = {}
    for t in times:
        label = f"code {int(t.incident.priority)}" if key == "priority" else t.case.channel.value
        groups.setdefault(label, []).append(t)
    return {
        label: {
            stage: _stats([v for t in members if (v := t.stage(stage)) is not None])
            for stage in STAGES
        }
        for label, members in sorted(groups.items())
    }


def summarise(sim: Simulation) -> dict[str, Any]:
    """The reproducible summary: counts and distributions, no wall-clock figures."""
    times, orders = collect(sim)
    end = sim.scenario.duration_min * 60.0
    tied: dict[str, float] = {}
    busy = 0.0
    for order in orders:
        start = sim.seconds_of(order.ordered_at)
        stop = sim.seconds_of(order.cleared_at) if order.cleared_at else end
        busy += max(0.0, min(stop, end) - start)
        tied[order.incident_id] = tied.get(order.incident_id, 0.0) + max(0.0, stop - start)
    mis = [t for t in times if t.case.mis_press]
    urgent = [
        t.arrival_s for t in times if t.arrival_s is not None and int(t.incident.priority) <= 1
    ]
    unit_hours = len(sim.on_duty) * end
    return {
        "scenario": sim.scenario.name,
        "seed": sim.scenario.seed,
        "virtual_minutes": sim.scenario.duration_min,
        "units_on_duty": len(sim.on_duty),
        "sos": len(times),
        "dispatched": sum(1 for t in times if t.first is not None),
        "arrived": sum(1 for t in times if t.arrival_s is not None),
        "by_priority": _group(times, "priority"),
        "by_channel": _group(times, "channel"),
        "all": {
            stage: _stats([v for t in times if (v := t.stage(stage)) is not None])
            for stage in STAGES
        },
        "arrival_code01": _stats(urgent),
        "code0_convergence": code0_convergence(sim, times, orders),
        "location_error_m": {
            "at_dispatch": _stats(
                [e for t in times if (e := t.case.error_at_dispatch_m) is not None]
            ),
            "at_arrival": _stats(
                [e for t in times if (e := t.case.error_at_arrival_m) is not None]
            ),
        },
        "mis_presses": {
            "count": len(mis),
            "stood_down_before_arrival": sum(1 for t in mis if t.case.stood_down),
            "unit_minutes_tied_up": round(sum(tied.get(t.incident.id, 0.0) for t in mis) / 60.0, 1),
        },
        "guardians": {
            "messages": sim.log.messages,
            "answered": sum(1 for t in times if t.case.guardian_answered),
            "no_answer": sum(1 for t in times if t.case.guardian_answered is False),
        },
        "verification": verification_outcomes(sim),
        "utilisation": round(busy / unit_hours, 4) if unit_hours else 0.0,
        "service_refusals": len(sim.log.errors),
        "anchors": ANCHORS,
        "gaps": sorted(sim.log.gaps),
    }
