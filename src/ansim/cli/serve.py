"""`ansim serve` runs the platform; `ansim demo` runs it on a fresh embedded database with demo data."""

from __future__ import annotations

import argparse
import logging
import os
import shutil
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI

from ansim.api.app import create_app
from ansim.api.context import utc_now
from ansim.bus.runtime import ALL_ROLES, parse_roles
from ansim.cli.logs import configure_logging
from ansim.security import crypto, secrets
from ansim.settings import Settings
from ansim.store.db import make_engine, make_session_factory
from ansim.store.migrate import upgrade
from ansim.store.uow import UnitOfWork

# Passes the roles to `--workers` children, which build their app from the environment.
ROLES_ENV = "ANSIM_SERVE_ROLES"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = subparsers.add_parser("serve", help="run the API and web pages")
    _server_options(serve)
    serve.add_argument("--no-migrate", action="store_true", help="do not run migrations at start")
    serve.add_argument(
        "--role",
        default="all",
        help="all (one process, the embedded shape), or a comma list of: api, scheduler, relay",
    )
    serve.add_argument(
        "--workers", type=int, default=1, help="API worker processes on this port (PostgreSQL only)"
    )
    serve.add_argument("--access-log", action="store_true", help="log every HTTP request")
    serve.set_defaults(func=run_serve)
    demo = subparsers.add_parser(
        "demo", help="fresh SQLite demo with real Seoul data and a trickle of drill SOS"
    )
    _server_options(demo)
    demo.add_argument("--data-dir", type=Path, default=Path("var/demo"))
    demo.add_argument(
        "--sos-every", type=float, default=20.0, help="mean seconds between demo SOS (0: none)"
    )
    demo.set_defaults(func=run_demo)


def _server_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)


def run_serve(args: argparse.Namespace) -> int:
    settings = Settings()
    roles = parse_roles(args.role)
    label = ",".join(sorted(roles)) if roles != ALL_ROLES else "all"
    configure_logging(settings.log_format, role=label, port=str(args.port))
    if args.workers > 1 and settings.database_url.startswith("sqlite"):
        raise SystemExit(
            "several workers need PostgreSQL (ANSIM_DATABASE_URL=postgresql+psycopg://...)"
        )
    if not args.no_migrate:
        upgrade(settings.database_url)
    options: dict[str, Any] = {
        "host": args.host,
        "port": args.port,
        "log_config": None,
        "access_log": args.access_log,
        "timeout_graceful_shutdown": 5,
    }
    if args.workers > 1:
        os.environ[ROLES_ENV] = args.role
        uvicorn.run(
            "ansim.cli.serve:app_from_environment", factory=True, workers=args.workers, **options
        )
    else:
        uvicorn.run(create_app(settings, roles=roles), **options)
    return 0


def app_from_environment() -> FastAPI:
    """The app of one `--workers` child: settings and roles from the environment."""
    settings = Settings()
    configure_logging(settings.log_format, role=os.environ.get(ROLES_ENV, "all"))
    return create_app(settings, roles=parse_roles(os.environ.get(ROLES_ENV, "all")))


def run_demo(args: argparse.Namespace) -> int:
    from ansim.sim.demo_seed import DEMO_PASSWORD, seed
    from ansim.sim.demo_traffic import demo_traffic

    data_dir: Path = args.data_dir
    if data_dir.exists():
        shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True)
    url = f"sqlite:///{data_dir / 'ansim.db'}"
    upgrade(url)
    settings = Settings(database_url=url, demo=True, data_dir=data_dir)
    engine = make_engine(url)
    crypto.install(secrets.check(settings))  # the seed writes encrypted personal data
    world = seed(UnitOfWork(make_session_factory(engine)), at=utc_now())
    print(demo_banner(world, args.host, args.port, DEMO_PASSWORD))
    tasks = [demo_traffic(world, every_s=args.sos_every)] if args.sos_every > 0 else []
    logging.basicConfig(level=logging.INFO)
    uvicorn.run(
        create_app(settings, engine=engine, extra_tasks=tasks),
        host=args.host,
        port=args.port,
        log_level="warning",
    )
    return 0


def demo_banner(world: object, host: str, port: int, password: str) -> str:
    from ansim.sim.demo_seed import DemoWorld

    assert isinstance(world, DemoWorld)
    accounts = "\n".join(
        f"    {name:<12} {role.value:<14} password: {password}" for name, role in world.accounts
    )
    return (
        f"\nansim demo — 112 situation board at http://{host}:{port}/board\n"
        f"  {len(world.stations)} real police stations/boxes, {len(world.units)} patrol units, "
        f"{len(world.subscribers)} fictional pupils at real schools (central Seoul)\n"
        f"  accounts / 계정:\n{accounts}\n"
        "  Data: © OpenStreetMap contributors (ODbL); Korean public data (서울특별시, 경찰청, 교육부 via 공공데이터포털)\n"
    )
