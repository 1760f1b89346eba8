"""Test fixtures: every test gets its own fresh, migrated database — SQLite always, PostgreSQL when it answers."""

from __future__ import annotations

import gc
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ansim.security import crypto
from ansim.services.staff import configure_password_hashing
from ansim.store.db import make_engine
from ansim.store.migrate import upgrade

# Browser fixtures (`chromium`, `page`) for every test module.
pytest_plugins = ["tests.live"]

POSTGRES_ADMIN_URL = os.environ.get(
    "ANSIM_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
# In CI a missing service is a failure, never a silent skip.
SERVICES_REQUIRED = (
    os.environ.get("CI", "").lower() == "true" or os.environ.get("ANSIM_REQUIRE_SERVICES") == "1"
)


# Real argon2, cheaper parameters: the suite hashes dozens of passwords.
configure_password_hashing(time_cost=1, memory_cost_kib=1024)
# Personal data is encrypted at rest: one random key per test run, for apps and factories alike.
os.environ.setdefault("ANSIM_DATA_KEY", crypto.new_key_text("test"))
crypto.install(crypto.Keyring.parse(os.environ["ANSIM_DATA_KEY"]))
# Outside demo the app refuses to start without these (issue 19): test values, set once for all.
os.environ.setdefault("ANSIM_ELS_HMAC_KEY", "test-els-gateway-key")
os.environ.setdefault("ANSIM_VERIFY_LINK_SECRET", "test guardian link key")
# The broker is shared with other test runs: a group of our own, so no other run's bridge takes
# (and refuses) the messages our terminals send.
os.environ.setdefault("ANSIM_MQTT_SHARE_GROUP", f"ansim-test-{uuid.uuid4().hex[:12]}")
# Logins in most tests use the password only; tests of the second factor switch it on.
os.environ.setdefault("ANSIM_REQUIRE_TOTP", "false")


def missing_service(reason: str) -> None:
    if SERVICES_REQUIRED:
        pytest.fail(f"{reason} (CI requires it)")
    pytest.skip(f"{reason}; start it to run these tests")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "ansim.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text("select 1"))
    except Exception as error:
        admin.dispose()
        missing_service(
            f"PostgreSQL is not answering at {POSTGRES_ADMIN_URL}: {type(error).__name__}"
        )
    name = f"ansim_tmpl_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    upgrade(_database_url(name))
    try:
        yield name
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _database_url(name: str) -> str:
    return sa.make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh migrated database for this test, on each backend."""
    if request.param == "sqlite":
        path = tmp_path / "ansim.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    template = request.getfixturevalue("postgres_template")
    name = f"ansim_t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    try:
        yield _database_url(name)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture(autouse=True)
def _collect_garbage_per_test() -> Iterator[None]:
    """Unclosed resources surface in the test that leaked them, not in a later one.

    Only what this test left behind is examined: what survived earlier tests is frozen out of
    the collector's view (a collection of the whole heap after every test cost ~0.2 s of CPU,
    minutes over the suite); the whole heap is collected at the end of each module.
    """
    yield
    gc.collect()
    gc.freeze()


@pytest.fixture(autouse=True, scope="module")
def _collect_all_garbage_per_module() -> Iterator[None]:
    """The module's own fixtures, and whatever became garbage among older objects, freed whole."""
    yield
    gc.unfreeze()
    gc.collect()
