"""Key rotation: rewrites every encrypted column under the current key (and encrypts legacy plain text)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ansim.security.crypto import Keyring
from ansim.store.tables import metadata
from ansim.store.types import EncryptedFloat, EncryptedText, LookupText


@dataclass(frozen=True)
class RotationReport:
    rewritten: int
    already_current: int


def encrypted_columns() -> Iterator[tuple[sa.Table, sa.Column[object], bool]]:
    """Every encrypted column of the schema, and whether it is a lookup column."""
    for table in metadata.sorted_tables:
        for column in table.columns:
            if isinstance(column.type, (EncryptedText, EncryptedFloat, LookupText)):
                yield table, column, isinstance(column.type, LookupText)


def rotate(session: Session, *, keyring: Keyring, batch: int = 500) -> RotationReport:
    """Re-encrypts each value not under the current key; one transaction, so a failure changes nothing."""
    rewritten = current = 0
    for table, column, lookup in encrypted_columns():
        keys = list(table.primary_key.columns)
        raw = sa.type_coerce(column, sa.Text).label("raw")
        offset = 0
        while True:
            rows = session.execute(
                sa.select(*keys, raw)
                .where(column.isnot(None))
                .order_by(*keys)
                .limit(batch)
                .offset(offset)
            ).all()
            if not rows:
                break
            offset += len(rows)
            for row in rows:
                stored: str = row.raw
                if keyring.key_of(stored) == keyring.current:
                    current += 1
                    continue
                fresh = keyring.encrypt(keyring.decrypt(stored), lookup=lookup)
                session.execute(
                    sa.update(table)
                    .where(*(key == row._mapping[key.name] for key in keys))
                    .values({column.name: sa.type_coerce(sa.literal(fresh), sa.Text)})
                )
                rewritten += 1
    return RotationReport(rewritten=rewritten, already_current=current)
