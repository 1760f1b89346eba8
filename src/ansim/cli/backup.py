"""`ansim backup FILE` and `ansim restore FILE`: the center's database with its safety metadata."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    backup = subparsers.add_parser(
        "backup",
        help="back up the database (SQLite online backup, or pg_dump) with its metadata",
    )
    backup.add_argument("file", type=Path, help="the backup file to write (a tar archive)")
    backup.add_argument("--database-url", help="default: ANSIM_DATABASE_URL")
    backup.set_defaults(func=run_backup)
    restore = subparsers.add_parser(
        "restore",
        help="restore a backup (every ansim worker stopped; keys configured; audit chain checked)",
    )
    restore.add_argument("file", type=Path)
    restore.add_argument("--database-url", help="default: ANSIM_DATABASE_URL")
    restore.add_argument(
        "--show", action="store_true", help="only print the backup's metadata and check its keys"
    )
    restore.set_defaults(func=run_restore)


def _keys() -> str:
    from ansim.security import crypto, secrets
    from ansim.settings import Settings

    settings = Settings()
    try:
        crypto.install(secrets.keyring_for(settings))  # the data keys; serve checks the rest
    except secrets.InsecureConfiguration as error:
        raise SystemExit(f"ansim: {error}") from None
    return settings.database_url


def run_backup(args: argparse.Namespace) -> int:
    from ansim.store.backup import BackupError, backup

    url = args.database_url or _keys()
    if args.database_url:
        _keys()
    try:
        meta = backup(url, args.file)
    except (BackupError, OSError) as error:
        print(f"backup failed: {error}", file=sys.stderr)
        return 2
    print(
        f"backup {args.file}: {meta.backend}, schema {meta.schema_revision}, "
        f"data keys {', '.join(meta.key_ids_used) or 'none used'}, audit head {meta.audit_head}"
    )
    print("keep the data key(s) named here apart from the backup: without them it cannot be read")
    return 0


def run_restore(args: argparse.Namespace) -> int:
    from ansim.store.backup import BackupError, read_metadata, restore

    url = args.database_url or _keys()
    if args.database_url:
        _keys()
    try:
        if args.show:
            meta = read_metadata(args.file)
            print("\n".join(f"{k}: {v}" for k, v in meta.__dict__.items()))
            return 0
        meta = restore(url, args.file)
    except (BackupError, OSError) as error:
        print(f"restore refused: {error}", file=sys.stderr)
        return 2
    print(
        f"restored {args.file} (made {meta.created_at}): schema {meta.schema_revision}, "
        f"audit chain verified up to {meta.audit_head}; event readers reset"
    )
    return 0
