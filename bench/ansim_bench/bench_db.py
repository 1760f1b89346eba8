"""Scratch databases for benchmarks: a temporary SQLite file or a fresh PostgreSQL database."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from ansim.security import crypto, secrets
from ansim.settings import Settings
from ansim.store.migrate import upgrade

POSTGRES_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def demo_keys() -> None:
    """Installs the data keys a demo server would use (the bench writes the demo world in-process)."""
    crypto.install(secrets.check(Settings(demo=True)))


@contextmanager
def scratch_database(backend: str) -> Iterator[str]:
    """A migrated, empty database of `backend` ("sqlite" or "postgres"), dropped afterwards."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="ansim-bench-") as scratch:
            url = f"sqlite:///{scratch}/bench.db"
            upgrade(url)
            yield url
        return
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"ansim_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
