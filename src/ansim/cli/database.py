"""`ansim db upgrade`: Alembic migrations are the only way the schema is made."""

from __future__ import annotations

import argparse

from ansim.settings import Settings
from ansim.store.migrate import upgrade


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    db = subparsers.add_parser("db", help="database schema")
    actions = db.add_subparsers(dest="action", required=True)
    up = actions.add_parser("upgrade", help="migrate the database to the newest schema")
    up.add_argument("--database-url", help="default: ANSIM_DATABASE_URL")
    up.set_defaults(func=run_upgrade)


def run_upgrade(args: argparse.Namespace) -> int:
    url = args.database_url or Settings().database_url
    upgrade(url)
    print(f"database at {_safe(url)} is up to date")
    return 0


def _safe(url: str) -> str:
    from sqlalchemy import make_url

    return make_url(url).render_as_string(hide_password=True)
