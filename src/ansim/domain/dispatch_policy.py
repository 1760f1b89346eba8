"""Dispatch policy: per channel and priority, whether to order at once, how many units, ack deadline."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ansim.domain.errors import InvalidInput
from ansim.domain.incidents import Channel, PriorityCode

DEFAULT_ACK_TIMEOUT_S = 30.0
DEFAULT_CODE0_EXTRA_UNITS = 2
# The durable deadline of an incident still missing units (subject: the incident id).
DISPATCH_RETRY_DEADLINE = "incident.dispatch_retry"
# An incident still missing units re-ranks this often (durable deadline "incident.dispatch_retry").
DEFAULT_RETRY_S = 10.0
# A unit that let an order time out is not recommended or ordered again for this long.
DEFAULT_UNIT_REST_S = 120.0
# The promise: an order within this many seconds of the press when a unit is free.
DEFAULT_ORDER_WITHIN_S = 1.0
# Code 0/1 (danger to life) may take a unit from a code 2-4 job; never the other way round.
PREEMPTING = frozenset({PriorityCode.CODE_0, PriorityCode.CODE_1})
PREEMPTIBLE = frozenset({PriorityCode.CODE_2, PriorityCode.CODE_3, PriorityCode.CODE_4})
_FIELDS = {"auto_dispatch": bool, "units": int, "ack_timeout_s": float}
MAX_UNITS = 20


@dataclass(frozen=True)
class DispatchRule:
    """What dispatch does for one kind of incident."""

    auto_dispatch: bool
    units: int
    ack_timeout_s: float

    def __post_init__(self) -> None:
        if not 0 <= self.units <= MAX_UNITS:
            raise InvalidInput(f"units must be 0-{MAX_UNITS}, got {self.units}")
        if not 0 < self.ack_timeout_s <= 3600:
            raise InvalidInput(f"ack timeout must be 0-3600 s, got {self.ack_timeout_s}")


@dataclass(frozen=True)
class DispatchPolicy:
    """Rules by "channel:priority" keys; "*" matches any, the more specific key wins field by field."""

    ack_timeout_s: float = DEFAULT_ACK_TIMEOUT_S
    code0_extra_units: int = DEFAULT_CODE0_EXTRA_UNITS
    overrides: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    retry_s: float = DEFAULT_RETRY_S
    unit_rest_s: float = DEFAULT_UNIT_REST_S
    order_within_s: float = DEFAULT_ORDER_WITHIN_S

    def __post_init__(self) -> None:
        if not 0 < self.retry_s <= 600:
            raise InvalidInput(f"dispatch retry must be 0-600 s, got {self.retry_s}")
        if not 0 <= self.unit_rest_s <= 3600:
            raise InvalidInput(f"unit rest must be 0-3600 s, got {self.unit_rest_s}")
        if not 0 < self.order_within_s <= 600:
            raise InvalidInput(f"order-within must be 0-600 s, got {self.order_within_s}")
        for key, fields in self.overrides.items():
            _check_key(key)
            for name, value in fields.items():
                if name not in _FIELDS:
                    raise InvalidInput(f"dispatch rule {key}: unknown field {name!r}")
                if not isinstance(value, (int, float, bool)):
                    raise InvalidInput(f"dispatch rule {key}.{name}: {value!r} is not a value")
        for channel in Channel:
            for code in PriorityCode:
                self.rule_for(channel, code)  # refuse a bad policy at start, not at the first SOS

    def rule_for(self, channel: Channel, priority: PriorityCode) -> DispatchRule:
        rule = _base_rule(priority, self.ack_timeout_s, self.code0_extra_units)
        code = int(priority)
        for key in ("*:*", f"*:{code}", f"{channel.value}:*", f"{channel.value}:{code}"):
            fields = self.overrides.get(key)
            if fields:
                rule = replace(rule, **{k: _FIELDS[k](v) for k, v in fields.items()})
        return rule


def _base_rule(priority: PriorityCode, ack_timeout_s: float, code0_extra: int) -> DispatchRule:
    if priority == PriorityCode.CODE_0:
        return DispatchRule(True, 1 + code0_extra, ack_timeout_s)
    if priority in {PriorityCode.CODE_1, PriorityCode.CODE_2}:
        return DispatchRule(True, 1, ack_timeout_s)
    # Code 3: same working day, no emergency dispatch; code 4: handed to another agency.
    return DispatchRule(False, 1 if priority == PriorityCode.CODE_3 else 0, ack_timeout_s)


def _check_key(key: str) -> None:
    channel, sep, priority = key.partition(":")
    channels = {c.value for c in Channel} | {"*"}
    if not sep or channel not in channels or priority not in {"*", "0", "1", "2", "3", "4"}:
        raise InvalidInput(
            f"dispatch rule key {key!r} must be channel:priority, e.g. app:1, *:0, one_touch:*"
        )


def can_preempt(incoming: PriorityCode, job: PriorityCode) -> bool:
    """True when an incident of `incoming` priority may take a unit from a job of `job` priority."""
    return incoming in PREEMPTING and job in PREEMPTIBLE
