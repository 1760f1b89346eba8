"""Engines and sessions: SQLite (WAL, synchronous=FULL) by default, PostgreSQL when configured."""

from __future__ import annotations

import contextlib
import os
import threading
import weakref
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from ansim.store.tables import start_mappers

# SQLite engines' writer locks. SQLite's busy handler retries a locked database after sleeps of up
# to 100 ms, so under load a writer could wait seconds while the lock stood free; queued here, the
# process's writers take their turns at once (the busy handler still orders other processes).
_WRITERS: weakref.WeakKeyDictionary[Engine, threading.RLock] = weakref.WeakKeyDictionary()


def writer_turn(engine: Engine | None) -> contextlib.AbstractContextManager[object]:
    """Held around a write transaction: SQLite's writers in this process queue for their turn."""
    lock = _WRITERS.get(engine) if engine is not None else None
    return lock if lock is not None else contextlib.nullcontext()


def make_engine(url: str, **options: Any) -> Engine:
    """Creates the engine for `url`; SQLite gets the pragmas an SOS store needs."""
    start_mappers()
    if url.startswith("sqlite"):
        options.setdefault("connect_args", {"check_same_thread": False, "timeout": 30})
        engine = sa.create_engine(url, **options)
        event.listen(engine, "connect", _sqlite_pragmas)
        # pysqlite's own transaction handling defers BEGIN; we issue it so locks are taken up front.
        event.listen(engine, "begin", _sqlite_begin)
        _WRITERS[engine] = threading.RLock()
        return engine
    options.setdefault("pool_pre_ping", True)
    # An open transaction holds the outbox horizon back and freezes every board that resumes from
    # it: the server ends a session left idle inside a transaction (imports and purges go in chunks).
    idle_ms = int(os.environ.get("ANSIM_IDLE_IN_TRANSACTION_MS", "30000"))
    connect_args = options.setdefault("connect_args", {})
    connect_args.setdefault("options", f"-c idle_in_transaction_session_timeout={idle_ms}")
    return sa.create_engine(url, **options)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # FULL: an acknowledged SOS survives a power cut, not only a process crash.
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin(conn: sa.Connection) -> None:
    # Writers take the lock at BEGIN so two writers never deadlock on a read-to-write upgrade.
    immediate = conn.get_execution_options().get("sqlite_immediate", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)
