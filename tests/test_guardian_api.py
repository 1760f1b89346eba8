"""Guardian links, board verification and delivery reports over HTTP, with the app's own notifier
sending through a real local SMS gateway receiver."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from tests.apiclient import SOS_BODY, app_request, running_app, staff_headers
from tests.factories import World, build_world
from tests.notify_servers import GATEWAY_SECRET, SmsReceiver, signed_report, sms_receiver
from tests.verifykit import uow_of

from ansim.api.context import AppContext
from ansim.domain.deliveries import RecipientKind
from ansim.domain.incidents import Channel, Incident, IncidentStatus, PriorityCode
from ansim.domain.people import Guardian, Subscriber
from ansim.services import school_guards
from ansim.services.guardian_page import situation
from ansim.settings import VerificationSettings

REPORTS = "/api/v1/notify/sms/reports"


@dataclass
class Setup:
    client: TestClient
    world: World
    receiver: SmsReceiver
    engine: Engine

    @property
    def context(self) -> AppContext:
        context: AppContext = self.client.app.state.context  # type: ignore[attr-defined]
        return context

    def sos(self, key: str) -> str:
        answer = self.client.post(
            "/api/v1/app/sos", **app_request(self.world.app_credential, SOS_BODY, key)
        )
        assert answer.status_code == 201, answer.text
        incident_id: str = answer.json()["incident_id"]
        return incident_id

    def wait_for_sms(self, count: int = 1) -> list[str]:
        deadline = time.monotonic() + 10
        while len(self.receiver.texts()) < count:
            assert time.monotonic() < deadline, "the SMS never reached the gateway"
            time.sleep(0.02)
        return self.receiver.texts()

    def link(
        self,
        incident_id: str,
        recipient_id: str,
        *,
        kind: RecipientKind = RecipientKind.GUARDIAN,
        hours_ago: float = 0,
    ) -> str:
        assert self.context.verification is not None
        url = self.context.verification.link(
            incident_id=incident_id,
            recipient_id=recipient_id,
            kind=kind,
            at=self.context.now() - timedelta(hours=hours_ago),
        )
        return url.removeprefix("http://testserver")


@pytest.fixture
def setup(engine: Engine, database_url: str) -> Iterator[Setup]:
    world = build_world(engine)
    with sms_receiver() as receiver:
        verification = VerificationSettings(
            link_secret="link secret for the api tests",
            public_url="http://testserver",
            sms_gateway_url=receiver.url,
            sms_gateway_secret=GATEWAY_SECRET.decode(),
            notifier_poll_s=0.05,
        )
        with running_app(engine, database_url, verification=verification) as client:
            yield Setup(client, world, receiver, engine)


def _token(text: str) -> str:
    found = re.search(r"http://testserver(/g/[A-Za-z0-9_-]+)", text)
    assert found, text
    return found.group(1)


def test_a_guardian_answers_danger_from_the_sms_link_once(setup: Setup) -> None:
    client = setup.client
    board = staff_headers(client, "dispatcher")
    incident_id = setup.sos("guardian-0001")
    [text] = setup.wait_for_sms()
    path = _token(text)
    page = client.get(path)
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
    assert page.headers["cache-control"] == "no-store"
    api = path.replace("/g/", "/api/v1/guardian/")
    view = client.get(api).json()
    assert view["situation"] == "active"
    assert view["can_answer"]
    assert view["person_name"] == "김하늘"
    assert view["location"]["radius_m"] == pytest.approx(32.4, abs=0.1)
    # Where, in words, from the bundled data: street, 동 and the nearest landmark.
    place = view["location"]["place"]
    assert place["ko"]
    assert place["en"]
    assert set(view) == {
        "recipient_kind",
        "person_name",
        "situation",
        "location",
        "can_answer",
        "answered",
        "expires_at",
    }
    answered = client.post(f"{api}/answer", json={"answer": "danger"})
    assert answered.status_code == 201, answered.text
    assert answered.json()["answered"] == "danger"
    assert not answered.json()["can_answer"]
    detail = client.get(f"/api/v1/incidents/{incident_id}", headers=board).json()
    assert detail["incident"]["place"] == place
    assert (detail["incident"]["priority"], detail["incident"]["status"]) == (0, "confirmed")
    replay = client.post(f"{api}/answer", json={"answer": "safe"})
    assert replay.status_code == 409
    after = client.get(f"/api/v1/incidents/{incident_id}", headers=board).json()
    assert len(after["timeline"]) == len(detail["timeline"])
    kinds = [e["kind"] for e in after["timeline"]]
    assert kinds.count("guardian_answered") == 1
    assert "verification_decided" in kinds


def test_forged_expired_and_foreign_links_change_nothing(setup: Setup) -> None:
    client = setup.client
    incident_id = setup.sos("guardian-0002")
    [text] = setup.wait_for_sms()
    good = _token(text)
    forged = good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB")
    with uow_of(setup.engine).begin() as session:
        guardian_id = session.query(Guardian).one().id
        other = Subscriber(
            id=str(uuid.uuid4()),
            name="이수아",
            birth_year=2015,
            created_at=setup.context.now(),
            school="다른초등학교",
        )
        session.add(other)
        guard = school_guards.create(
            session,
            school="서울덕수초등학교",
            name="정지킴",
            phone="+82101112222",
            duty_start="00:00",
            duty_end="23:59",
            weekdays="0123456",
        )
        guard_id = guard.id
    expired = setup.link(incident_id, guardian_id, hours_ago=7)
    foreign = setup.link(str(uuid.uuid4()), guardian_id)
    guard_link = setup.link(incident_id, guard_id, kind=RecipientKind.SCHOOL_GUARD)
    board = staff_headers(client, "dispatcher")
    before = client.get(f"/api/v1/incidents/{incident_id}", headers=board).json()
    for path, page_status in (
        (forged, 403),
        ("/g/not-a-token", 403),
        (expired, 410),
        (foreign, 403),
    ):
        assert client.get(path).status_code == page_status, path
        api = path.replace("/g/", "/api/v1/guardian/")
        assert client.get(api).status_code == 403
        refused = client.post(f"{api}/answer", json={"answer": "safe"})
        assert refused.status_code == 403, refused.text
        assert refused.json()["detail"]
    # A school guard sees the location but cannot answer for the family.
    guard_api = guard_link.replace("/g/", "/api/v1/guardian/")
    assert client.get(guard_api).json()["recipient_kind"] == "school_guard"
    assert client.post(f"{guard_api}/answer", json={"answer": "safe"}).status_code == 403
    assert (
        client.post(
            f"{good.replace('/g/', '/api/v1/guardian/')}/answer", json={"answer": "maybe"}
        ).status_code
        == 422
    )
    after = client.get(f"/api/v1/incidents/{incident_id}", headers=board).json()
    assert after["incident"] == before["incident"]
    assert [e["kind"] for e in after["timeline"]] == [e["kind"] for e in before["timeline"]]


def test_delivery_reports_must_be_signed_and_fresh(setup: Setup) -> None:
    client = setup.client
    incident_id = setup.sos("guardian-0003")
    setup.wait_for_sms()
    [message_id] = setup.receiver.accepted
    now = int(setup.context.now().timestamp())
    board = staff_headers(client, "dispatcher")

    def sms_status() -> str:
        state = client.get(f"/api/v1/incidents/{incident_id}/verification", headers=board).json()
        status: str = state["guardians"][0]["deliveries"][0]["status"]
        return status

    deadline = time.monotonic() + 5
    while sms_status() != "sent":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    report = {"message_id": message_id, "status": "delivered"}
    # One refusal for every signing scheme: 401, the reason in the body.
    refusals = []
    body, headers = signed_report(report, timestamp=now, secret=b"not the gateway secret")
    refusals.append(client.post(REPORTS, content=body, headers=headers))
    body, headers = signed_report(report, timestamp=now - 3600)
    refusals.append(client.post(REPORTS, content=body, headers=headers))
    body, headers = signed_report(report, timestamp=now)
    refusals.append(client.post(REPORTS, content=body + b" ", headers=headers))
    refusals.append(
        client.post(REPORTS, content=body, headers={"Content-Type": "application/json"})
    )
    assert [r.status_code for r in refusals] == [401] * 4
    reasons = [r.json()["detail"] for r in refusals]
    assert ["does not match" in reasons[0], "window" in reasons[1]] == [True, True]
    assert ["does not match" in reasons[2], "missing" in reasons[3]] == [True, True]
    body, headers = signed_report(
        {"message_id": f"{uuid.uuid4()}.1", "status": "delivered"}, timestamp=now
    )
    assert client.post(REPORTS, content=body, headers=headers).status_code == 404
    body, headers = signed_report({"message_id": message_id, "status": "lost"}, timestamp=now)
    assert client.post(REPORTS, content=body, headers=headers).status_code == 422
    assert sms_status() == "sent"
    body, headers = signed_report(report, timestamp=now)
    for _ in range(2):  # a provider that repeats its report changes nothing the second time
        answer = client.post(REPORTS, content=body, headers=headers)
        assert answer.status_code == 200
        assert answer.json()["status"] == "delivered"
    assert sms_status() == "delivered"


def test_the_board_records_calls_and_decides_on_a_stand_down(setup: Setup) -> None:
    client = setup.client
    board = staff_headers(client, "dispatcher")
    incident_id = setup.sos("guardian-0004")
    base = f"/api/v1/incidents/{incident_id}/verification"
    state = client.get(base, headers=board).json()
    assert state["started"]
    assert state["state"] == "pending"
    [guardian] = state["guardians"]
    assert guardian["tel"] == "tel:+821098765432"
    assert client.get(base, headers=staff_headers(client, "officer")).status_code == 403
    unknown = client.post(
        f"{base}/calls", json={"guardian_id": "nobody", "outcome": "safe"}, headers=board
    )
    assert unknown.status_code == 404
    called = client.post(
        f"{base}/calls", json={"guardian_id": guardian["id"], "outcome": "safe"}, headers=board
    )
    assert called.status_code == 200, called.text
    assert called.json()["stand_down_requested"]
    assert called.json()["state"] == "mistake"
    assert called.json()["guardians"][0]["answers"][0]["source"] == "dispatcher_call"
    decided = client.post(
        f"{base}/decision",
        json={"decision": "stand_down", "reason": "아버지와 함께 있음"},
        headers=board,
    )
    assert decided.status_code == 200
    assert not decided.json()["stand_down_requested"]
    detail = client.get(f"/api/v1/incidents/{incident_id}", headers=board).json()
    assert detail["incident"]["status"] == "false_alarm"
    assert [a["state"] for a in detail["assignments"]] == ["ordered"]  # no automatic recall
    assert (
        client.post(
            f"/api/v1/incidents/{uuid.uuid4()}/verification/calls",
            json={"guardian_id": "x", "outcome": "danger"},
            headers=board,
        ).status_code
        == 404
    )


def test_administrators_manage_school_guards(setup: Setup) -> None:
    client = setup.client
    admin = staff_headers(client, "admin")
    base = "/api/v1/admin/school-guards"
    body = {
        "school": "서울덕수초등학교",
        "name": "정지킴",
        "phone": "+82101112222",
        "duty_start": "08:00",
        "duty_end": "17:00",
    }
    assert (
        client.post(base, json=body, headers=staff_headers(client, "dispatcher")).status_code == 403
    )
    assert client.post(base, json=body | {"duty_start": "8 am"}, headers=admin).status_code == 422
    assert client.post(base, json=body | {"weekdays": "0099"}, headers=admin).status_code == 422
    # A domestic number is stored in E.164 (kept as typed, its alerts were dead-lettered).
    refused = client.post(base, json=body | {"phone": "1234"}, headers=admin)
    assert refused.status_code == 422
    assert "010-1234-5678" in refused.text
    domestic = client.post(base, json=body | {"phone": "010-3333-4444"}, headers=admin)
    assert domestic.status_code == 201, domestic.text
    assert domestic.json()["phone"] == "+821033334444"
    assert client.delete(f"{base}/{domestic.json()['id']}", headers=admin).status_code == 204
    created = client.post(base, json=body, headers=admin)
    assert created.status_code == 201, created.text
    guard_id = created.json()["id"]
    changed = client.patch(
        f"{base}/{guard_id}", json={"duty_end": "18:30", "weekdays": "43210"}, headers=admin
    )
    assert changed.json()["duty_end"] == "18:30"
    assert changed.json()["weekdays"] == "01234"
    assert [
        g["name"] for g in client.get(f"{base}?school=서울덕수초등학교", headers=admin).json()
    ] == ["정지킴"]
    assert client.delete(f"{base}/{guard_id}", headers=admin).status_code == 204
    assert client.delete(f"{base}/{guard_id}", headers=admin).status_code == 404


@pytest.mark.parametrize("status", ["false_alarm", "resolved"])
def test_finding_guardian_page_hides_location_once_the_case_is_over(
    setup: Setup, status: str
) -> None:
    client = setup.client
    board = staff_headers(client, "dispatcher")
    incident_id = setup.sos(f"guardian-over-{status}")
    [text] = setup.wait_for_sms()
    api = _token(text).replace("/g/", "/api/v1/guardian/")
    assert client.get(api).json()["location"] is not None
    steps = ["false_alarm"] if status == "false_alarm" else ["on_scene", "resolved"]
    for step in steps:
        moved = client.post(
            f"/api/v1/incidents/{incident_id}/status",
            json={"status": step, "reason": "test"},
            headers=board,
        )
        assert moved.status_code == 200, moved.text
    view = client.get(api).json()
    assert view["location"] is None
    assert view["situation"] == ("called_off" if status == "false_alarm" else "ended")
    assert not view["can_answer"]


def test_finding_guardian_page_reads_a_duress_cancel_as_a_real_cancel() -> None:
    def incident(status: IncidentStatus, *, duress: bool) -> Incident:
        return Incident(
            id="i",
            channel=Channel.APP,
            status=status,
            priority=PriorityCode.CODE_0 if duress else PriorityCode.CODE_1,
            received_at=datetime.now(UTC),
            updated_at=datetime.now(UTC),
            duress=duress,
        )

    real = situation(incident(IncidentStatus.CANCELLED, duress=False))
    forced = situation(incident(IncidentStatus.VERIFYING, duress=True))
    assert real == forced == "called_off"
