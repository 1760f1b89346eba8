"""A registered population at scale, written in bulk exactly as the app would write it.

Subscribers with their guardians and one-touch phone binding, and terminals with their terminal
binding and heartbeat deadline. Every value goes through the columns' own SQLAlchemy bind
processing (the encrypted columns and lookup forms of ansim.store.types under the installed
data key), then reaches the database by `executemany` (SQLite) or `COPY` (PostgreSQL). Ids,
numbers and secrets are functions of the index, so a benchmark knows who owns what without
keeping a million rows in memory.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import random
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session

from ansim.domain.incidents import Channel
from ansim.domain.people import Guardian
from ansim.services import people, terminals
from ansim.services.demo_world import _FAMILY, _GIVEN, _RELATIONS, schools_in_demo_area
from ansim.store import deadlines as deadline_store
from ansim.store.db import make_engine, make_session_factory
from ansim.store.tables import channel_bindings, deadlines, guardians, subscribers
from ansim.store.tables import terminals as terminals_table
from ansim.store.types import EncryptedText, LookupText
from ansim.store.uow import UnitOfWork

CHUNK = 10_000
INTERVAL_S = 60
# Seeded terminals were all heard within the last interval; their deadlines lie beyond the run,
# so the benchmark measures heartbeats, not a storm of `terminal.lost` from unheard terminals.
SEEDED_DUE_IN = timedelta(hours=2)
_TABLES = [subscribers, guardians, channel_bindings, terminals_table, deadlines]


def _digest(text: str, size: int) -> bytes:
    return hashlib.blake2b(text.encode(), digest_size=size).digest()


@dataclass(frozen=True)
class Population:
    """Who is registered: subscriber `i` owns phone `phone(i)`; every `stride`-th one wears a terminal."""

    subscribers: int
    terminals: int

    @property
    def stride(self) -> int:
        return max(1, self.subscribers // max(1, self.terminals))

    def subscriber_id(self, i: int) -> str:
        return str(uuid.UUID(bytes=_digest(f"subscriber:{i}", 16), version=4))

    def phone(self, i: int) -> str:
        """A distinct Korean mobile number in E.164 (7919 is prime to 10^8: no two collide)."""
        return f"+8210{(i * 7919 + 10_000_000) % 100_000_000:08d}"

    def local_phone(self, i: int) -> str:
        """The same number as a carrier may send it: `010-1234-5678`."""
        digits = self.phone(i)[5:]
        return f"010-{digits[:4]}-{digits[4:]}"

    def terminal_id(self, j: int) -> str:
        return f"UA-{j:07d}"

    def terminal_owner(self, j: int) -> int:
        return j * self.stride

    def terminal_secret(self, j: int) -> str:
        # As long as `secrets.token_urlsafe(32)`, but reproducible for the simulated devices.
        return base64.urlsafe_b64encode(_digest(f"terminal secret:{j}", 32)).decode().rstrip("=")

    def seeded_seq(self, j: int) -> int:
        """The last sequence number the server accepted from terminal `j` before the benchmark."""
        return 100 + j % 1000


@dataclass
class PopulationTiming:
    """Seconds spent making and encoding the rows (once for every target) and writing each target."""

    prepare_s: float = 0.0
    write_s: dict[str, float] = field(default_factory=dict)
    finish_s: dict[str, float] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)


def _row(guardian: Guardian) -> dict[str, Any]:
    """A domain object's row: the imperative mapping maps each dataclass field to its column."""
    return {f.name: getattr(guardian, f.name) for f in dataclasses.fields(guardian)}


def _uuid(key: str) -> str:
    return str(uuid.UUID(bytes=_digest(key, 16), version=4))


def _rows(
    population: Population, first: int, count: int, at: datetime, schools: list[str]
) -> dict[sa.Table, list[dict[str, Any]]]:
    """Plain (unencrypted) rows for subscribers `first` … `first + count - 1` and their terminals.

    Guardians are made as domain objects, so what the domain derives for them applies as in the app.
    """
    rng = random.Random(first)
    rows: dict[sa.Table, list[dict[str, Any]]] = {table: [] for table in _TABLES}
    for i in range(first, first + count):
        subscriber_id = population.subscriber_id(i)
        family = _FAMILY[rng.randrange(len(_FAMILY))]
        registered = at - timedelta(days=rng.uniform(1, 900))
        rows[subscribers].append(
            {
                "id": subscriber_id,
                "name": family + rng.choice(_GIVEN),
                "birth_year": rng.randint(1935, 2019),
                "photo_url": "",
                "notes": "가상 인물 / fictional person"
                if i % 10
                else "휠체어 사용 / uses a wheelchair",
                "school": schools[i % len(schools)] if i % 3 == 0 else "",
                "created_at": registered,
                "consent_at": registered,
            }
        )
        for order, relation in enumerate(rng.sample(_RELATIONS, rng.randint(1, 2)), start=1):
            guardian = Guardian(
                id=_uuid(f"guardian:{i}:{order}"),
                subscriber_id=subscriber_id,
                name=family + rng.choice(_GIVEN),
                phone=f"+8210{(i * 104_729 + order * 31 + 50_000_000) % 100_000_000:08d}",
                relation=relation,
                email=f"guardian{i}.{order}@example.org" if order == 1 else "",
                call_order=order,
            )
            rows[guardians].append(_row(guardian))
        rows[channel_bindings].append(
            _binding(f"one-touch:{i}", subscriber_id, Channel.ONE_TOUCH, population.phone(i), at)
        )
        j, owns = divmod(i, population.stride)
        if owns == 0 and j < population.terminals:
            _terminal_rows(population, j, subscriber_id, at, rng, rows)
    return rows


def _binding(
    key: str, subscriber_id: str, channel: Channel, address: str, at: datetime
) -> dict[str, Any]:
    return {
        "id": _uuid(f"binding:{key}"),
        "subscriber_id": subscriber_id,
        "channel": channel,
        "address": address,
        "created_at": at,
        "credential_hash": "",
    }


def _terminal_rows(
    population: Population,
    j: int,
    subscriber_id: str,
    at: datetime,
    rng: random.Random,
    rows: dict[sa.Table, list[dict[str, Any]]],
) -> None:
    seen = at - timedelta(seconds=rng.uniform(0, INTERVAL_S))
    terminal_id = population.terminal_id(j)
    rows[terminals_table].append(
        {
            "id": terminal_id,
            "subscriber_id": subscriber_id,
            "secret": population.terminal_secret(j),
            "reporting_interval_s": INTERVAL_S,
            "enrolled_at": at - timedelta(days=rng.uniform(1, 300)),
            "enrolled_by": "admin",
            "last_seq": population.seeded_seq(j),
            "last_digest": "",
            "last_seen_at": seen,
            "battery_pct": rng.randint(35, 100),
            "signal_dbm": rng.randint(-110, -60),
            "low_battery": False,
            "lost": False,
            "config_version": 1,
            "disabled": False,
        }
    )
    rows[channel_bindings].append(
        _binding(f"terminal:{j}", subscriber_id, Channel.TERMINAL, terminal_id, at)
    )
    rows[deadlines].append(
        {
            "id": _uuid(f"deadline:{j}"),
            "kind": terminals.HEARTBEAT_KIND,
            "subject_id": terminal_id,
            "due_at": at + SEEDED_DUE_IN,
            "created_at": seen,
            "fired_at": None,
            "cancelled_at": None,
            "attempts": 0,
            "data": {},
        }
    )


def _encode(
    table: sa.Table, rows: list[dict[str, Any]], dialects: dict[str, Dialect]
) -> dict[str, list[tuple[Any, ...]]]:
    """Rows as the DBAPI receives them from SQLAlchemy, per dialect; encrypted once for all."""
    if not rows:
        return {name: [] for name in dialects}
    assert set(rows[0]) == set(table.c.keys()), f"{table.name}: every column needs a value"
    some_dialect = next(iter(dialects.values()))
    columns: dict[str, list[list[Any]]] = {name: [] for name in dialects}
    for column in table.c:
        values = [row[column.name] for row in rows]
        if isinstance(column.type, EncryptedText | LookupText):
            # The same form on both backends (the nonce is random or a keyed hash, never the dialect's).
            shared = [column.type.process_bind_param(v, some_dialect) for v in values]
            for name in dialects:
                columns[name].append(shared)
            continue
        for name, dialect in dialects.items():
            process = column.type.bind_processor(dialect)
            columns[name].append([process(v) for v in values] if process else values)
    return {name: list(zip(*columns[name], strict=True)) for name in dialects}


class _Target:
    """One database being filled over a raw DBAPI connection, one transaction per chunk."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.dialect = self.engine.dialect
        self.raw = self.engine.raw_connection()
        driver = self.raw.driver_connection
        if driver is None:
            raise RuntimeError(f"no open DBAPI connection to {url}")
        self.driver: Any = driver
        if self.dialect.name == "sqlite":
            # Only this loading connection skips fsync; the server runs with synchronous=FULL.
            self.driver.execute("PRAGMA synchronous=OFF")
            self.driver.execute("PRAGMA cache_size=-262144")
        else:
            self.driver.execute("SET synchronous_commit = off")
            self.driver.commit()

    def write(self, table: sa.Table, rows: list[tuple[Any, ...]]) -> None:
        names = ", ".join(table.c.keys())
        if self.dialect.name == "sqlite":
            marks = ", ".join("?" * len(table.c))
            self.driver.executemany(f"INSERT INTO {table.name} ({names}) VALUES ({marks})", rows)  # noqa: S608 — our own table names
            return
        with self.driver.cursor().copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([json.dumps(v) if isinstance(v, dict | list) else v for v in row])

    def begin(self) -> None:
        if self.dialect.name == "sqlite":
            self.driver.execute("BEGIN")

    def commit(self) -> None:
        self.driver.commit() if self.dialect.name != "sqlite" else self.driver.execute("COMMIT")

    def finish(self) -> None:
        """Statistics for the planner, as after any bulk import; the WAL folded into the file."""
        if self.dialect.name == "sqlite":
            self.driver.execute("ANALYZE")
            self.driver.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        else:
            self.driver.execute("ANALYZE")
            self.driver.commit()
            self.driver.autocommit = True
            self.driver.execute("CHECKPOINT")
        self.raw.close()
        self.engine.dispose()


def _chunks(total: int) -> Iterator[tuple[int, int]]:
    for first in range(0, total, CHUNK):
        yield first, min(CHUNK, total - first)


def populate(population: Population, urls: list[str], *, at: datetime) -> PopulationTiming:
    """Registers the population in every (freshly migrated) database of `urls`, chunk by chunk."""
    timing = PopulationTiming(write_s=dict.fromkeys(urls, 0.0))
    targets = [_Target(url) for url in urls]
    dialects = {target.url: target.dialect for target in targets}
    schools = [school.name for school in schools_in_demo_area()]
    for first, count in _chunks(population.subscribers):
        started = time.perf_counter()
        rows = _rows(population, first, count, at, schools)
        encoded = {table: _encode(table, rows[table], dialects) for table in _TABLES}
        timing.prepare_s += time.perf_counter() - started
        for table in _TABLES:
            timing.rows[table.name] = timing.rows.get(table.name, 0) + len(rows[table])
        for target in targets:
            started = time.perf_counter()
            target.begin()
            for table in _TABLES:
                target.write(table, encoded[table][target.url])
            target.commit()
            timing.write_s[target.url] += time.perf_counter() - started
    for target in targets:
        started = time.perf_counter()
        target.finish()
        timing.finish_s[target.url] = time.perf_counter() - started
    return timing


def check_sample(population: Population, url: str, *, samples: int = 20) -> int:
    """Reads a sample back through the services; raises PopulationMismatch on any difference.

    Returns how many people were checked.
    """
    engine = make_engine(url)
    uow = UnitOfWork(make_session_factory(engine))
    rng = random.Random(7)
    indices = {0, population.subscribers - 1, *rng.sample(range(population.subscribers), samples)}
    try:
        with uow.read() as session:
            for i in sorted(indices):
                _check_person(session, population, i)
    finally:
        engine.dispose()
    return len(indices)


class PopulationMismatch(AssertionError):
    """A row read back through the services is not what the population says it is."""


def _expect(condition: bool, what: str) -> None:
    if not condition:
        raise PopulationMismatch(what)


def _check_person(session: Session, population: Population, i: int) -> None:
    subscriber_id = population.subscriber_id(i)
    person = people.get_subscriber(session, subscriber_id=subscriber_id)
    _expect(person.name[0] in _FAMILY and person.photo_url == "", f"subscriber {i} reads back")
    bound = people.binding(session, channel=Channel.ONE_TOUCH, address=population.phone(i))
    _expect(bound is not None and bound.subscriber_id == subscriber_id, f"phone of {i} is bound")
    guardians_of = people.guardians_of(session, subscriber_id=subscriber_id)
    _expect(1 <= len(guardians_of) <= 2, f"subscriber {i} has one or two guardians")
    _expect(guardians_of[0].email.endswith(".org"), f"first guardian of {i} has an address")
    j, owns = divmod(i, population.stride)
    if owns or j >= population.terminals:
        return
    terminal = terminals.get(session, terminal_id=population.terminal_id(j))
    _expect(terminal.secret == population.terminal_secret(j), f"terminal {j} has its secret")
    _expect(terminal.subscriber_id == subscriber_id, f"terminal {j} is worn by {i}")
    wearer = people.binding(session, channel=Channel.TERMINAL, address=terminal.id)
    _expect(wearer is not None and wearer.subscriber_id == subscriber_id, f"terminal {j} bound")
    pending = deadline_store.pending(session, kind=terminals.HEARTBEAT_KIND, subject_id=terminal.id)
    _expect(len(pending) == 1, f"terminal {j} has one heartbeat deadline")


def database_mb(url: str) -> float:
    """The database's size on disk."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = Path(str(parsed.database))
        files = [path, path.with_name(path.name + "-wal")]
        return sum(f.stat().st_size for f in files if f.exists()) / 2**20
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            size = conn.execute(sa.text("SELECT pg_database_size(current_database())")).scalar_one()
    finally:
        engine.dispose()
    return float(size) / 2**20
