"""School guards (배움터지킴이): who watches a school's gate, and when they are on duty."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo

from ansim.domain.errors import InvalidInput

# Duty hours are school hours, kept in Korean local time.
KST = ZoneInfo("Asia/Seoul")


@dataclass
class SchoolGuard:
    id: str
    school: str
    name: str
    phone: str
    duty_start: str  # "HH:MM", local time
    duty_end: str
    # Days on duty, Monday = 0 ("01234": school days).
    weekdays: str = "01234"
    email: str = ""
    language: str = "ko"
    active: bool = True

    def on_duty(self, at: datetime) -> bool:
        """True when `at` falls inside the guard's duty hours on a duty day."""
        local = at.astimezone(KST)
        if not self.active or str(local.weekday()) not in self.weekdays:
            return False
        start, end = parse_hhmm(self.duty_start), parse_hhmm(self.duty_end)
        now = local.time()
        return start <= now < end if start <= end else (now >= start or now < end)


def parse_hhmm(value: str) -> time:
    try:
        hours, minutes = value.split(":")
        return time(int(hours), int(minutes))
    except ValueError:
        raise InvalidInput(f"duty time must be HH:MM, got {value!r}") from None


def check_weekdays(value: str) -> str:
    if not value or any(c not in "0123456" for c in value) or len(set(value)) != len(value):
        raise InvalidInput("weekdays must be distinct digits 0-6 (Monday = 0)")
    return "".join(sorted(value))
