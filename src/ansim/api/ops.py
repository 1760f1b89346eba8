"""Liveness, readiness and metrics for load balancers and Prometheus; every role serves these.

/metrics and /openapi.json tell an attacker what runs and how busy it is, so they answer only the
operations networks (settings.operations_networks, loopback by default) or an admin session.
"""

from __future__ import annotations

import asyncio
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool

from ansim.api.auth import authenticated_staff, client_ip, session_token, within_networks
from ansim.api.context import AppContext
from ansim.api.metrics import Metrics
from ansim.bus.runtime import Background
from ansim.domain.staff import Role
from ansim.intake.mqtt import BridgeHealth

router = APIRouter(tags=["operations"])
# A readiness probe must answer quickly even when the database hangs.
CHECK_TIMEOUT_S = 2.0


@router.get("/healthz", operation_id="ops_health", include_in_schema=False)
async def health(request: Request) -> dict[str, Any]:
    """The process is up and its event loop answers."""
    background: Background = request.app.state.background
    return {"status": "ok", "roles": sorted(background.roles)}


@router.get("/readyz", operation_id="ops_ready", include_in_schema=False)
async def ready(request: Request) -> JSONResponse:
    """200 when the database (and the broker, when configured) answer; 503 takes it out of rotation."""
    context: AppContext = request.app.state.context
    background: Background = request.app.state.background
    checks = {"database": await _database_check(context)}
    if background.link is not None:
        checks["broker"] = "ok" if background.link.connected else "unreachable"
    bridge: BridgeHealth | None = getattr(request.app.state, "terminal_bridge", None)
    if bridge is not None:
        # Terminals' SOS come over it: a bridge dead or off its broker takes the worker out.
        checks["terminal_mqtt"] = "ok" if bridge.ready() else "down"
    ready = all(state == "ok" for state in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "unavailable", "checks": checks},
        status_code=200 if ready else 503,
        headers={} if ready else {"Retry-After": "2"},
    )


def operations_caller(request: Request) -> None:
    """Admits the operations networks, or anyone else with an admin session; 403 otherwise."""
    context: AppContext = request.app.state.context
    if within_networks(client_ip(request), context.settings.operations_network_list()):
        return
    if session_token(request)[0] and authenticated_staff(request).role == Role.ADMIN:
        return
    raise HTTPException(
        403, "only the operations networks (ANSIM_OPERATIONS_NETWORKS) or an admin may read this"
    )


OperationsCaller = Depends(operations_caller)


@router.get(
    "/metrics", operation_id="ops_metrics", include_in_schema=False, dependencies=[OperationsCaller]
)
async def metrics(request: Request) -> Response:
    """Prometheus text exposition."""
    registry = request.app.state.metrics
    assert isinstance(registry, Metrics)
    body = await run_in_threadpool(generate_latest, registry.registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


@router.get(
    "/openapi.json",
    operation_id="ops_openapi",
    include_in_schema=False,
    dependencies=[OperationsCaller],
)
async def openapi(request: Request) -> JSONResponse:
    """The API description (the docs page and the benchmarks' readiness probe read it)."""
    return JSONResponse(request.app.openapi())


async def _database_check(context: AppContext) -> str:
    def probe() -> None:
        with context.engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))

    try:
        await asyncio.wait_for(run_in_threadpool(probe), timeout=CHECK_TIMEOUT_S)
    except TimeoutError:
        return "timeout"
    except sa.exc.SQLAlchemyError:
        return "unreachable"
    return "ok"
