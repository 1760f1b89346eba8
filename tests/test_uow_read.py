"""Read sessions: objects readable after the block; on PostgreSQL read only, ended by COMMIT (issue 15)."""

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from tests.factories import build_world

from ansim.services import dispatch
from ansim.store.db import make_engine, make_session_factory
from ansim.store.tables import units
from ansim.store.uow import UnitOfWork

# psycopg prepares a statement on its 5th run on one connection (prepare_threshold).
PREPARE_THRESHOLD = 5


def call_sign(engine: Engine, unit_id: str) -> str:
    with engine.connect() as conn:
        return str(
            conn.execute(sa.select(units.c.call_sign).where(units.c.id == unit_id)).scalar_one()
        )


def test_objects_loaded_in_a_read_session_stay_readable_after_it(engine: Engine) -> None:
    world = build_world(engine)
    uow = UnitOfWork(make_session_factory(engine))
    unit_id = world.unit_ids["태평로11"]
    with uow.read() as session:
        unit = dispatch.get_unit(session, unit_id=unit_id)
    assert (unit.id, unit.call_sign) == (unit_id, "태평로11")
    assert unit.status is not None


def test_a_read_block_that_raises_leaves_the_store_usable(engine: Engine) -> None:
    world = build_world(engine)
    uow = UnitOfWork(make_session_factory(engine))
    unit_id = world.unit_ids["태평로11"]
    with pytest.raises(LookupError), uow.read() as session:
        dispatch.get_unit(session, unit_id=unit_id)
        raise LookupError("the caller's own error")
    with uow.begin() as session:
        dispatch.get_unit(session, unit_id=unit_id).call_sign = "태평로12"
    assert call_sign(engine, unit_id) == "태평로12"


# Read-only transactions and kept prepared statements are PostgreSQL's (SQLite reads are unchanged).
on_postgres_only = pytest.mark.parametrize(
    "database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)


@pytest.fixture
def one_connection(database_url: str) -> Iterator[Engine]:
    """Every session on the same server connection, so what it keeps between sessions shows."""
    engine = make_engine(database_url, pool_size=1, max_overflow=0)
    yield engine
    engine.dispose()


@on_postgres_only
def test_a_write_inside_a_read_session_fails_on_postgres(one_connection: Engine) -> None:
    world = build_world(one_connection)
    uow = UnitOfWork(make_session_factory(one_connection))
    unit_id = world.unit_ids["태평로11"]
    with pytest.raises(sa.exc.DBAPIError, match="read-only transaction"), uow.read() as session:
        session.execute(units.update().where(units.c.id == unit_id).values(call_sign="X1"))
    # An object changed in a read session is flushed at its COMMIT: refused too, not written.
    with pytest.raises(sa.exc.DBAPIError, match="read-only transaction"), uow.read() as session:
        dispatch.get_unit(session, unit_id=unit_id).call_sign = "X2"
    assert call_sign(one_connection, unit_id) == "태평로11"
    # The connection goes back to the pool writable: a writer on it commits.
    with uow.begin() as session:
        dispatch.get_unit(session, unit_id=unit_id).call_sign = "태평로12"
    assert call_sign(one_connection, unit_id) == "태평로12"


@on_postgres_only
def test_read_sessions_keep_the_connections_prepared_statements_on_postgres(
    one_connection: Engine,
) -> None:
    world = build_world(one_connection)
    uow = UnitOfWork(make_session_factory(one_connection))
    marker = sa.select(units.c.call_sign).where(
        units.c.id == sa.bindparam("unit_id"), sa.literal_column("'prepared-probe'") != ""
    )
    for _ in range(PREPARE_THRESHOLD + 1):
        with uow.read() as session:
            session.execute(marker, {"unit_id": world.unit_ids["태평로11"]}).scalar_one()
    with uow.read() as session:
        kept = session.execute(
            sa.text(
                "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE :probe"
                " AND statement NOT LIKE '%pg_prepared_statements%'"
            ),
            {"probe": "%prepared-probe%"},
        ).scalar_one()
        read_only = session.execute(sa.text("SHOW transaction_read_only")).scalar_one()
    assert kept == 1
    assert read_only == "on"
    # A writer's transaction on the same connection is not read only.
    with uow.begin() as session:
        assert session.execute(sa.text("SHOW transaction_read_only")).scalar_one() == "off"
