"""Which background loops a process runs, by role: the embedded shape runs them all in one process."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from ansim.bus.jetstream import JetStreamFeed, JetStreamLink
from ansim.bus.lease import RELAY_LOCK, AdvisoryLease
from ansim.bus.memory import InProcessBus
from ansim.bus.relay import OutboxRelay
from ansim.bus.scheduler import DeadlineScheduler
from ansim.bus.tail import OutboxTail
from ansim.bus.wakeup import WakeListener, notify_hook
from ansim.security import audit
from ansim.store.uow import UnitOfWork


class ServeRole(StrEnum):
    API = "api"
    SCHEDULER = "scheduler"
    RELAY = "relay"
    NOTIFIER = "notifier"


class Loop(Protocol):
    """A background loop: runs until asked to stop."""

    async def run(self) -> None: ...

    def stop(self) -> None: ...


ALL_ROLES = frozenset(ServeRole)


def parse_roles(text: str) -> frozenset[ServeRole]:
    """`all`, or a comma-separated list such as `scheduler,relay`."""
    names = {part.strip() for part in text.split(",") if part.strip()}
    if names == {"all"}:
        return ALL_ROLES
    try:
        roles = frozenset(ServeRole(name) for name in names)
    except ValueError as error:
        raise ValueError(f"unknown role in {text!r}; use all or {', '.join(ServeRole)}") from error
    if not roles:
        raise ValueError("name at least one role")
    return roles


@dataclass
class Background:
    """The loops of one process: relay (to the bus or NATS), scheduler, and the worker's event feed."""

    roles: frozenset[ServeRole]
    relay: OutboxRelay
    scheduler: DeadlineScheduler
    link: JetStreamLink | None = None
    feed: JetStreamFeed | None = None
    tail: OutboxTail | None = None
    notifier: Loop | None = None
    listener: WakeListener | None = None
    _loops: list[asyncio.Task[None]] = field(default_factory=list)
    _extras: list[asyncio.Task[None]] = field(default_factory=list)

    def start(self, extras: list[Coroutine[Any, Any, None]]) -> None:
        loops: list[Coroutine[Any, Any, None]] = []
        if ServeRole.RELAY in self.roles:
            loops.append(self.relay.run())
        if ServeRole.SCHEDULER in self.roles:
            loops.append(self.scheduler.run())
        if self.notifier is not None and ServeRole.NOTIFIER in self.roles:
            loops.append(self.notifier.run())
        if self.feed is not None:
            loops.append(self.feed.run())
        if self.tail is not None:
            loops.append(self.tail.run())
        if self.listener is not None:
            loops.append(self.listener.run())
        self._loops = [asyncio.create_task(loop) for loop in loops]
        self._extras = [asyncio.create_task(extra) for extra in extras]

    async def stop(self) -> None:
        """Cancels the extras; asks each loop to finish its current step (no thread keeps a connection)."""
        for extra in self._extras:
            extra.cancel()
        self.relay.stop()
        self.scheduler.stop()
        if self.notifier is not None:
            self.notifier.stop()
        if self.feed is not None:
            self.feed.stop()
        if self.tail is not None:
            self.tail.stop()
        if self.listener is not None:
            self.listener.stop()
        for task in [*self._loops, *self._extras]:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.link is not None:
            await self.link.close()


def build_background(
    *,
    roles: frozenset[ServeRole],
    engine: Engine,
    session_factory: sessionmaker[Session],
    uow: UnitOfWork,
    bus: InProcessBus,
    scheduler: DeadlineScheduler,
    nats_url: str,
    outbox_poll_s: float,
    notifier: Loop | None = None,
) -> Background:
    """Wires the loops for `roles`: NATS when `nats_url` is set; else in-process (or tail the outbox)."""
    postgres = engine.dialect.name == "postgresql"
    link = JetStreamLink(nats_url) if nats_url else None
    relay_uow = UnitOfWork(session_factory)
    relay = OutboxRelay(
        relay_uow,
        link or bus,
        poll_s=outbox_poll_s,
        lease=AdvisoryLease(engine, RELAY_LOCK) if postgres else None,
        # Audit entries a request's own sealing left behind (another sealer was at work) are
        # chained here within a poll.
        housekeeping=(lambda: audit.seal_all(relay_uow)) if postgres else None,
    )
    background = Background(
        roles=roles, relay=relay, scheduler=scheduler, link=link, notifier=notifier
    )
    if ServeRole.API in roles:
        if link is not None:
            background.feed = JetStreamFeed(link, bus)
        elif ServeRole.RELAY not in roles:
            background.tail = OutboxTail(uow, bus, poll_s=outbox_poll_s)
    if postgres:
        # Other processes' commits wake this one's relay and tail (NOTIFY after commit, LISTEN).
        uow.add_after_commit(notify_hook(engine))
        hooks = [relay.wake_threadsafe()] if ServeRole.RELAY in roles else []
        if background.tail is not None:
            hooks.append(background.tail.wake_threadsafe())
            # The listener drops this process's own notifications: its commits wake it directly.
            uow.add_after_commit(background.tail.wake_threadsafe())
        if hooks:
            background.listener = WakeListener(engine, hooks)
    return background
