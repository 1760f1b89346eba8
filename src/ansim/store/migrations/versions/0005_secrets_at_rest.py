"""signing secrets and handset, OTP and school-guard personal data encrypted at rest

Carrier and terminal secrets, AML/ELS handset fixes (number, IMEI, coordinates), OTP challenge
numbers and their queued code messages, and school guards' names and numbers were stored in clear: a database dump let anyone forge
SOS or terminal messages. Existing rows are encrypted with the data key (ANSIM_DATA_KEY or
ANSIM_DATA_KEY_FILE; needed when any such row exists); numbers and IMEIs as keyed lookups, so AML
and ELS still find their call.

Revision ID: 0005_secrets_at_rest
Revises: 0004_location_tracks
Create Date: 2026-12-05 01:20:00.000000
"""

from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from ansim.security import crypto

revision: str = "0005_secrets_at_rest"
down_revision: str | None = "0004_location_tracks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table: (key column, [(column, old type, lookup)])
_COLUMNS: dict[str, tuple[str, list[tuple[str, Any, bool]]]] = {
    "carriers": ("id", [("secret", sa.String(200), False)]),
    "terminals": ("id", [("secret", sa.String(200), False)]),
    "school_guards": (
        "id",
        [("name", sa.String(200), False), ("phone", sa.String(32), False)],
    ),
    "otp_challenges": ("id", [("phone_number", sa.String(32), True)]),
    "sms_outbox": ("id", [("to_number", sa.String(32), False), ("body", sa.Text(), False)]),
    "handset_fixes": (
        "id",
        [
            ("caller_number", sa.String(32), True),
            ("imei", sa.String(20), True),
            ("lat", sa.Float(), False),
            ("lon", sa.Float(), False),
        ],
    ),
}


def upgrade() -> None:
    for table, (_key, columns) in _COLUMNS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name, old, _lookup in columns:
                batch_op.alter_column(
                    name, existing_type=old, type_=sa.Text(), postgresql_using=f"{name}::text"
                )
    _rewrite(lambda keyring, value, lookup: keyring.encrypt(value, lookup=lookup))


def downgrade() -> None:
    _rewrite(lambda keyring, value, _lookup: keyring.decrypt(value))
    for table, (_key, columns) in _COLUMNS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name, old, _lookup in columns:
                using = f"{name}::double precision" if isinstance(old, sa.Float) else None
                batch_op.alter_column(
                    name, existing_type=sa.Text(), type_=old, postgresql_using=using
                )


def _rewrite(change: Callable[[crypto.Keyring, str, bool], str]) -> None:
    bind = op.get_bind()
    keyring: crypto.Keyring | None = None
    for table, (key, columns) in _COLUMNS.items():
        names = [name for name, _old, _lookup in columns]
        handle = sa.table(table, sa.column(key), *(sa.column(n, sa.Text) for n in names))
        for row in bind.execute(sa.select(handle)).mappings().all():
            values: dict[str, str] = {}
            for name, _old, lookup in columns:
                stored = row[name]
                if stored is None:
                    continue
                keyring = keyring or _keyring()
                text = stored if isinstance(stored, str) else repr(float(stored))
                values[name] = change(keyring, text, lookup)
            if values:
                bind.execute(handle.update().where(handle.c[key] == row[key]).values(values))


def _keyring() -> crypto.Keyring:
    """The process's data keys, else the configured ones (`ansim db upgrade` installs none)."""
    try:
        return crypto.installed()
    except crypto.DataKeyError:
        from ansim.security.secrets import keyring_for
        from ansim.settings import Settings

        return keyring_for(Settings())
