"""Backup and restore of a center's database, with the metadata that makes a restore safe.

A backup is one tar file: `metadata.json` and the dump (`database.sqlite` from SQLite's online
backup API, or `database.pgdump` from pg_dump's custom format). The metadata names the schema
revision, the data key ids the encrypted columns use, the audit chain's head and the dump's SHA-256,
so a restore can refuse what it could not read and prove that what it restored is what was saved.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from ansim.security import audit, crypto
from ansim.store.db import make_engine, make_session_factory
from ansim.store.tables import metadata as schema
from ansim.store.tables import outbox
from ansim.store.types import EncryptedFloat, EncryptedText, LookupText
from ansim.store.uow import UnitOfWork

FORMAT = "ansim-backup"
VERSION = 1
# After a restore, event ids continue after this gap: a board or stream reader that saw ids from
# before the restore (events the backup does not hold) never mistakes a new event for one it had.
EVENT_ID_GAP = 1_000_000


class BackupError(RuntimeError):
    """The backup cannot be made or restored; the message says why and what to do."""


@dataclass(frozen=True)
class BackupMetadata:
    format: str
    version: int
    created_at: str
    backend: str
    dump: str
    dump_sha256: str
    schema_revision: str
    key_ids_used: list[str]
    key_ids_configured: list[str]
    audit_entries: int
    audit_head: str


def _backend(url: str) -> str:
    name = make_url(url).get_backend_name()
    if name not in ("sqlite", "postgresql"):
        raise BackupError(f"backups support SQLite and PostgreSQL, not {name}")
    return name


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up")
    return Path(database)


def _libpq_url(url: str) -> str:
    """The URL pg_dump and pg_restore understand (no driver suffix; the password goes apart)."""
    return (
        make_url(url)
        .set(drivername="postgresql", password=None)
        .render_as_string(hide_password=False)
    )


def describe(engine: Engine) -> dict[str, Any]:
    """Schema revision, data key ids in use, and the audit head of the database behind `engine`."""
    with engine.connect() as conn:
        revision = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one()
        used: set[str] = set()
        for table in schema.sorted_tables:
            for column in table.columns:
                if not isinstance(column.type, EncryptedText | LookupText | EncryptedFloat):
                    continue
                # "ae1:<key id>:…": the key id is the text between the prefix and the next colon.
                # type_coerce: compare the stored text itself, not an encrypted form of the pattern.
                raw = sa.type_coerce(column, sa.Text)
                head = sa.func.substr(raw, len(crypto.PREFIX) + 1, 17)
                for (value,) in conn.execute(
                    sa.select(head).where(raw.like(f"{crypto.PREFIX}%")).distinct()
                ):
                    used.add(str(value).partition(":")[0])
    uow = UnitOfWork(make_session_factory(engine))
    # Entries of ended transactions still waiting for the sealer (PostgreSQL) join the chain first.
    audit.seal_all(uow)
    with uow.read() as session:
        last_id, last_hash = audit.head(session)
        count = session.execute(sa.text("SELECT count(*) FROM audit_log")).scalar_one()
    return {
        "schema_revision": str(revision),
        "key_ids_used": sorted(used),
        "audit_entries": int(count),
        "audit_head": f"{last_id}:{last_hash}",
    }


def backup(database_url: str, target: Path) -> BackupMetadata:
    """Writes a consistent backup of the database to `target` (a tar file)."""
    backend = _backend(database_url)
    engine = make_engine(database_url)
    try:
        with tempfile.TemporaryDirectory(prefix="ansim-backup-") as scratch:
            dump = Path(scratch) / ("database.sqlite" if backend == "sqlite" else "database.pgdump")
            if backend == "sqlite":
                _sqlite_backup(_sqlite_path(database_url), dump)
                copy = make_engine(f"sqlite:///{dump}")
                try:
                    facts = describe(copy)
                finally:
                    copy.dispose()
            else:
                _check_pg_client(engine, "pg_dump")
                # Read the facts first: a write between them and the dump shows up as an audit
                # head the restore does not find, never as a silent difference.
                facts = describe(engine)
                _run(
                    [
                        "pg_dump",
                        "--format=custom",
                        "--no-owner",
                        f"--file={dump}",
                        _libpq_url(database_url),
                    ],
                    database_url,
                )
            meta = BackupMetadata(
                format=FORMAT,
                version=VERSION,
                created_at=datetime.now(UTC).isoformat(),
                backend=backend,
                dump=dump.name,
                dump_sha256=_sha256(dump),
                key_ids_configured=sorted(crypto.installed().keys),
                **facts,
            )
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(target.name + ".partial")
            with tarfile.open(partial, "w") as archive:
                data = json.dumps(asdict(meta), indent=1).encode()
                info = tarfile.TarInfo("metadata.json")
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
                archive.add(dump, arcname=dump.name)
            os.replace(partial, target)
            return meta
    finally:
        engine.dispose()


def read_metadata(source: Path) -> BackupMetadata:
    try:
        with tarfile.open(source, "r") as archive:
            member = archive.extractfile("metadata.json")
            if member is None:
                raise BackupError(f"{source} has no metadata.json: not an ansim backup")
            raw = json.loads(member.read())
    except (tarfile.TarError, KeyError, ValueError) as error:
        raise BackupError(f"{source} is not an ansim backup: {error}") from None
    if raw.get("format") != FORMAT or raw.get("version") != VERSION:
        raise BackupError(f"{source} is not an ansim backup of version {VERSION}")
    return BackupMetadata(**raw)


def restore(database_url: str, source: Path, *, nats_reset: bool = True) -> BackupMetadata:
    """Replaces the database's contents with the backup, after every check; returns its metadata."""
    meta = read_metadata(source)
    backend = _backend(database_url)
    if backend != meta.backend:
        raise BackupError(f"the backup is of a {meta.backend} database, the target is {backend}")
    missing = sorted(set(meta.key_ids_used) - set(crypto.installed().keys))
    if missing:
        raise BackupError(
            f"the backup's data is encrypted under key id(s) {', '.join(missing)}, which are not "
            "configured: add them to ANSIM_DATA_KEY (or ANSIM_DATA_KEY_FILE) first"
        )
    engine = make_engine(database_url)
    try:
        check_workers_stopped(database_url, engine)
        with tempfile.TemporaryDirectory(prefix="ansim-restore-") as scratch:
            with tarfile.open(source, "r") as archive:
                archive.extract(meta.dump, scratch, filter="data")
            dump = Path(scratch) / meta.dump
            if _sha256(dump) != meta.dump_sha256:
                raise BackupError("the dump does not match its checksum: the backup is damaged")
            if backend == "sqlite":
                engine.dispose()
                with (
                    sqlite3.connect(dump) as src,
                    sqlite3.connect(_sqlite_path(database_url)) as dst,
                ):
                    src.backup(dst)
            else:
                _check_pg_client(engine, "pg_restore")
                engine.dispose()
                _run(
                    [
                        "pg_restore",
                        "--clean",
                        "--if-exists",
                        "--no-owner",
                        "--single-transaction",
                        f"--dbname={_libpq_url(database_url)}",
                        str(dump),
                    ],
                    database_url,
                )
        found = describe(engine)
        if found["schema_revision"] != meta.schema_revision:
            raise BackupError("the restored schema revision differs from the backup's")
        with UnitOfWork(make_session_factory(engine)).read() as session:
            _count, breaks = audit.verify(session)
        if breaks or found["audit_head"] != meta.audit_head:
            raise BackupError(
                "the restored audit chain does not verify or ends elsewhere than the backup said: "
                f"{[b.reason for b in breaks][:3]} head {found['audit_head']}"
            )
        _reset_event_readers(engine)
    finally:
        engine.dispose()
    if nats_reset:
        _purge_stream()
    return meta


def check_workers_stopped(database_url: str, engine: Engine) -> None:
    """Refuses while any other process uses the database (API, scheduler, relay, notifier)."""
    if _backend(database_url) == "postgresql":
        with engine.connect() as conn:
            others = conn.execute(
                sa.text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            ).scalar_one()
        if others:
            raise BackupError(
                f"{others} other connection(s) use this database: stop every ansim worker "
                "(API, scheduler, relay, notifier) before a restore"
            )
        return
    path = _sqlite_path(database_url).resolve()
    holders = _processes_holding(path)
    if holders:
        raise BackupError(
            f"process(es) {', '.join(map(str, holders))} have the database open: stop ansim first"
        )


def _processes_holding(path: Path) -> list[int]:
    """Other processes with `path` (or its WAL) open, from /proc (Linux); empty elsewhere."""
    names = {str(path), f"{path}-wal", f"{path}-shm"}
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        if int(entry.name) == os.getpid():
            continue
        try:
            if any(os.readlink(fd) in names for fd in (entry / "fd").iterdir()):
                found.append(int(entry.name))
        except OSError:
            continue
    return sorted(found)


def _reset_event_readers(engine: Engine) -> None:
    """Nothing from before the backup is re-sent, and new event ids follow a gap (EVENT_ID_GAP)."""
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(
            outbox.update().where(outbox.c.published_at.is_(None)).values(published_at=now)
        )
        last = conn.execute(sa.select(sa.func.max(outbox.c.id))).scalar_one() or 0
        marker = last + EVENT_ID_GAP
        conn.execute(
            outbox.insert().values(
                id=marker,
                type="ops.probe_fired",
                version=1,
                at=now,
                data={
                    "deadline_id": "restore",
                    "label": "database restored; event ids continue after a gap",
                    "due_at": now.isoformat(),
                    "fired_at": now.isoformat(),
                    "late_s": 0.0,
                },
                published_at=now,
            )
        )
        if engine.dialect.name == "postgresql":
            conn.execute(
                sa.text("SELECT setval(pg_get_serial_sequence('outbox', 'id'), :n)"), {"n": marker}
            )


def _purge_stream() -> None:
    """Empties the JetStream stream (when NATS is configured): its readers start from the restore."""
    from ansim.settings import Settings

    url = Settings().nats_url
    if not url:
        return
    import asyncio

    from ansim.bus.jetstream import STREAM

    async def purge() -> None:
        import nats

        client = await nats.connect(url, connect_timeout=5)
        try:
            try:
                await client.jetstream().purge_stream(STREAM)
            except Exception as error:  # no stream yet: nothing to reset
                if "not found" not in str(error).lower():
                    raise
        finally:
            await client.close()

    asyncio.run(purge())


def _sqlite_backup(source: Path, target: Path) -> None:
    if not source.exists():
        raise BackupError(f"no database at {source}")
    # The online backup API copies a consistent snapshot while the center keeps writing.
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)


def _check_pg_client(engine: Engine, tool: str) -> None:
    """pg_dump/pg_restore must be at least the server's major version."""
    if shutil.which(tool) is None:
        raise BackupError(
            f"{tool} is not installed (PostgreSQL client, at least the server's version)"
        )
    with engine.connect() as conn:
        server = int(conn.execute(sa.text("SHOW server_version_num")).scalar_one()) // 10000
    text = subprocess.run(  # noqa: S603 - a fixed argv, no shell
        [tool, "--version"], capture_output=True, text=True, check=True
    ).stdout
    match = re.search(r"(\d+)(?:\.\d+)?", text)
    client = int(match.group(1)) if match else 0
    if client < server:
        raise BackupError(f"{tool} {client} is older than the PostgreSQL server {server}")


def _run(argv: list[str], database_url: str) -> None:
    # The password goes in the environment, not the command line other users can list.
    env = {**os.environ}
    password = make_url(database_url).password
    if password:
        env["PGPASSWORD"] = str(password)
    done = subprocess.run(  # noqa: S603 - argv built here, no shell
        argv, capture_output=True, text=True, timeout=timedelta(hours=2).seconds, env=env
    )
    if done.returncode != 0:
        # The URL may hold a password: say which tool failed and its own message only.
        raise BackupError(f"{argv[0]} failed: {done.stderr.strip()[:500]}")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
