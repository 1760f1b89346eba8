"""Devices with wrong clocks: a fix from "the future" is re-timed or widened, never the end of an SOS.

A phone or wearable whose clock runs ahead stamps its fixes ahead too. Its offset is estimated from
the message's own send time against our arrival time (transit is seconds, so the estimate errs by
that); a fix re-timed by it is as good as any other. When no send time is known, or the offset does
not explain the fix, the fix is taken as of its arrival and its radius grows by how far a person may
have walked over the time we cannot account for.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime, timedelta

from ansim.domain.fixes import MAX_FUTURE_SKEW, MAX_RADIUS_M, LocationFix

# An offset beyond this is no clock error but a device that never set its clock: not believed.
MAX_CLOCK_OFFSET = timedelta(days=2)
# How fast we assume the person moved during the time a bad clock hides (brisk walk, m/s).
WALKING_MPS = 1.5
# The time a widened fix may be unaccounted for: beyond it the radius stops growing.
MAX_UNACCOUNTED = timedelta(hours=1)


@dataclass(frozen=True)
class SettledFix:
    fix: LocationFix
    # What was done to it, for the incident's timeline ("fix_retimed", "fix_time_unknown").
    flag: str | None = None
    detail: str = ""


def clock_offset(*, sent_at: datetime | None, received_at: datetime) -> timedelta | None:
    """How far the device's clock runs ahead of ours (negative: behind); None when not believable."""
    if sent_at is None or sent_at.tzinfo is None:
        return None
    offset = sent_at - received_at
    return offset if abs(offset) <= MAX_CLOCK_OFFSET else None


def settle_fix(
    fix: LocationFix, *, received_at: datetime, sent_at: datetime | None = None
) -> SettledFix:
    """The fix as we can use it: unchanged, re-timed by the device's offset, or widened."""
    ahead = fix.observed_at - received_at
    if ahead <= MAX_FUTURE_SKEW:
        return SettledFix(fix)
    offset = clock_offset(sent_at=sent_at, received_at=received_at)
    if offset is not None and fix.observed_at - offset - received_at <= MAX_FUTURE_SKEW:
        observed = min(fix.observed_at - offset, received_at)
        return SettledFix(
            dataclasses.replace(fix, observed_at=observed),
            "fix_retimed",
            f"device clock {offset.total_seconds():+.0f} s; fix re-timed to {observed.isoformat()}",
        )
    unaccounted = min(ahead, MAX_UNACCOUNTED).total_seconds()
    radius = min(fix.radius_m + WALKING_MPS * unaccounted, MAX_RADIUS_M)
    return SettledFix(
        dataclasses.replace(fix, observed_at=received_at, radius_m=radius),
        "fix_time_unknown",
        f"fix stamped {ahead.total_seconds():.0f} s ahead; taken as received, radius {radius:.0f} m",
    )
