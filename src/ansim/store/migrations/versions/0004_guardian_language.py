"""guardians choose the language of their messages

Existing guardians get the language their phone number suggested until now (Korean for +82 / 0…
numbers, English otherwise). Phone numbers are encrypted: reading them needs the data key
(ANSIM_DATA_KEY or ANSIM_DATA_KEY_FILE) when any guardian is stored.

Revision ID: 0004_guardian_language
Revises: 0003_security
Create Date: 2026-11-30 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from ansim.domain.deliveries import language_for_phone
from ansim.security import crypto

revision: str = "0004_guardian_language"
down_revision: str | None = "0003_security"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_guardians = sa.table(
    "guardians", sa.column("id", sa.String), sa.column("phone", sa.Text), sa.column("language")
)


def upgrade() -> None:
    with op.batch_alter_table("guardians", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("language", sa.String(length=8), nullable=False, server_default="ko")
        )
    bind = op.get_bind()
    rows = bind.execute(sa.select(_guardians.c.id, _guardians.c.phone)).all()
    keyring = _keyring() if any(r.phone.startswith(crypto.PREFIX) for r in rows) else None
    for guardian_id, phone in rows:
        plain = keyring.decrypt(phone) if keyring is not None else phone
        if language_for_phone(plain) != "ko":
            bind.execute(
                _guardians.update()
                .where(_guardians.c.id == guardian_id)
                .values(language=language_for_phone(plain))
            )
    # New rows always name their language (the application derives it when none is chosen).
    with op.batch_alter_table("guardians", schema=None) as batch_op:
        batch_op.alter_column("language", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("guardians", schema=None) as batch_op:
        batch_op.drop_column("language")


def _keyring() -> crypto.Keyring:
    """The process's data keys, else the configured ones (`ansim db upgrade` installs none)."""
    try:
        return crypto.installed()
    except crypto.DataKeyError:
        from ansim.security.secrets import keyring_for
        from ansim.settings import Settings

        return keyring_for(Settings())
