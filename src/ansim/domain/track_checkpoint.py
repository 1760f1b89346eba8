"""Where a location track stands after its newest fix, so later fixes need not replay the history.

A checkpoint carries the filter state, the few fixes the next steps can still look at (the accepted
fixes nearest the end for the reachability check, the gated fixes a re-acquisition may take in),
and what the estimate sums up over the whole history (recent track, per-method tally, floor and
altitude). Floats survive the JSON form exactly (shortest repr), so a resumed track filters to the
same bits as one that never stopped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from ansim.domain.estimate import MethodContribution, TrackPoint
from ansim.domain.fixes import FixMethod, LocationFix
from ansim.domain.imm import ImmState

FORMAT = 1
_MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class TrackCheckpoint:
    """A track after its newest fix; `neighbours` then `pending` are in track order."""

    anchor: tuple[float, float]
    state: ImmState
    state_at: datetime
    # Accepted fixes nearest the end (the last few, ties in time complete), oldest first.
    neighbours: tuple[LocationFix, ...]
    # Gated fixes after the last accepted one that a re-acquisition may still take in.
    pending: tuple[LocationFix, ...]
    points: tuple[TrackPoint, ...]
    contributions: tuple[MethodContribution, ...]
    floor: int | None
    altitude_m: float | None

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "anchor": list(self.anchor),
            "means": self.state.means.tolist(),
            "covs": self.state.covs.tolist(),
            "probs": self.state.probs.tolist(),
            "state_at": self.state_at.isoformat(),
            "neighbours": [_fix_json(f) for f in self.neighbours],
            "pending": [_fix_json(f) for f in self.pending],
            # Each point's time as whole microseconds before state_at: cheaper than ISO text.
            "points": [
                [(self.state_at - p.at) // _MICROSECOND, p.lat, p.lon, p.radius_95_m]
                for p in self.points
            ],
            "contributions": [
                [c.method.value, c.used, c.gated, c.last_radius_m] for c in self.contributions
            ],
            "floor": self.floor,
            "altitude_m": self.altitude_m,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TrackCheckpoint:
        """Reads `to_json()`'s form; ValueError when it is another format (the track is rebuilt)."""
        if data.get("format") != FORMAT:
            raise ValueError(f"track checkpoint format {data.get('format')!r}, not {FORMAT}")
        lat0, lon0 = data["anchor"]
        state_at = datetime.fromisoformat(data["state_at"])
        return cls(
            anchor=(lat0, lon0),
            state=ImmState(
                np.array(data["means"], dtype=np.float64),
                np.array(data["covs"], dtype=np.float64),
                np.array(data["probs"], dtype=np.float64),
            ),
            state_at=state_at,
            neighbours=tuple(_fix_of(f) for f in data["neighbours"]),
            pending=tuple(_fix_of(f) for f in data["pending"]),
            points=tuple(
                TrackPoint(state_at - timedelta(microseconds=before), lat, lon, radius)
                for before, lat, lon, radius in data["points"]
            ),
            contributions=tuple(
                MethodContribution(FixMethod(method), used, gated, radius)
                for method, used, gated, radius in data["contributions"]
            ),
            floor=data["floor"],
            altitude_m=data["altitude_m"],
        )


def _fix_json(fix: LocationFix) -> dict[str, Any]:
    return {
        "lat": fix.lat,
        "lon": fix.lon,
        "radius_m": fix.radius_m,
        "method": fix.method.value,
        "observed_at": fix.observed_at.isoformat(),
        "source": fix.source,
        "altitude_m": fix.altitude_m,
        "floor": fix.floor,
        "speed_mps": fix.speed_mps,
        "heading_deg": fix.heading_deg,
    }


def _fix_of(data: dict[str, Any]) -> LocationFix:
    observed_at = datetime.fromisoformat(data["observed_at"])
    return LocationFix(**{**data, "method": FixMethod(data["method"]), "observed_at": observed_at})
