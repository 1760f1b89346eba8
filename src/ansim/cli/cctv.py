"""`ansim import cameras FILE` and `ansim cctv area USER GU`: the camera registry and operator areas."""

from __future__ import annotations

import argparse
import csv
import sys
from collections import Counter
from pathlib import Path

from ansim.domain.errors import DomainError


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = subparsers.add_parser("cctv", help="CCTV control center: operator areas")
    actions = command.add_subparsers(dest="action", required=True)
    area = actions.add_parser("area", help="give a cctv_operator account its district (자치구)")
    area.add_argument("username")
    area.add_argument("gu", help="e.g. 강남구 or Gangnam-gu")
    area.add_argument("--database-url", help="default: ANSIM_DATABASE_URL")
    area.set_defaults(func=run_area)


def register_import(kinds: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Adds `cameras` to `ansim import`."""
    cameras = kinds.add_parser(
        "cameras",
        help="import CCTV sites (전국CCTV표준데이터 or 서울시 안심이 CSV) into the camera registry",
    )
    cameras.add_argument("file", type=Path, nargs="?", help="CSV file (UTF-8 or CP949)")
    cameras.add_argument(
        "--bundled", action="store_true", help="import the bundled Seoul sites instead of a file"
    )
    cameras.add_argument("--rejects", type=Path, help="write every rejected row to this CSV")
    cameras.add_argument("--database-url", help="default: ANSIM_DATABASE_URL")
    cameras.add_argument("--quiet", action="store_true", help="no progress bar")
    cameras.set_defaults(func=run_import)


class ProgressBar:
    """A plain stderr bar: no dependency, and silent when stderr is not a terminal unless asked."""

    def __init__(self, label: str, *, enabled: bool) -> None:
        self.label, self.enabled = label, enabled

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        total = max(total, done, 1)
        filled = int(30 * done / total)
        sys.stderr.write(f"\r{self.label} [{'#' * filled}{'.' * (30 - filled)}] {done:,}/{total:,}")
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def run_import(args: argparse.Namespace) -> int:
    from ansim.cctv import importer
    from ansim.settings import Settings

    url = args.database_url or Settings().database_url
    bar = ProgressBar("reading", enabled=not args.quiet)
    try:
        if args.bundled:
            report = importer.import_bundled(database_url=url, progress=bar)
        elif args.file is None:
            print("name a CSV file or pass --bundled", file=sys.stderr)
            return 2
        else:
            report = importer.import_file(args.file, database_url=url, progress=bar)
    except (DomainError, OSError) as error:
        print(f"cannot import: {error}", file=sys.stderr)
        return 2
    print(
        f"{report.source} ({report.layout}): {report.read:,} rows read, "
        f"{report.inserted:,} sites added, {report.updated:,} updated, "
        f"{report.merged:,} rows merged into a site already read, {len(report.rejected):,} rejected"
    )
    reasons = Counter(r.kind for r in report.rejected)
    for reason, count in reasons.most_common():
        print(f"  rejected {count:>6,} × {reason}")
    for rejection in report.rejected[:10]:
        print(f"  line {rejection.line}: {rejection.reason} — {rejection.text[:80]}")
    if args.rejects and report.rejected:
        with args.rejects.open("w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow(["line", "kind", "reason", "row"])
            writer.writerows((r.line, r.kind, r.reason, r.text) for r in report.rejected)
        print(f"  all rejected rows: {args.rejects}")
    return 0


def run_area(args: argparse.Namespace) -> int:
    from ansim.api.context import utc_now
    from ansim.cctv import access
    from ansim.services import staff
    from ansim.services.center_maps import install_stored_districts
    from ansim.settings import Settings
    from ansim.store.db import make_engine, make_session_factory
    from ansim.store.uow import UnitOfWork

    engine = make_engine(args.database_url or Settings().database_url)
    try:
        uow = UnitOfWork(make_session_factory(engine))
        install_stored_districts(uow)  # the center's own districts, when it imported some
        with uow.begin() as session:
            user = staff.find_user(session, username=args.username)
            if user is None:
                print(f"no staff user {args.username}", file=sys.stderr)
                return 2
            gu = access.assign_area(session, user=user, gu=args.gu, actor="cli", at=utc_now())
    except DomainError as error:
        print(f"cannot assign: {error}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    print(f"{args.username} now watches {gu}")
    return 0
