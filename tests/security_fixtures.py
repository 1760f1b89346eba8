"""A SQLite-only app for the security tests (the role and fuzz walks need many requests, one backend)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from tests.apiclient import LOOPBACK
from tests.factories import T0, World, build_world

from ansim.api.app import create_app
from ansim.settings import Settings
from ansim.store.db import make_engine


@dataclass
class Clock:
    """Time the test moves by hand."""

    now: datetime = T0 + timedelta(minutes=5)
    steps: list[timedelta] = field(default_factory=list)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class SecureApp:
    client: TestClient
    world: World
    engine: Engine
    url: str
    path: Path
    clock: Clock


def secure_app(tmp_path: Path, template: Path, **settings: Any) -> Iterator[SecureApp]:
    path = tmp_path / "ansim.db"
    shutil.copy(template, path)
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    world = build_world(engine)
    clock = Clock()
    app = create_app(
        Settings(database_url=url, outbox_poll_s=0.05, **settings), engine=engine, clock=clock
    )
    try:
        with TestClient(app, client=LOOPBACK) as client:
            yield SecureApp(client, world, engine, url, path, clock)
    finally:
        engine.dispose()
