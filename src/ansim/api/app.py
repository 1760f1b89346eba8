"""The app factory: engines, bus and relay are made here, never at import time."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import xstatic.pkg.leaflet as xstatic_leaflet
from fastapi import Depends, FastAPI
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from sqlalchemy.engine import Engine
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ansim.api import (
    app_account,
    app_installs,
    app_pages,
    audit_admin,
    basemap,
    carrier,
    cctv,
    console,
    demo_phone,
    dispatching,
    enrolment,
    errors,
    exports,
    fleet_admin,
    guardian_page,
    intake_app,
    location,
    notify_reports,
    ops,
    pages,
    relocation,
    revocation_admin,
    school_guards,
    sessions,
    staff_admin,
    stream,
    supervisor,
    terminal,
    totp_codes,
    unit_terminal,
    verification,
)
from ansim.api.auth import enforce_access
from ansim.api.context import AppContext, utc_now
from ansim.api.metrics import IntakeTiming, Metrics
from ansim.api.terminal_fast import TerminalMessages
from ansim.bus.memory import InProcessBus
from ansim.bus.runtime import ALL_ROLES, ServeRole, build_background
from ansim.bus.scheduler import DeadlineScheduler
from ansim.domain.deliveries import DeliveryChannel
from ansim.domain.dispatch_policy import DispatchPolicy
from ansim.intake.settings import IntakeSettings
from ansim.notify.channels import Sender
from ansim.notify.notifier import Notifier, senders_from
from ansim.security import crypto, secrets
from ansim.security.limits import BodyLimit
from ansim.services.center_maps import install_stored_districts
from ansim.services.data_retention import do_ensure_retention_sweep
from ansim.services.platform import Platform
from ansim.services.ranking import UnitRanker
from ansim.services.road_ranking import RoadRanker, default_ranker
from ansim.services.timers import deadline_handlers
from ansim.services.verification_config import VerificationConfig
from ansim.settings import Settings
from ansim.store.db import make_engine, make_session_factory
from ansim.store.uow import UnitOfWork

WEB = Path(__file__).resolve().parent.parent / "web"


def create_app(
    settings: Settings | None = None,
    *,
    engine: Engine | None = None,
    ranker: UnitRanker | None = None,
    clock: Callable[[], datetime] = utc_now,
    extra_tasks: Sequence[Callable[[AppContext], Coroutine[Any, Any, None]]] = (),
    roles: frozenset[ServeRole] = ALL_ROLES,
    senders: Mapping[DeliveryChannel, Sender] | None = None,
) -> FastAPI:
    """Builds the app; `extra_tasks` run beside the relay and scheduler (the live demo's simulation).

    `senders` replaces the message channels the settings configure (the simulation's phones).

    Units are ranked by road ETA on the bundled central-Seoul graph unless `ranker` says otherwise.

    `roles` picks the loops this process runs (all of them in the embedded shape); a process
    without the api role serves only /healthz, /readyz and /metrics.
    """
    settings = settings or Settings()
    # Refuses to start with missing or default keys outside demo mode (InsecureConfiguration).
    crypto.install(secrets.check(settings))
    policy = DispatchPolicy(
        ack_timeout_s=settings.ack_timeout_s,
        code0_extra_units=settings.code0_extra_units,
        overrides=settings.dispatch_rules,
        retry_s=settings.dispatch_retry_s,
        unit_rest_s=settings.unit_rest_s,
        order_within_s=settings.order_within_s,
    )
    engine = engine or make_engine(settings.database_url)
    session_factory = make_session_factory(engine)
    uow = UnitOfWork(session_factory)
    ranker = ranker or default_ranker(uow)
    # Jurisdiction and staff districts use the center's imported boundaries (`ansim import districts`).
    install_stored_districts(uow)
    bus = InProcessBus()
    verification_config = VerificationConfig.from_settings(
        settings.verification, terminal_notices=bool(settings.mqtt_url)
    )
    platform = Platform(
        uow=uow,
        ranker=ranker,
        policy=policy,
        verification=verification_config,
        merge_window=timedelta(seconds=settings.merge_window_s),
        auto_dispatch=settings.auto_dispatch,
        clock=clock,
    )
    # The scheduler claims deadlines in its own transactions; handlers run commands in them.
    scheduler = DeadlineScheduler(
        UnitOfWork(session_factory),
        deadline_handlers(platform),
        clock=clock,
        poll_s=settings.scheduler_poll_s,
    )
    notifier = Notifier(
        UnitOfWork(session_factory),
        senders if senders is not None else senders_from(settings),
        clock=clock,
        retry=verification_config.retry,
        poll_s=settings.verification.notifier_poll_s,
        lease=timedelta(seconds=settings.verification.notifier_lease_s),
    )
    uow.add_after_commit(notifier.wake_threadsafe())
    background = build_background(
        roles=roles,
        engine=engine,
        session_factory=session_factory,
        uow=uow,
        bus=bus,
        scheduler=scheduler,
        nats_url=settings.nats_url,
        outbox_poll_s=settings.outbox_poll_s,
        notifier=notifier,
    )
    relay = background.relay
    uow.add_after_commit(relay.wake_threadsafe())
    context = AppContext(
        settings=settings,
        engine=engine,
        bus=bus,
        relay=relay,
        scheduler=scheduler,
        platform=platform,
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if isinstance(ranker, RoadRanker):
            await run_in_threadpool(ranker.graph.warm)
        if ServeRole.SCHEDULER in roles:
            await run_in_threadpool(_ensure_retention_sweep, context)
        background.start([task(context) for task in extra_tasks])
        try:
            yield
        finally:
            await background.stop()

    app = FastAPI(
        title="ansim",
        summary="Silent-SOS and police dispatch platform · 무음 SOS·112 출동 플랫폼",
        version="0.1.0",
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,  # served by ops.openapi, for the operations networks and admins only
    )
    app.state.context = context
    # The terminal bridge and the notices to terminals use one broker setting.
    app.state.intake_settings = IntakeSettings(mqtt_url=settings.mqtt_url)
    app.state.background = background
    app.state.metrics = metrics = Metrics(
        uow, background, clock, order_within=timedelta(seconds=policy.order_within_s)
    )
    errors.install(app)
    app.include_router(ops.router, dependencies=[Depends(enforce_access)])
    if ServeRole.API in roles:
        for router in (
            intake_app.router,
            console.router,
            unit_terminal.router,
            location.router,
            relocation.router,
            dispatching.router,
            sessions.router,
            stream.router,
            basemap.router,
            supervisor.router,
            pages.router,
            cctv.router,
            verification.router,
            guardian_page.router,
            notify_reports.router,
            school_guards.router,
            carrier.router,
            app_account.router,
            app_pages.router,
            terminal.router,
            enrolment.router,
            enrolment.pages,
            exports.router,
            audit_admin.router,
            staff_admin.router,
            staff_admin.pages,
            fleet_admin.router,
            fleet_admin.pages,
            demo_phone.router,
            revocation_admin.router,
            app_installs.router,
            totp_codes.router,
        ):
            # Every route passes the role matrix (ansim.security.access) before its own dependencies.
            app.include_router(router, dependencies=[Depends(enforce_access)])
        app.mount("/static", StaticFiles(directory=WEB / "static"), name="static")
        app.mount(
            "/vendor/leaflet", StaticFiles(directory=xstatic_leaflet.BASE_DIR), name="leaflet"
        )
        app.mount(
            "/vendor/swagger-ui",
            StaticFiles(directory=WEB / "vendor" / "swagger-ui"),
            name="swagger-ui",
        )
    if ServeRole.API in roles:
        # Innermost: the terminals' messages skip the routing (api/terminal_fast.py says why).
        app.add_middleware(TerminalMessages, context=context)
    app.add_middleware(IntakeTiming, metrics=metrics)
    app.add_middleware(SecurityHeaders, policy=_content_policy(settings))
    app.add_middleware(GZipMiddleware, minimum_size=2048)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    return app


def _ensure_retention_sweep(context: AppContext) -> None:
    do_ensure_retention_sweep(
        context.platform, keep_for=timedelta(days=context.settings.retention_days)
    )


def _operation_id(route: APIRoute) -> str:
    # Routes name their operation ids explicitly; this keeps any forgotten one stable too.
    return route.name


def _content_policy(settings: Settings) -> str:
    tiles = " ".join(_origin(settings.tile_url)) if settings.tile_url else ""
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; "
        f"img-src 'self' data: {tiles}".rstrip()
        + "; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    )


class SecurityHeaders:
    """Adds the content policy and hardening headers to every HTTP answer (plain ASGI, see IntakeTiming)."""

    def __init__(self, app: ASGIApp, policy: str) -> None:
        self._app = app
        self._headers = {
            "Content-Security-Policy": policy,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "X-Frame-Options": "DENY",
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self._headers.items():
                    headers.setdefault(name, value)
            await send(message)

        await self._app(scope, receive, send_with_headers)


def _origin(url: str) -> list[str]:
    scheme, _, rest = url.partition("://")
    host = rest.split("/", 1)[0].replace("{s}", "*")
    return [f"{scheme}://{host}"] if scheme and host else []
