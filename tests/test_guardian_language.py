"""Guardians choose the language of their messages; the migration gives existing ones the old guess."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from tests.apiclient import staff_headers
from tests.factories import T0, World, build_world
from tests.intakekit import Clock, clocked_app
from tests.verifykit import send_sos, uow_of

from ansim.domain.deliveries import DeliveryChannel
from ansim.domain.people import Guardian
from ansim.services import deliveries, people
from ansim.store.migrate import alembic_config, upgrade
from ansim.store.tables import guardians, subscribers

PERSON = {
    "name": "정하윤",
    "birth_year": 2017,
    "school": "서울덕수초등학교",
    "consent_at": "2026-09-01T09:00:00+09:00",
}


@pytest.fixture
def admin(engine: Engine, database_url: str) -> Iterator[tuple[TestClient, World, dict[str, str]]]:
    world = build_world(engine)
    with clocked_app(engine, database_url, Clock(T0)) as client:
        yield client, world, staff_headers(client, "admin")


def _count(engine: Engine, table: sa.Table) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def test_an_english_speaking_guardian_with_a_korean_number_gets_english(
    admin: tuple[TestClient, World, dict[str, str]], engine: Engine
) -> None:
    client, _, headers = admin
    body = {
        **PERSON,
        "guardians": [
            {"name": "Jane Park", "phone": "010-7777-8888", "relation": "mother", "language": "en"},
            {"name": "박준호", "phone": "010-2222-3333", "relation": "father"},
        ],
    }
    made = client.post("/api/v1/admin/people", json=body, headers=headers)
    assert made.status_code == 201, made.text
    assert [g["language"] for g in made.json()["guardians"]] == ["en", "ko"]
    person_id = made.json()["person"]["id"]
    incident_id = send_sos(engine, person_id)
    with uow_of(engine).read() as session:
        by_guardian = {g.id: g.name for g in people.guardians_of(session, subscriber_id=person_id)}
        sms = {
            by_guardian[d.recipient_id]: d
            for d in deliveries.for_incident(session, incident_id=incident_id)
            if d.channel == DeliveryChannel.SMS
        }
    assert sms["Jane Park"].language == "en"
    assert sms["Jane Park"].address == "+821077778888"
    assert sms["Jane Park"].body.startswith("[112] Police are on the way after an SOS from 정하윤")
    assert sms["박준호"].language == "ko"  # not chosen: a Korean number reads Korean
    assert sms["박준호"].body.startswith("[112] 정하윤 님의 SOS로 경찰이 출동했습니다")


def test_an_unknown_language_is_refused_and_nothing_is_stored(
    admin: tuple[TestClient, World, dict[str, str]], engine: Engine
) -> None:
    client, _, headers = admin
    people_before, guardians_before = _count(engine, subscribers), _count(engine, guardians)
    body = {
        **PERSON,
        "guardians": [
            {"name": "Jean", "phone": "010-7777-8888", "relation": "father", "language": "fr"}
        ],
    }
    refused = client.post("/api/v1/admin/people", json=body, headers=headers)
    assert refused.status_code == 422
    assert refused.json()["detail"] == "language must be one of ko, en, not 'fr'"
    csv = (
        "name,birth_year,school,guardian_name,guardian_phone,guardian_relation,"
        "one_touch_number,consent_date,guardian_language\n"
        "박지우,2017,서울덕수초등학교,Mary Choi,010-1111-2222,mother,,2026-09-01,en\n"
        "최도윤,2016,서울덕수초등학교,최하은,010-5555-6666,father,,2026-09-02,kr\n"
    )
    csv_headers = {**headers, "content-type": "text/csv"}
    bad_csv = client.post("/api/v1/admin/people/import", content=csv.encode(), headers=csv_headers)
    assert bad_csv.status_code == 422
    assert bad_csv.json()["detail"] == "CSV row 3: language must be one of ko, en, not 'kr'"
    assert (_count(engine, subscribers), _count(engine, guardians)) == (
        people_before,
        guardians_before,
    )
    fixed = client.post(
        "/api/v1/admin/people/import",
        content=csv.replace(",kr\n", ",\n").encode(),
        headers=csv_headers,
    )
    assert fixed.status_code == 201, fixed.text
    with uow_of(engine).read() as session:
        chosen = {
            g.name: g.language
            for person_id in fixed.json()["ids"]
            for g in people.guardians_of(session, subscriber_id=person_id)
        }
    assert chosen == {"Mary Choi": "en", "최하은": "ko"}


def test_the_migration_gives_existing_guardians_the_language_of_their_number_and_goes_back(
    engine: Engine, database_url: str
) -> None:
    world = build_world(engine)  # its guardian has a Korean number
    with uow_of(engine).begin() as session:
        session.add(
            Guardian(
                id=str(uuid.uuid4()),
                subscriber_id=world.subscriber_id,
                name="Jane",
                phone="+447700900123",
                relation="aunt",
                language="ko",  # chosen now, gone after the downgrade: the upgrade guesses again
            )
        )
    with engine.begin() as conn:  # a row from before encryption: its phone is plain text
        conn.execute(
            sa.text(
                "INSERT INTO guardians (id, subscriber_id, name, phone, relation, email, "
                "call_order, language) VALUES (:id, :subscriber, 'Joe', '+12025550100', "
                "'uncle', '', 3, 'ko')"
            ),
            {"id": str(uuid.uuid4()), "subscriber": world.subscriber_id},
        )
    engine.dispose()
    command.downgrade(alembic_config(database_url), "0003_security")
    with engine.connect() as conn:
        columns = {c["name"] for c in sa.inspect(conn).get_columns("guardians")}
    assert "language" not in columns
    assert _count(engine, guardians) == 3
    engine.dispose()
    upgrade(database_url)
    with uow_of(engine).read() as session:
        languages = {
            g.phone: g.language
            for g in people.guardians_of(session, subscriber_id=world.subscriber_id)
        }
    assert languages == {"+821098765432": "ko", "+447700900123": "en", "+12025550100": "en"}
    with engine.connect() as conn:
        [language] = [
            c for c in sa.inspect(conn).get_columns("guardians") if c["name"] == "language"
        ]
    assert language["nullable"] is False
    assert language["default"] is None  # new rows always name it
    engine.dispose()
    command.downgrade(alembic_config(database_url), "0003_security")
    upgrade(database_url)
    assert _count(engine, guardians) == 3
