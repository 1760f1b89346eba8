"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from enum import Enum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import operators

from ansim.security import crypto


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Stores UTC, returns aware datetimes; SQLite would otherwise drop the zone."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime reached the database; use aware UTC times")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def enum_column(enum: type[Enum], length: int = 24) -> sa.Enum:
    """A portable enum stored as its value string (no native PostgreSQL type to migrate)."""
    return sa.Enum(
        enum,
        native_enum=False,
        create_constraint=False,
        length=length,
        values_callable=lambda members: [m.value for m in members],
    )


class IntEnumColumn(sa.TypeDecorator[Any]):
    """Stores an IntEnum as its integer."""

    impl = sa.Integer
    cache_ok = True

    def __init__(self, enum: type[Enum]) -> None:
        super().__init__()
        self._enum = enum

    def process_bind_param(self, value: Any, dialect: Dialect) -> int | None:
        return None if value is None else int(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else self._enum(value)


class EncryptedText(sa.TypeDecorator[str]):
    """Personal text encrypted field by field (AES-GCM, ansim.security.crypto); services see plain text."""

    impl = sa.Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else crypto.installed().encrypt(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else crypto.installed().decrypt(value)


class EncryptedSecret(EncryptedText):
    """A shared signing secret (terminal, carrier), encrypted at rest like EncryptedText.

    Every heartbeat checks an HMAC with its terminal's secret, so decrypted secrets are kept in a
    bounded cache keyed by the stored ciphertext (a rotated or replaced secret is a new key).
    """

    cache_ok = True

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else _decrypt_secret(value)


@functools.lru_cache(maxsize=20_000)
def _decrypt_secret(stored: str) -> str:
    # Keyed by the authenticated ciphertext: a hit is a value this process already decrypted.
    return crypto.installed().decrypt(stored)


class LookupText(sa.TypeDecorator[str]):
    """Encrypted text that can still be looked up by equality (phone numbers, channel addresses).

    Equal values encrypt equally under one key (the nonce is a keyed hash of the value); `==`
    compares against the value's form under every configured key, so lookups survive rotation.
    """

    impl = sa.Text
    cache_ok = True

    class comparator_factory(sa.TypeDecorator.Comparator[str]):  # noqa: N801 - SQLAlchemy's name
        def operate(self, op: Any, *other: Any, **kwargs: Any) -> Any:
            if op is operators.eq and len(other) == 1 and isinstance(other[0], str):
                forms = crypto.installed().lookup_forms(other[0])
                return sa.or_(
                    *(sa.type_coerce(self.expr, sa.Text) == sa.literal(f, sa.Text) for f in forms)
                )
            return super().operate(op, *other, **kwargs)

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else crypto.installed().encrypt(value, lookup=True)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else crypto.installed().decrypt(value)


class EncryptedFloat(sa.TypeDecorator[float]):
    """A coordinate of someone's location history, encrypted like EncryptedText."""

    impl = sa.Text
    cache_ok = True

    def process_bind_param(self, value: float | None, dialect: Dialect) -> str | None:
        return None if value is None else crypto.installed().encrypt(repr(float(value)))

    def process_result_value(self, value: str | None, dialect: Dialect) -> float | None:
        return None if value is None else float(crypto.installed().decrypt(value))
