"""Verification policy: dispatch first, then ask the guardians; danger from anyone wins, silence is danger."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Answer(StrEnum):
    SAFE = "safe"  # "I am with them / it was a mistake"
    DANGER = "danger"  # "I cannot reach them / danger"
    NO_ANSWER = "no_answer"  # a dispatcher's call nobody picked up; the deadline decides


class AnswerSource(StrEnum):
    GUARDIAN_PAGE = "guardian_page"
    DISPATCHER_CALL = "dispatcher_call"


class VerificationState(StrEnum):
    PENDING = "pending"
    DANGER = "danger"
    # A guardian says it was a mistake: the dispatcher is asked to stand down; units stay until a human decides.
    MISTAKE = "mistake"
    STOOD_DOWN = "stood_down"
    CONTINUED = "continued"


class DispatcherDecision(StrEnum):
    STAND_DOWN = "stand_down"
    CONTINUE = "continue"


@dataclass
class Verification:
    """The check that follows a dispatch of a registered person's incident."""

    id: str
    incident_id: str
    state: VerificationState
    started_at: datetime
    due_at: datetime
    decided_at: datetime | None = None
    reason: str = ""
    stand_down_requested: bool = False


@dataclass(frozen=True)
class Decision:
    state: VerificationState
    reason: str
    stand_down_requested: bool = False


def decide_on_answer(
    verification: Verification, answer: Answer, *, duress: bool, who: str
) -> Decision | None:
    """What an answer changes; None when it is only recorded."""
    if answer == Answer.DANGER:
        if verification.state == VerificationState.DANGER:
            return None
        return Decision(VerificationState.DANGER, f"{who}: cannot reach them / danger")
    if answer == Answer.SAFE and verification.state == VerificationState.PENDING and not duress:
        # Never a recall: the dispatcher decides whether the units stand down.
        return Decision(VerificationState.MISTAKE, f"{who}: with them / it was a mistake", True)
    # "No answer" waits for the deadline; a "mistake" never undoes danger nor overrides a duress PIN.
    return None


def decide_on_deadline(verification: Verification, *, seconds: float) -> Decision | None:
    """Fail safe: nobody answered in time, so it counts as danger."""
    if verification.state != VerificationState.PENDING:
        return None
    return Decision(VerificationState.DANGER, f"no answer within {seconds:g} s counts as danger")


def decide_by_dispatcher(verification: Verification, decision: DispatcherDecision) -> Decision:
    """A human's call on a stand-down request (or on any verification)."""
    if decision == DispatcherDecision.STAND_DOWN:
        return Decision(VerificationState.STOOD_DOWN, "dispatcher stood the units down")
    return Decision(VerificationState.CONTINUED, "dispatcher keeps the units going")


def is_child(birth_year: int, at: datetime, *, max_age: int = 13) -> bool:
    """Elementary-school age and younger: danger is treated as suspected kidnapping."""
    return at.year - birth_year <= max_age
