"""`ansim serve` runs the platform; `ansim demo` runs it on a fresh embedded database with demo data."""

from __future__ import annotations

import argparse
import logging
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI

from ansim.api.app import create_app
from ansim.bus.runtime import ALL_ROLES, parse_roles
from ansim.cli.logs import configure_logging
from ansim.settings import Settings
from ansim.store.db import make_engine
from ansim.store.migrate import upgrade

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
        "demo",
        help="fresh SQLite demo with real Seoul data and a live simulation of drill SOS and units",
    )
    _server_options(demo)
    demo.add_argument("--data-dir", type=Path, default=Path("var/demo"))
    demo.add_argument(
        "--rate",
        type=_at_least(0.0),
        default=None,
        help="drill SOS per simulated hour (default 60; 0: none, the cars only patrol)",
    )
    demo.add_argument(
        "--speed",
        type=_at_least(0.1),
        default=1.0,
        help="simulated seconds per real second (default 1; the board shows simulated time)",
    )
    demo.add_argument(
        "--scenario", type=Path, help="run this scenario YAML live instead (it starts now)"
    )
    demo.set_defaults(func=run_demo)


def _at_least(low: float) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not value >= low:
            raise argparse.ArgumentTypeError(f"must be at least {low:g}, not {text}")
        return value

    return parse


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
    from ansim.services.demo_world import DEMO_PASSWORD
    from ansim.settings import VerificationSettings
    from ansim.sim.live import demo_scenario, live_demo
    from ansim.sim.runner import throwaway_sqlite

    data_dir: Path = args.data_dir
    if data_dir.exists():
        shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True)
    url = f"sqlite:///{data_dir / 'ansim.db'}"
    upgrade(url)
    settings = Settings(
        database_url=url,
        demo=True,
        data_dir=data_dir,
        # Guardian links in the simulated text messages point at this server.
        verification=VerificationSettings(public_url=f"http://{args.host}:{args.port}"),
    )
    scenario = demo_scenario(rate=args.rate, path=args.scenario)
    # The demo database is thrown away at the next start: no fsync per commit.
    engine = throwaway_sqlite(make_engine(url))
    demo = live_demo(settings, engine, scenario=scenario, speed=args.speed)
    print(demo_banner(demo.world, args.host, args.port, DEMO_PASSWORD))
    print(
        f"  live simulation: {scenario.arrivals.per_hour:g} drill SOS per simulated hour at "
        f"{args.speed:g}x speed; every simulated incident is a drill (훈련)\n"
    )
    logging.basicConfig(level=logging.INFO)
    # A line per published event is noise at the rate of a live city.
    logging.getLogger("ansim.bus.relay").setLevel(logging.WARNING)
    try:
        uvicorn.run(demo.app, host=args.host, port=args.port, log_level="warning")
    finally:
        engine.dispose()
    return 0


def demo_banner(world: object, host: str, port: int, password: str) -> str:
    from ansim.services.demo_world import DemoWorld

    assert isinstance(world, DemoWorld)
    accounts = "\n".join(
        f"    {name:<12} {role.value:<14} password: {password}" for name, role in world.accounts
    )
    return (
        f"\nansim demo — 112 situation board at http://{host}:{port}/board\n"
        f"  {len(world.stations)} real police stations/boxes, {len(world.units)} patrol units, "
        f"{len(world.subscribers)} fictional pupils at real schools (central Seoul)\n"
        f"  accounts / 계정:\n{accounts}\n"
        f"  112 app registration codes / 앱 인증번호: http://{host}:{port}/demo/phone\n"
        "  Data: © OpenStreetMap contributors (ODbL); Korean public data (서울특별시, 경찰청, 교육부 via 공공데이터포털)\n"
    )
