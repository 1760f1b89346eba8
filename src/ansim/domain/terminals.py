"""U-안심 terminals: enrolled wearables, their message sequence and their supervision."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from ansim.domain.errors import Conflict, InvalidInput

MIN_INTERVAL_S = 10
MAX_INTERVAL_S = 24 * 3600
# Battery below this is flagged; the flag clears only above the upper mark (no flapping).
LOW_BATTERY_PCT = 20
BATTERY_RECOVERED_PCT = 30


class Sequencing(StrEnum):
    NEW = "new"
    DUPLICATE = "duplicate"
    LATE_SOS = "late_sos"


class StaleSequence(Conflict):
    """A terminal message repeats or goes back in its sequence (a replay or a confused device)."""


def check_interval(seconds: int) -> None:
    if not MIN_INTERVAL_S <= seconds <= MAX_INTERVAL_S:
        raise InvalidInput(
            f"reporting interval must be {MIN_INTERVAL_S}-{MAX_INTERVAL_S} s, got {seconds}"
        )


def supervision_grace(interval_s: int) -> timedelta:
    """How long past its interval a terminal may stay silent: one more interval, at least 30 s."""
    return timedelta(seconds=max(30, interval_s))


def supervision_due(interval_s: int, at: datetime) -> datetime:
    """When a terminal heard at `at` counts as lost if nothing more arrives: interval plus grace."""
    return at + timedelta(seconds=interval_s) + supervision_grace(interval_s)


def judge(last_seq: int, last_digest: str, seq: int, digest: str, *, sos: bool) -> Sequencing:
    """Where message `seq` (of `digest`) stands after the last accepted one (Terminal.judge_sequence)."""
    if seq == last_seq and digest == last_digest:
        return Sequencing.DUPLICATE
    if seq > last_seq:
        return Sequencing.NEW
    if sos:
        return Sequencing.LATE_SOS
    raise StaleSequence(f"sequence {seq} is not after {last_seq}; replayed or old message refused")


def battery_flag(low_battery: bool, battery_pct: int | None) -> bool | None:
    """The new low-battery flag when `battery_pct` changes it, else None (hysteresis, no flapping)."""
    if battery_pct is None:
        return None
    if not low_battery and battery_pct < LOW_BATTERY_PCT:
        return True
    if low_battery and battery_pct >= BATTERY_RECOVERED_PCT:
        return False
    return None


@dataclass
class Terminal:
    """A wearable bound to one person; its secret signs every message both ways."""

    id: str
    subscriber_id: str
    secret: str
    reporting_interval_s: int
    enrolled_at: datetime
    enrolled_by: str
    last_seq: int = 0
    last_digest: str = ""
    last_seen_at: datetime | None = None
    battery_pct: int | None = None
    signal_dbm: int | None = None
    low_battery: bool = False
    lost: bool = False
    config_version: int = 1
    disabled: bool = False

    def supervision_due(self, at: datetime) -> datetime:
        """When the terminal counts as lost if nothing more arrives after `at`."""
        return supervision_due(self.reporting_interval_s, at)

    def judge_sequence(self, seq: int, digest: str, *, sos: bool) -> Sequencing:
        """Where `seq` stands; a new message moves the sequence (in the transaction of its effect).

        A byte-identical repeat of the last message is a duplicate. Anything else at or below the
        last number is refused as stale, except an SOS: a retry overtaken by a later heartbeat is
        still a press for help, and its idempotency key (terminal, seq) stops it counting twice.
        """
        sequencing = judge(self.last_seq, self.last_digest, seq, digest, sos=sos)
        if sequencing is Sequencing.NEW:
            self.last_seq, self.last_digest = seq, digest
        return sequencing

    def accept_sequence(self, seq: int, digest: str) -> bool:
        """For anything but an SOS: True when a byte-identical retry of the last message."""
        return self.judge_sequence(seq, digest, sos=False) is Sequencing.DUPLICATE


class Heard(Protocol):
    """A terminal as a message changes it: its row, or a heartbeat batch's copy of the row."""

    @property
    def id(self) -> str: ...
    @property
    def subscriber_id(self) -> str: ...

    last_seen_at: datetime | None
    signal_dbm: int | None
    battery_pct: int | None
    low_battery: bool
    lost: bool


def note_heard(
    terminal: Heard, *, at: datetime, signal_dbm: int | None, battery_pct: int | None
) -> list[str]:
    """What any message from a terminal changes: last seen, signal, battery, the lost and
    low-battery flags. Returns the supervision events to announce, once the terminal stands as
    the message left it: "terminal.recovered" if it was lost, "terminal.low_battery" if low now."""
    terminal.last_seen_at = at
    if signal_dbm is not None:
        terminal.signal_dbm = signal_dbm
    events = []
    if terminal.lost:
        terminal.lost = False
        events.append("terminal.recovered")
    if battery_pct is not None:
        terminal.battery_pct = battery_pct
        flag = battery_flag(terminal.low_battery, battery_pct)
        if flag is not None:
            terminal.low_battery = flag
            if flag:
                events.append("terminal.low_battery")
    return events
