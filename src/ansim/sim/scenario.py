"""Simulation scenarios: a YAML file with a seed, the city's fleet, its reporters and its answers."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from ansim.domain.errors import InvalidInput
from ansim.domain.incidents import Channel


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Arrivals(_Strict):
    """SOS presses as a Poisson process whose hourly rate follows a daily rhythm."""

    # 0: no SOS at all (the units still patrol).
    per_hour: float = Field(ge=0)
    # The first SOS this many seconds after the start, before the Poisson process (the live demo).
    first_at_s: float | None = Field(default=None, ge=0)
    # Relative weight by local hour (0-23); hours not listed weigh 1.
    rhythm: dict[int, float] = Field(default_factory=dict)
    channels: dict[Channel, float] = Field(
        default_factory=lambda: {Channel.ONE_TOUCH: 0.3, Channel.APP: 0.5, Channel.TERMINAL: 0.2}
    )
    # About 4 % of dispatched calls in Korean statistics turn out false or mistaken.
    mis_press_share: float = Field(default=0.04, ge=0, le=1)
    # How people move after pressing: stay, keep walking, or are driven away by car.
    mobility: dict[str, float] = Field(
        default_factory=lambda: {"stay": 0.5, "walk": 0.42, "car": 0.08}
    )
    near_school_m: float = Field(default=400.0, gt=0)

    @field_validator("rhythm")
    @classmethod
    def _hours(cls, rhythm: dict[int, float]) -> dict[int, float]:
        if any(not 0 <= hour <= 23 or weight < 0 for hour, weight in rhythm.items()):
            raise ValueError("rhythm maps hours 0-23 to non-negative weights")
        return rhythm

    @field_validator("mobility")
    @classmethod
    def _mobility(cls, mobility: dict[str, float]) -> dict[str, float]:
        if not set(mobility) <= {"stay", "walk", "car"} or sum(mobility.values()) <= 0:
            raise ValueError("mobility shares are for stay, walk and car")
        return mobility


class Fleet(_Strict):
    """Patrol cars at the real police boxes; `units` keeps the first N on duty (0: all)."""

    units: int = Field(default=0, ge=0)
    # Seconds from order to the crew's acknowledgement on the terminal (log-normal median, spread).
    ack_median_s: float = Field(default=20.0, gt=0)
    ack_spread: float = Field(default=0.5, ge=0)
    # Multiplies the road graph's urban driving speeds (lights and siren on an SOS run).
    emergency_speed_factor: float = Field(default=1.0, gt=0)
    patrol_speed_factor: float = Field(default=0.6, gt=0)
    report_every_s: float = Field(default=15.0, gt=0)
    patrol_report_every_s: float = Field(default=60.0, gt=0)
    # Minutes on scene: a mis-press found on arrival, and a real case.
    on_scene_false_min: float = Field(default=5.0, gt=0)
    on_scene_real_min: float = Field(default=25.0, gt=0)
    # A dispatcher re-tries incidents left without a unit this often.
    dispatcher_every_s: float = Field(default=30.0, gt=0)


class Guardians(_Strict):
    """Each guardian who gets the platform's message opens its link and answers after a log-normal
    delay with probability `answer_share`, or never does (the platform's deadline then decides)."""

    answer_share: float = Field(default=0.7, ge=0, le=1)
    answer_median_s: float = Field(default=45.0, gt=0)
    answer_spread: float = Field(default=0.6, ge=0)


class Scenario(_Strict):
    name: str
    seed: int
    start: datetime
    duration_min: float = Field(gt=0)
    pupils: int = Field(default=24, gt=0)
    tick_s: float = Field(default=10.0, gt=0)
    arrivals: Arrivals
    fleet: Fleet = Fleet()
    guardians: Guardians = Guardians()
    description: str = ""

    @field_validator("start")
    @classmethod
    def _aware(cls, start: datetime) -> datetime:
        if start.tzinfo is None:
            raise ValueError("start needs a UTC offset, e.g. 2026-03-02T07:00:00+09:00")
        return start


def load_scenario(path: Path) -> Scenario:
    """Reads and validates a scenario file."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise InvalidInput(f"cannot read scenario {path}: {error}") from error
    try:
        return Scenario.model_validate(document)
    except ValueError as error:
        raise InvalidInput(f"scenario {path} is not valid: {error}") from error
