"""Personal data at rest: encrypted field by field, found by keyed lookups, keys rotate; retention purges."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from tests.apiclient import SOS_BODY, app_request, staff_headers
from tests.security_fixtures import SecureApp, secure_app

from ansim.cli import main
from ansim.domain.incidents import Channel
from ansim.domain.verification import Answer, AnswerSource
from ansim.security import crypto, retention
from ansim.services import incidents, people, verification
from ansim.store.db import make_session_factory
from ansim.store.tables import (
    channel_bindings,
    guardians,
    incident_events,
    location_fixes,
    verification_answers,
)
from ansim.store.uow import UnitOfWork

REGISTERED = ["김하늘", "김민준", "+821012345678", "+821098765432", "821012345678", "01012345678"]


@pytest.fixture
def secured(tmp_path: Path, sqlite_template: Path) -> Iterator[SecureApp]:
    yield from secure_app(tmp_path, sqlite_template)


def _raw_bytes(app: SecureApp) -> bytes:
    copy = app.path.with_suffix(".copy")
    source, target = sqlite3.connect(app.path), sqlite3.connect(copy)
    try:
        source.backup(target)
    finally:
        source.close()
        target.close()
    return copy.read_bytes()


def _sos(app: SecureApp, key: str = "k-00000001") -> str:
    answer = app.client.post(
        "/api/v1/app/sos", **app_request(app.world.app_credential, SOS_BODY, key)
    )
    assert answer.status_code == 201, answer.text
    incident_id: str = answer.json()["incident_id"]
    return incident_id


def test_no_registered_name_or_phone_number_is_in_the_database_file_in_clear(
    secured: SecureApp,
) -> None:
    incident_id = _sos(secured)
    board = staff_headers(secured.client, "dispatcher")
    detail = secured.client.get(f"/api/v1/incidents/{incident_id}", headers=board).json()
    assert detail["person"]["name"] == "김하늘"  # services and the API see plain text
    assert detail["guardians"][0]["phone"] == "+821098765432"
    raw = _raw_bytes(secured)
    for secret in REGISTERED:
        for encoding in ("utf-8", "utf-16-le", "utf-16-be"):
            assert secret.encode(encoding) not in raw, f"{secret} is in the file in clear"
    assert b"ae1:" in raw


def test_phone_numbers_are_found_by_keyed_lookup_and_stay_unique(secured: SecureApp) -> None:
    uow = UnitOfWork(make_session_factory(secured.engine))
    with uow.read() as session:
        found = people.binding(session, channel=Channel.ONE_TOUCH, address="+821012345678")
        assert found is not None
        assert found.subscriber_id == secured.world.subscriber_id
        assert people.binding(session, channel=Channel.ONE_TOUCH, address="+821000000000") is None
        by_phone = session.execute(
            sa.select(guardians.c.name).where(guardians.c.phone == "+821098765432")
        ).scalar_one()
        assert by_phone == "김민준"
    with pytest.raises(sa.exc.IntegrityError), uow.begin() as session:
        people.bind(
            session,
            subscriber_id=secured.world.subscriber_id,
            channel=Channel.ONE_TOUCH,
            address="+821012345678",
            at=secured.clock.now,
        )


def test_keys_rotate_and_old_keys_can_then_be_dropped(
    secured: SecureApp, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _sos(secured)
    old = os.environ["ANSIM_DATA_KEY"]
    new = crypto.new_key_text("next")
    monkeypatch.setenv("ANSIM_DATA_KEY", f"{new},{old}")
    try:
        assert main(["keys", "rotate", "--database-url", secured.url]) == 0
        assert "re-encrypted" in capsys.readouterr().out
        crypto.install(crypto.Keyring.parse(new))  # the old key is gone
        with UnitOfWork(make_session_factory(secured.engine)).read() as session:
            raw = session.execute(sa.select(sa.type_coerce(channel_bindings.c.address, sa.Text)))
            assert all(value.startswith("ae1:next:") for value in raw.scalars())
            found = people.binding(session, channel=Channel.ONE_TOUCH, address="+821012345678")
            assert found is not None
            assert (
                people.get_subscriber(session, subscriber_id=found.subscriber_id).name == "김하늘"
            )
    finally:
        crypto.install(crypto.Keyring.parse(old))


def test_location_history_is_purged_after_retention_but_the_timeline_keeps_that_it_was(
    secured: SecureApp,
) -> None:
    incident_id = _sos(secured)
    uow = UnitOfWork(make_session_factory(secured.engine))
    with uow.read() as session:
        assert len(incidents.fixes(session, incident_id=incident_id)) == 1
    with uow.begin() as session:
        verification.record_answer(
            session,
            incident_id=incident_id,
            recipient_id=people.guardians_of(session, subscriber_id=secured.world.subscriber_id)[
                0
            ].id,
            source=AnswerSource.DISPATCHER_CALL,
            answer=Answer.SAFE,
            actor="dispatcher",
            at=secured.clock.now,
            platform=secured.client.app.state.context.platform,  # type: ignore[attr-defined]
        )
    board = staff_headers(secured.client, "dispatcher")
    for status in ("on_scene", "resolved", "closed"):
        secured.client.post(
            f"/api/v1/incidents/{incident_id}/status",
            json={"status": status, "reason": "drill"},
            headers=board,
        )
    keep = timedelta(days=30)
    closed_at = secured.clock.now
    with uow.begin() as session:
        assert retention.purge(session, now=closed_at + keep / 2, keep_for=keep).incidents == 0
    # The hourly durable sweep (scheduled at start-up) does it, exactly like `ansim retention purge`.
    scheduler = secured.client.app.state.context.scheduler  # type: ignore[attr-defined]
    fired = scheduler.fire_due(closed_at + keep + timedelta(hours=2))
    assert fired >= 1
    with uow.read() as session:
        assert (
            session.execute(sa.select(sa.func.count()).select_from(location_fixes)).scalar_one()
            == 0
        )
        kinds = [e.kind for e in incidents.timeline(session, incident_id=incident_id)]
        assert kinds[-1] == retention.PURGED
        assert kinds[0] == "received"
        incident = incidents.get(session, incident_id=incident_id)
        assert incident.lat is None
        purged = session.execute(
            sa.select(incident_events.c.data).where(incident_events.c.kind == retention.PURGED)
        ).scalar_one()
        assert purged["removed"]["location_fixes"] == 1
        assert purged["removed"]["location_tracks"] == 1  # the filter's recent positions too
        assert purged["removed"]["verification_answers"] == 1
        assert (
            session.execute(
                sa.select(sa.func.count()).select_from(verification_answers)
            ).scalar_one()
            == 0
        )
        assert "guardian_called" in kinds or "guardian_answered" in kinds  # that it happened stays
    with uow.begin() as session:  # once only
        assert retention.purge(session, now=closed_at + 2 * keep, keep_for=keep).incidents == 0
