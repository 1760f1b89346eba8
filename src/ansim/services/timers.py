"""Which handler fires each kind of durable deadline; each capability registers its kinds here."""

from __future__ import annotations

from ansim.bus import probe
from ansim.bus.scheduler import DeadlineHandler
from ansim.services import dispatch, dispatch_flow, terminals, verification
from ansim.services.platform import Platform


def deadline_handlers(platform: Platform) -> dict[str, DeadlineHandler]:
    """All deadline kinds the running system knows, by kind name.

    Handlers share the commands' Platform and run in the scheduler's claim transaction (the session
    they are given), so claim, effect and "fired" commit together.
    """
    from ansim.security import retention

    return {
        dispatch.ACK_DEADLINE: dispatch_flow.ack_timeout_handler(platform.ranker, platform.policy),
        verification.ANSWER_DEADLINE: verification.on_answer_deadline,
        terminals.HEARTBEAT_KIND: terminals.on_heartbeat_overdue,
        retention.SWEEP_KIND: retention.sweep_handler,
        probe.PROBE: probe.fire_probe,
    }
