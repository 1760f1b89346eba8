"""The rule of hearing from a terminal, shared by single messages and heartbeat batches."""

from dataclasses import dataclass
from datetime import UTC, datetime

from ansim.domain.terminals import note_heard

AT = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


@dataclass
class Copy:
    id: str = "UA-1"
    subscriber_id: str = "S-1"
    last_seen_at: datetime | None = None
    signal_dbm: int | None = -80
    battery_pct: int | None = 50
    low_battery: bool = False
    lost: bool = False


def test_a_message_refreshes_last_seen_and_keeps_what_it_does_not_report() -> None:
    terminal = Copy()
    assert note_heard(terminal, at=AT, signal_dbm=None, battery_pct=None) == []
    assert (terminal.last_seen_at, terminal.signal_dbm, terminal.battery_pct) == (AT, -80, 50)


def test_a_lost_terminal_recovers_and_a_low_battery_is_flagged_once_with_hysteresis() -> None:
    terminal = Copy(lost=True)
    events = note_heard(terminal, at=AT, signal_dbm=-90, battery_pct=19)
    assert events == ["terminal.recovered", "terminal.low_battery"]
    assert (terminal.lost, terminal.low_battery, terminal.signal_dbm) == (False, True, -90)
    assert note_heard(terminal, at=AT, signal_dbm=None, battery_pct=10) == []  # still low
    assert note_heard(terminal, at=AT, signal_dbm=None, battery_pct=25) == []
    assert terminal.low_battery, "the flag clears only at 30 %"
    assert note_heard(terminal, at=AT, signal_dbm=None, battery_pct=30) == []
    assert not terminal.low_battery
