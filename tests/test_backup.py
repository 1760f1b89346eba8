"""Backup → wipe → restore round-trips on both backends, and a restore refuses what is unsafe."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from tests.factories import build_world

from ansim.cli import main
from ansim.security import crypto
from ansim.store.backup import EVENT_ID_GAP, BackupError, read_metadata, restore
from ansim.store.tables import guardians, outbox


def _wipe(engine: Engine, database_url: str) -> None:
    engine.dispose()
    if database_url.startswith("sqlite"):
        path = Path(sa.make_url(database_url).database or "")
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()


def test_backup_wipe_restore_round_trips_with_the_audit_chain_verified(
    engine: Engine, database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    world = build_world(engine)
    db = ["--database-url", database_url]
    assert main(["admin", "revoke-sessions", "admin", *db]) == 0  # one audit entry to carry
    with engine.connect() as conn:
        phones = sorted(conn.execute(sa.select(guardians.c.phone)).scalars())
        last_event = conn.execute(sa.select(sa.func.max(outbox.c.id))).scalar_one() or 0
    archive = tmp_path / "center.backup"
    assert main(["backup", str(archive), *db]) == 0
    out = capsys.readouterr().out
    meta = read_metadata(archive)
    assert meta.schema_revision == _head_revision()
    assert meta.key_ids_used == [crypto.installed().current]  # the guardians' phones
    assert meta.audit_entries == 1
    assert meta.audit_head in out
    # Workers still connected: the restore refuses (PostgreSQL sees the connection, SQLite the file).
    holder = None
    if database_url.startswith("sqlite"):
        path = sa.make_url(database_url).database
        holder = subprocess.Popen(
            [
                sys.executable,
                "-c",
                f"import sqlite3,time; c=sqlite3.connect({path!r}); c.execute('select 1'); time.sleep(60)",
            ]
        )
    else:
        engine.connect().close()  # the pool keeps it open, as a running worker would
    try:
        import time

        time.sleep(0.5)
        with pytest.raises(BackupError, match="stop"):
            restore(database_url, archive, nats_reset=False)
    finally:
        if holder is not None:
            holder.kill()
            holder.wait()
    _wipe(engine, database_url)
    assert main(["restore", str(archive), *db]) == 0
    assert "audit chain verified" in capsys.readouterr().out
    assert main(["audit", "verify", *db]) == 0
    with engine.connect() as conn:
        assert sorted(conn.execute(sa.select(guardians.c.phone)).scalars()) == phones
        unpublished = conn.execute(
            sa.select(sa.func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
        ).scalar_one()
    assert unpublished == 0
    assert world.subscriber_id
    # New events continue after the gap: a reader that saw ids beyond the backup never skips them.
    from tests.factories import T0

    from ansim.services import app_accounts
    from ansim.store.db import make_session_factory
    from ansim.store.uow import UnitOfWork

    with UnitOfWork(make_session_factory(engine)).begin() as session:
        app_accounts.request_code(
            session, phone_number="+821055556666", client_id="after-restore", at=T0
        )
    with engine.connect() as conn:
        newest = conn.execute(sa.select(sa.func.max(outbox.c.id))).scalar_one()
    assert newest > last_event + EVENT_ID_GAP


def test_a_backup_under_a_key_that_is_not_configured_is_refused(
    engine: Engine, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build_world(engine)
    archive = tmp_path / "center.backup"
    assert main(["backup", str(archive), "--database-url", database_url]) == 0
    engine.dispose()
    other = crypto.Keyring.parse(crypto.new_key_text("other"))
    monkeypatch.setattr(crypto, "installed", lambda: other)
    with pytest.raises(BackupError, match="not configured"):
        restore(database_url, archive, nats_reset=False)
    damaged = tmp_path / "not-a-backup"
    damaged.write_bytes(b"nothing")
    assert main(["restore", str(damaged), "--database-url", database_url]) == 2


def _head_revision() -> str:
    """The schema revision a migrated database is at: the migrations' one head."""
    from alembic.script import ScriptDirectory

    from ansim.store.migrate import alembic_config

    (head,) = ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads()
    return str(head)
