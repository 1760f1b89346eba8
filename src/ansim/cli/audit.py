"""`ansim audit verify`: walks the hash chain of the audit log and reports altered or missing entries."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager

from ansim.security import audit
from ansim.settings import Settings
from ansim.store.db import make_engine, make_session_factory
from ansim.store.uow import UnitOfWork


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("audit", help="the tamper-evident audit log")
    actions = parser.add_subparsers(dest="action", required=True)
    verify = actions.add_parser(
        "verify", help="check every entry's hash and link; exit 1 on a break"
    )
    verify.add_argument("--database-url", help="default: ANSIM_DATABASE_URL")
    verify.add_argument(
        "--expect-head",
        metavar="ID:HASH",
        help="a head noted earlier (`ansim audit head`): detects entries cut from the end",
    )
    verify.set_defaults(func=run_verify)
    head = actions.add_parser("head", help="print the last entry's id and hash, to keep elsewhere")
    head.add_argument("--database-url", help="default: ANSIM_DATABASE_URL")
    head.set_defaults(func=run_head)


@contextmanager
def _uow(url: str | None) -> Iterator[UnitOfWork]:
    engine = make_engine(url or Settings().database_url)
    try:
        yield UnitOfWork(make_session_factory(engine))
    finally:
        engine.dispose()


def run_verify(args: argparse.Namespace) -> int:
    with _uow(args.database_url) as uow, uow.read() as session:
        count, breaks = audit.verify(session)
        last_id, last_hash = audit.head(session)
        if args.expect_head:
            noted_id, _, noted_hash = args.expect_head.partition(":")
            noted = next(
                (
                    e
                    for e in audit.entries(session, after_id=int(noted_id) - 1)
                    if e.id == int(noted_id)
                ),
                None,
            )
            if noted is None or noted.hash != noted_hash:
                breaks.append(audit.Break(int(noted_id), "the noted head is missing or changed"))
    for found in breaks:
        print(f"BROKEN at entry {found.entry_id}: {found.reason}")
    if breaks:
        print(f"audit log FAILED verification: {len(breaks)} problem(s) in {count} entries")
        return 1
    print(f"audit log intact: {count} entries, head {last_id}:{last_hash}")
    return 0


def run_head(args: argparse.Namespace) -> int:
    with _uow(args.database_url) as uow, uow.read() as session:
        last_id, last_hash = audit.head(session)
    print(f"{last_id}:{last_hash}")
    return 0
