"""The 112 app's code leaves through the SMS channel as a delivery record, and a number registered
again revokes its earlier installs."""

from __future__ import annotations

import re
import time

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from tests.apiclient import app_auth, running_app
from tests.factories import build_world, seal_audit
from tests.notify_servers import GATEWAY_SECRET, sms_receiver

from ansim.settings import VerificationSettings
from ansim.store.tables import audit_log, deliveries

PHONE = "010-4321-8765"


def _code(texts: list[str]) -> str:
    found = re.search(r"\b(\d{6})\b", texts[-1])
    assert found, texts
    return found.group(1)


def test_the_code_is_sent_by_sms_and_a_second_registration_revokes_the_first_install(
    engine: Engine, database_url: str
) -> None:
    build_world(engine)
    with sms_receiver() as receiver:
        verification = VerificationSettings(
            link_secret="link secret for the registration tests",
            public_url="http://testserver",
            sms_gateway_url=receiver.url,
            sms_gateway_secret=GATEWAY_SECRET.decode(),
            notifier_poll_s=0.05,
        )
        with running_app(engine, database_url, verification=verification) as client:

            def register(client_id: str) -> str:
                sent_before = len(receiver.texts())
                asked = client.post(
                    "/api/v1/app/register", json={"phone_number": PHONE, "client_id": client_id}
                )
                assert asked.status_code == 202, asked.text
                deadline = time.monotonic() + 10
                while len(receiver.texts()) == sent_before:
                    assert time.monotonic() < deadline, "the code never reached the SMS gateway"
                    time.sleep(0.02)
                message = list(receiver.accepted.values())[-1]
                assert message["to"] == "+821043218765"
                assert "인증번호" in message["text"]
                done = client.post(
                    "/api/v1/app/register/verify",
                    json={
                        "challenge_id": asked.json()["challenge_id"],
                        "phone_number": PHONE,
                        "code": _code(receiver.texts()),
                        "pin": "2580",
                        "duress_pin": "0852",
                        "name": "한지우",
                        "birth_year": 1990,
                    },
                )
                assert done.status_code == 201, done.text
                credential: str = done.json()["credential"]
                return credential

            first = register("phone-old")
            bearer = app_auth(first)
            assert client.get("/api/v1/app/profile", auth=bearer).status_code == 200
            second = register("phone-new")
            # The earlier install can neither read nor replace the profile any more.
            assert client.get("/api/v1/app/profile", auth=bearer).status_code == 401
            fresh = app_auth(second)
            assert client.get("/api/v1/app/profile", auth=fresh).status_code == 200
            bad = client.post(
                "/api/v1/app/register", json={"phone_number": "010-1234", "client_id": "phone-bad"}
            )
            assert bad.status_code == 422
            assert "010-1234-5678" in bad.text
    seal_audit(engine)
    with engine.connect() as conn:
        codes = conn.execute(
            sa.select(deliveries.c.status, deliveries.c.template).where(
                deliveries.c.recipient_kind == "app_user"
            )
        ).all()
        actions = list(conn.execute(sa.select(audit_log.c.action)).scalars())
    assert [(str(s), t) for s, t in codes] == [("sent", "app_otp")] * 2
    assert "app.installs_revoked" in actions
    assert "sms_outbox" not in sa.inspect(engine).get_table_names()


def test_the_demo_phone_shows_the_code_only_in_demo_mode(engine: Engine, database_url: str) -> None:
    build_world(engine)
    with running_app(engine, database_url) as client:
        assert client.get("/demo/phone").status_code == 404
        assert client.get("/api/v1/demo/phone/messages?number=01043218765").status_code == 404
    with running_app(engine, database_url, demo=True) as client:
        asked = client.post(
            "/api/v1/app/register", json={"phone_number": PHONE, "client_id": "visitor-1"}
        )
        assert asked.status_code == 202
        assert client.get("/demo/phone").status_code == 200
        shown = client.get("/api/v1/demo/phone/messages", params={"number": PHONE}).json()
        assert shown["number"] == "+821043218765"
        assert re.search(r"인증번호 \d{6}", shown["messages"][-1])
