"""`ansim keys new|rotate`: data keys for the personal data encrypted at rest."""

from __future__ import annotations

import argparse

from ansim.security import crypto, rotation, secrets
from ansim.settings import Settings
from ansim.store.db import make_engine, make_session_factory
from ansim.store.uow import UnitOfWork


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("keys", help="data encryption keys")
    actions = parser.add_subparsers(dest="action", required=True)
    new = actions.add_parser("new", help="print a fresh key as `id:base64`")
    new.add_argument("key_id", help="a short name, e.g. 2026a")
    new.set_defaults(func=run_new)
    rotate = actions.add_parser(
        "rotate",
        help="re-encrypt every personal field under the first configured key "
        "(put the new key first in ANSIM_DATA_KEY, keep the old ones after it, run this, "
        "then drop the old ones)",
    )
    rotate.add_argument("--database-url", help="default: ANSIM_DATABASE_URL")
    rotate.set_defaults(func=run_rotate)


def run_new(args: argparse.Namespace) -> int:
    print(crypto.new_key_text(args.key_id))
    return 0


def run_rotate(args: argparse.Namespace) -> int:
    settings = Settings()
    keyring = secrets.check(settings)
    crypto.install(keyring)
    engine = make_engine(args.database_url or settings.database_url)
    try:
        uow = UnitOfWork(make_session_factory(engine))
        with uow.begin() as session:
            report = rotation.rotate(session, keyring=keyring)
    finally:
        engine.dispose()
    print(
        f"re-encrypted {report.rewritten} value(s) under key {keyring.current}; "
        f"{report.already_current} were already under it"
    )
    return 0
