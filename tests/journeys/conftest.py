"""Fixtures of the black-box journeys: one seeded demo world per run, served platforms on copies of it.

Two served platforms, each on its own copy of the demo world (35 units): the duress journeys bring
ten incidents through every state, the others need free units for code 0; apart, neither starves the
other. Every journey uses its own people, terminals and guardian numbers, so they share a platform.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.conftest import missing_service
from tests.journeys.kit import (
    MQTT_URL,
    SERVER_PORT,
    SMS_PORT,
    Server,
    SmsGateway,
    seed_demo_world,
    serving,
)


def _broker_answers() -> bool:
    host, port = MQTT_URL.removeprefix("mqtt://").split(":")
    try:
        with socket.create_connection((host, int(port)), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def seeded_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # The served platforms run their MQTT bridge; the terminal journeys need the broker.
    if not _broker_answers():
        missing_service(f"Mosquitto is not answering at {MQTT_URL}")
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
    # No MQTT bridge here: bridges share one subscription group on the broker, so a second one
    # would take half of the MQTT journey's messages for a terminal it does not know.
    with serving(seeded_world, folder, port=SERVER_PORT + 2, ANSIM_MQTT_URL="") as server:
        yield server
