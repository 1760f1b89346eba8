"""`ansim serve` runs the platform; `ansim demo` runs it on a fresh embedded database with demo data."""

from __future__ import annotations

import argparse
import logging
import shutil
from pathlib import Path

import uvicorn

from ansim.api.app import create_app
from ansim.api.context import utc_now
from ansim.security import crypto, secrets
from ansim.settings import Settings
from ansim.store.db import make_engine, make_session_factory
from ansim.store.migrate import upgrade
from ansim.store.uow import UnitOfWork


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = subparsers.add_parser("serve", help="run the API and web pages")
    _server_options(serve)
    serve.add_argument("--no-migrate", action="store_true", help="do not run migrations at start")
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
    if not args.no_migrate:
        upgrade(settings.database_url)
    logging.basicConfig(level=logging.INFO)
    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level="info")
    return 0


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
