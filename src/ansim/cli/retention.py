"""`ansim retention purge`: removes location history and guardian answers past retention."""

from __future__ import annotations

import argparse
from datetime import timedelta

from ansim.api.context import utc_now
from ansim.security import crypto, retention, secrets
from ansim.settings import Settings
from ansim.store.db import make_engine, make_session_factory
from ansim.store.uow import UnitOfWork


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("retention", help="personal data retention")
    actions = parser.add_subparsers(dest="action", required=True)
    purge = actions.add_parser("purge", help="purge what is past retention now")
    purge.add_argument("--database-url", help="default: ANSIM_DATABASE_URL")
    purge.add_argument("--days", type=float, help="default: ANSIM_RETENTION_DAYS")
    purge.set_defaults(func=run_purge)


def run_purge(args: argparse.Namespace) -> int:
    settings = Settings()
    crypto.install(secrets.check(settings))
    engine = make_engine(args.database_url or settings.database_url)
    try:
        uow = UnitOfWork(make_session_factory(engine))
        days = args.days if args.days is not None else settings.retention_days
        with uow.begin() as session:
            report = retention.purge(session, now=utc_now(), keep_for=timedelta(days=days))
    finally:
        engine.dispose()
    print(f"purged {report.incidents} incident(s): {report.rows}")
    return 0
