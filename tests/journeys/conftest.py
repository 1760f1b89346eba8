"""Fixtures of the black-box journeys: one seeded demo world per run, a fresh served platform per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.journeys.kit import SMS_PORT, Server, SmsGateway, seed_demo_world, serving


@pytest.fixture(scope="session")
def seeded_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return seed_demo_world(tmp_path_factory.mktemp("journey-seed"))


@pytest.fixture(scope="session")
def sms_gateway() -> Iterator[SmsGateway]:
    gateway = SmsGateway(SMS_PORT)
    server = gateway.serve()
    yield gateway
    server.shutdown()
    server.server_close()


@pytest.fixture
def platform(seeded_world: Path, sms_gateway: SmsGateway, tmp_path: Path) -> Iterator[Server]:
    """`ansim serve` on its own copy of the demo world (units and guardians untouched by other tests)."""
    with sms_gateway.lock:
        sms_gateway.messages.clear()
    with serving(seeded_world, tmp_path) as server:
        yield server
