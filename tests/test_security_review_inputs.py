"""Security review (issue 19): the two 500s authenticated fuzzing found, kept closed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.apiclient import staff_headers
from tests.security_fixtures import SecureApp, secure_app


@pytest.fixture
def secured(tmp_path: Path, sqlite_template: Path) -> Iterator[SecureApp]:
    yield from secure_app(tmp_path, sqlite_template)


PERSON = {
    "name": "이서연",
    "birth_year": 2017,
    "consent_at": "2026-09-01T00:00:00Z",
    "guardians": [{"name": "이보호", "phone": "0000000", "relation": "mother"}],
}


def test_finding_fuzz_enrolling_a_guardian_phone_of_0000000_is_a_422(secured: SecureApp) -> None:
    admin = staff_headers(secured.client, "admin")
    answer = secured.client.post("/api/v1/admin/people", json=PERSON, headers=admin)
    assert answer.status_code == 422, answer.text
    assert "phone" in answer.text


@pytest.mark.parametrize("value", [False, True, None, -1, 1e9, "high"])
def test_finding_fuzz_camera_mount_height_of_false_is_a_422(
    secured: SecureApp, value: object
) -> None:
    admin = staff_headers(secured.client, "admin")
    camera = secured.client.post(
        "/api/v1/cctv/cameras",
        json={"gu": "중구", "address": "세종대로 110", "lat": 37.5665, "lon": 126.978},
        headers=admin,
    )
    assert camera.status_code == 201, camera.text
    answer = secured.client.patch(
        f"/api/v1/cctv/cameras/{camera.json()['id']}",
        json={"mount_height_m": value},
        headers=admin,
    )
    assert answer.status_code == 422, answer.text
