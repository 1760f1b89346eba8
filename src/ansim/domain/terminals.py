"""U-안심 terminals: enrolled wearables, their message sequence and their supervision."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

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
        return (
            at
            + timedelta(seconds=self.reporting_interval_s)
            + supervision_grace(self.reporting_interval_s)
        )

    def judge_sequence(self, seq: int, digest: str, *, sos: bool) -> Sequencing:
        """Where `seq` stands; a new message moves the sequence (in the transaction of its effect).

        A byte-identical repeat of the last message is a duplicate. Anything else at or below the
        last number is refused as stale, except an SOS: a retry overtaken by a later heartbeat is
        still a press for help, and its idempotency key (terminal, seq) stops it counting twice.
        """
        if seq == self.last_seq and digest == self.last_digest:
            return Sequencing.DUPLICATE
        if seq > self.last_seq:
            self.last_seq, self.last_digest = seq, digest
            return Sequencing.NEW
        if sos:
            return Sequencing.LATE_SOS
        raise StaleSequence(
            f"sequence {seq} is not after {self.last_seq}; replayed or old message refused"
        )

    def accept_sequence(self, seq: int, digest: str) -> bool:
        """For anything but an SOS: True when a byte-identical retry of the last message."""
        return self.judge_sequence(seq, digest, sos=False) is Sequencing.DUPLICATE

    def note_battery(self, battery_pct: int | None) -> bool | None:
        """Updates the low-battery flag; returns the new flag when it changed, else None."""
        if battery_pct is None:
            return None
        self.battery_pct = battery_pct
        if not self.low_battery and battery_pct < LOW_BATTERY_PCT:
            self.low_battery = True
            return True
        if self.low_battery and battery_pct >= BATTERY_RECOVERED_PCT:
            self.low_battery = False
            return False
        return None
