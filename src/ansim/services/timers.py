"""Which command fires each kind of durable deadline; each capability registers its kinds here.

Each deadline command runs in the scheduler's claim transaction (`session=`), so claim, effect
and "fired" commit together and a deadline fires once; a deadline a person overtook does nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from sqlalchemy.orm import Session

from ansim.bus import probe
from ansim.bus.scheduler import DeadlineHandler
from ansim.domain.dispatch_policy import DISPATCH_RETRY_DEADLINE
from ansim.services import dispatch, dispatch_flow, lifecycle, relocation, terminals, verification
from ansim.services.platform import Platform
from ansim.store.deadlines import Deadline


class DeadlineCommand(Protocol):
    """A `do_fire_*` command: it takes the deadline, the scheduler's time and its claim session."""

    def __call__(
        self, platform: Platform, *, deadline: Deadline, at: datetime, session: Session | None
    ) -> None: ...


def deadline_handlers(platform: Platform) -> dict[str, DeadlineHandler]:
    """All deadline kinds the running system knows, by kind name."""
    from ansim.security import retention

    def command(fire: DeadlineCommand) -> DeadlineHandler:
        def handle(session: Session, deadline: Deadline, now: datetime) -> None:
            fire(platform, deadline=deadline, at=now, session=session)

        return handle

    return {
        dispatch.ACK_DEADLINE: command(dispatch_flow.do_fire_ack_deadline),
        verification.ANSWER_DEADLINE: command(verification.do_fire_answer_deadline),
        DISPATCH_RETRY_DEADLINE: command(lifecycle.do_retry_dispatch),
        terminals.HEARTBEAT_KIND: command(terminals.do_fire_heartbeat_deadline),
        retention.SWEEP_KIND: retention.sweep_handler,
        probe.PROBE: probe.fire_probe,
        relocation.RELOCATE_KIND: relocation.on_relocate_deadline(platform),
    }
