"""Which handler fires each kind of durable deadline; each capability registers its kinds here."""

from __future__ import annotations

from ansim.bus import probe
from ansim.bus.scheduler import DeadlineHandler
from ansim.domain.dispatch_policy import DispatchPolicy
from ansim.services import dispatch, dispatch_flow, relocation, terminals, verification
from ansim.services.platform import Platform
from ansim.services.ranking import UnitRanker
from ansim.services.road_ranking import default_ranker


def deadline_handlers(
    *,
    ranker: UnitRanker | None = None,
    policy: DispatchPolicy | None = None,
    platform: Platform | None = None,
) -> dict[str, DeadlineHandler]:
    """All deadline kinds the running system knows, by kind name (the carrier re-location policy
    only with a `platform`: its handler runs a command)."""
    from ansim.security import retention

    ranker = ranker or default_ranker()
    policy = policy or DispatchPolicy()
    handlers: dict[str, DeadlineHandler] = {
        dispatch.ACK_DEADLINE: dispatch_flow.ack_timeout_handler(ranker, policy),
        verification.ANSWER_DEADLINE: verification.on_answer_deadline,
        terminals.HEARTBEAT_KIND: terminals.on_heartbeat_overdue,
        retention.SWEEP_KIND: retention.sweep_handler,
        probe.PROBE: probe.fire_probe,
    }
    if platform is not None:
        handlers[relocation.RELOCATE_KIND] = relocation.on_relocate_deadline(platform)
    return handlers
