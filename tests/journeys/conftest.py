"""Fixtures of the black-box journeys: one seeded demo world per run, served platforms on copies of it.

Two served platforms, each on its own copy of the demo world (35 units): the duress journeys bring
ten incidents through every state, the others need free units for code 0; apart, neither starves the
other. Every journey uses its own people, terminals and guardian numbers, so they share a platform.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.journeys.kit import (
    SERVER_PORT,
    SMS_PORT,
    Server,
    SmsGateway,
    seed_demo_world,
    serving,
)


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


@pytest.fixture(scope="module")
def platform(
    seeded_world: Path, sms_gateway: SmsGateway, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    with serving(seeded_world, tmp_path_factory.mktemp("journey-serve")) as server:
        yield server


@pytest.fixture(scope="module")
def duress_platform(
    seeded_world: Path, sms_gateway: SmsGateway, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("journey-duress")
    with serving(seeded_world, folder, port=SERVER_PORT + 2) as server:
        yield server
