"""Security review (issue 19): signing secrets and the remaining personal data are encrypted at rest.

Each value is written through the services, then the raw database (the SQLite file, a PostgreSQL
dump) is searched for it in clear; the services must still read and match it.
"""

from __future__ import annotations

import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Engine
from tests.factories import T0, build_world

from ansim.domain.fixes import FixMethod, LocationFix
from ansim.security import retention
from ansim.services import app_accounts, carriers, handset, school_guards, terminals
from ansim.store.db import make_session_factory
from ansim.store.migrate import alembic_config, upgrade
from ansim.store.tables import carriers as carriers_table
from ansim.store.tables import handset_fixes
from ansim.store.uow import UnitOfWork

GUARD_NAME, GUARD_PHONE = "박지킴", "+821055501234"
CALLER, IMEI, OTP_NUMBER = "+821077712345", "356938035643809", "+821066654321"
LAT = 37.5712345


def _write_everything(engine: Engine) -> dict[str, str]:
    world = build_world(engine)
    uow = UnitOfWork(make_session_factory(engine))
    with uow.begin() as session:
        carrier_secret = carriers.register(session, carrier_id="kt", name="KT", at=T0)
        terminal_secret = terminals.enrol(
            session,
            terminal_id="UA-SECRET-1",
            subscriber_id=world.subscriber_id,
            reporting_interval_s=300,
            actor="admin",
            at=T0,
        )
        school_guards.create(
            session,
            school="서울덕수초등학교",
            name=GUARD_NAME,
            phone=GUARD_PHONE,
            duty_start="08:00",
            duty_end="17:00",
        )
        app_accounts.request_code(session, phone_number=OTP_NUMBER, client_id="c-1", at=T0)
        fix = LocationFix(LAT, 126.9781, 12.0, FixMethod.GNSS, T0, "els")
        handset.attach_or_keep(
            session, channel="els", caller_number=CALLER, imei=IMEI, fix=fix, received_at=T0
        )
    with uow.read() as session:
        # Services still see plain text and still match by number / IMEI.
        stored_secret = session.execute(
            sa.select(carriers_table.c.secret).where(carriers_table.c.id == "kt")
        ).scalar_one()
        assert stored_secret == carrier_secret
        assert terminals.get(session, terminal_id="UA-SECRET-1").secret == terminal_secret
        [guard] = school_guards.list_all(session, school="서울덕수초등학교")
        assert (guard.name, guard.phone) == (GUARD_NAME, GUARD_PHONE)
        found = session.execute(
            sa.select(handset_fixes.c.lat).where(
                handset_fixes.c.caller_number == CALLER, handset_fixes.c.imei == IMEI
            )
        ).scalar_one()
        assert found == pytest.approx(LAT)
    return {
        "carrier secret": carrier_secret,
        "terminal secret": terminal_secret,
        "school guard name": GUARD_NAME,
        "school guard phone": GUARD_PHONE,
        "caller number": CALLER,
        "imei": IMEI,
        "otp number": OTP_NUMBER,
        "handset latitude": repr(LAT),
    }


def _raw(engine: Engine, database_url: str) -> bytes:
    if engine.dialect.name == "sqlite":
        engine.dispose()
        path = database_url.removeprefix("sqlite:///")
        files = [Path(path), Path(path + "-wal")]
        return b"".join(f.read_bytes() for f in files if f.exists())
    url = engine.url
    dumped = subprocess.run(
        [
            "pg_dump",
            "--data-only",
            "-h",
            url.host or "127.0.0.1",
            "-p",
            str(url.port or 5432),
            "-U",
            url.username or "postgres",
            url.database or "",
        ],
        check=True,
        capture_output=True,
        timeout=timedelta(minutes=1).total_seconds(),
    )
    return dumped.stdout


def test_finding_secrets_in_plaintext_at_rest(engine: Engine, database_url: str) -> None:
    written = _write_everything(engine)
    raw = _raw(engine, database_url)
    for what, value in written.items():
        for encoding in ("utf-8", "utf-16-le"):
            assert value.encode(encoding) not in raw, f"the {what} is stored in clear"


def test_the_migration_encrypts_rows_stored_in_clear_and_goes_back(
    engine: Engine, database_url: str
) -> None:
    """Rows written before 0005 (in clear) are encrypted by the upgrade and readable after it."""
    command.downgrade(alembic_config(database_url), "0004_location_tracks")
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO carriers (id, name, secret, created_at, disabled) "
                "VALUES ('lg', 'LG U+', 'old-carrier-secret', :at, false)"
            ),
            {"at": T0.replace(tzinfo=None)},
        )
        connection.execute(
            sa.text(
                "INSERT INTO handset_fixes (channel, caller_number, imei, lat, lon, radius_m, "
                "method, observed_at, received_at, source) VALUES ('aml', :number, :imei, "
                ":lat, 126.97, 20, 'gnss', :at, :at, 'aml')"
            ),
            {"number": CALLER, "imei": IMEI, "lat": LAT, "at": T0.replace(tzinfo=None)},
        )
    upgrade(database_url)
    raw_secret = _one(engine, "SELECT secret FROM carriers WHERE id = 'lg'")
    assert raw_secret != "old-carrier-secret"
    with UnitOfWork(make_session_factory(engine)).read() as session:
        assert (
            session.execute(
                sa.select(carriers_table.c.secret).where(carriers_table.c.id == "lg")
            ).scalar_one()
            == "old-carrier-secret"
        )
        assert session.execute(
            sa.select(handset_fixes.c.lat).where(handset_fixes.c.caller_number == CALLER)
        ).scalar_one() == pytest.approx(LAT)
    command.downgrade(alembic_config(database_url), "0004_location_tracks")
    assert _one(engine, "SELECT secret FROM carriers WHERE id = 'lg'") == "old-carrier-secret"
    assert _one(engine, "SELECT caller_number FROM handset_fixes") == CALLER
    upgrade(database_url)


def _one(engine: Engine, query: str) -> object:
    with engine.connect() as connection:
        return connection.execute(sa.text(query)).scalar_one()


def test_finding_handset_fixes_are_purged_by_retention(engine: Engine) -> None:
    _write_everything(engine)
    uow = UnitOfWork(make_session_factory(engine))
    with uow.begin() as session:
        kept = retention.purge(session, now=T0 + timedelta(days=1), keep_for=timedelta(days=30))
        assert "handset_fixes" not in kept.rows
        gone = retention.purge(session, now=T0 + timedelta(days=31), keep_for=timedelta(days=30))
        assert gone.rows["handset_fixes"] == 1
    with uow.read() as session:
        assert session.execute(sa.select(sa.func.count()).select_from(handset_fixes)).scalar() == 0
