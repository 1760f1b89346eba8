"""The one-touch gateway: signed carrier calls, AML SMS and ELS posts joined to the incident, exports."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from tests.apiclient import staff_headers
from tests.factories import T0, World, build_world
from tests.intakekit import Clock, carrier_post, clocked_app, els_signed, register_carrier

from ansim.intake.formats import eido_validator, parse_pidf_lo
from ansim.security.signing import carrier_headers
from ansim.store.tables import handset_fixes, incidents, intake_discards, location_fixes

AML_V1 = 'A"ML=1;lt=+37.56650;lg=+126.97800;rd=10;top=20261128085958;lc=68;pm=G;si=450050000000000;ei=356938035643809;mcc=450;mnc=05;ml=124'


@pytest.fixture
def gateway(engine: Engine, database_url: str) -> Iterator[tuple[TestClient, World, str, Clock]]:
    world = build_world(engine)
    clock = Clock(T0)
    with clocked_app(engine, database_url, clock) as client:
        yield client, world, register_carrier(client), clock


def _count(engine: Engine, table: sa.Table) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def _call(number: str, call_id: str = "call-0001", **extra: object) -> dict[str, object]:
    return {
        "call_id": call_id,
        "caller_number": number,
        "called_at": T0.isoformat(),
        "network_location": {
            "lat": 37.5660,
            "lon": 126.9790,
            "radius_m": 800,
            "confidence": 0.68,
            "cell_id": "450-05-1234-5678",
        },
        **extra,
    }


def _aml(text: str, number: str) -> dict[str, object]:
    return {"originating_number": number, "text": text.replace("ml=124", f"ml={len(text)}")}


def test_a_registered_number_opens_an_identified_incident_and_a_retry_returns_it(
    gateway: tuple[TestClient, World, str, Clock], engine: Engine
) -> None:
    client, world, secret, _ = gateway
    first = carrier_post(
        client, "/api/v1/carrier/sos", _call("010-1234-5678"), secret=secret, at=T0
    )
    assert first.status_code == 201, first.text
    again = carrier_post(
        client,
        "/api/v1/carrier/sos",
        _call("010-1234-5678"),
        secret=secret,
        at=T0 + timedelta(seconds=3),
    )
    assert again.status_code == 200
    assert again.json()["replayed"] is True
    assert again.json()["incident_id"] == first.json()["incident_id"]
    board = staff_headers(client, "dispatcher")
    detail = client.get(f"/api/v1/incidents/{first.json()['incident_id']}", headers=board).json()
    assert detail["incident"]["subscriber_id"] == world.subscriber_id
    assert detail["incident"]["channel"] == "one_touch"
    assert detail["incident"]["location"]["radius_m"] == pytest.approx(
        800 * 2.4477 / 1.5096, rel=1e-3
    )
    assert _count(engine, incidents) == 1


def test_an_unknown_number_still_opens_an_incident_marked_unknown_caller(
    gateway: tuple[TestClient, World, str, Clock],
) -> None:
    client, _, secret, _ = gateway
    answer = carrier_post(
        client, "/api/v1/carrier/sos", _call("+821055550000"), secret=secret, at=T0
    )
    detail = client.get(
        f"/api/v1/incidents/{answer.json()['incident_id']}",
        headers=staff_headers(client, "dispatcher"),
    ).json()
    assert detail["incident"]["unknown_caller"] is True
    assert detail["incident"]["caller_number"] == "+821055550000"


# A good signature from a stale clock is taken and flagged (tests/test_intake_never_refuses.py).
@pytest.mark.parametrize("tamper", ["secret", "carrier", "body"])
def test_a_badly_signed_call_is_refused_counted_and_stores_nothing(
    gateway: tuple[TestClient, World, str, Clock], engine: Engine, tamper: str
) -> None:
    client, _, secret, _ = gateway
    raw = json.dumps(_call("+821012345678")).encode()
    headers = carrier_headers(
        carrier_id="kt" if tamper == "carrier" else "skt",
        secret="wrong" if tamper == "secret" else secret,
        body=raw,
        at=T0 - timedelta(minutes=10) if tamper == "stale" else T0,
    )
    sent = raw.replace(b"0001", b"0002") if tamper == "body" else raw
    answer = client.post("/api/v1/carrier/sos", content=sent, headers=headers)
    assert answer.status_code == 401
    assert _count(engine, incidents) == 0
    assert _count(engine, intake_discards) == 1


def test_a_hostile_pidf_lo_is_dropped_and_the_call_kept_an_oversize_body_refused(
    gateway: tuple[TestClient, World, str, Clock], engine: Engine
) -> None:
    client, _, secret, _ = gateway
    huge = client.post(
        "/api/v1/carrier/sos", content=b"x" * 200_000, headers={"content-type": "application/json"}
    )
    assert huge.status_code == 413
    assert _count(engine, incidents) == 0
    # The carrier is authentic and the call happened: its location is what is hostile.
    bomb = '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><presence>&lol2;</presence>'
    call = _call("+821012345678", pidf_lo=bomb)
    del call["network_location"]
    answer = carrier_post(client, "/api/v1/carrier/sos", call, secret=secret, at=T0)
    assert answer.status_code == 201, answer.text
    assert _count(engine, incidents) == 1
    assert _count(engine, location_fixes) == 0


def test_a_carrier_pidf_lo_location_is_parsed(
    gateway: tuple[TestClient, World, str, Clock],
) -> None:
    client, _, secret, _ = gateway
    pidf = (
        '<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" '
        'xmlns:gp="urn:ietf:params:xml:ns:pidf:geopriv10" xmlns:gml="http://www.opengis.net/gml" '
        'xmlns:gs="http://www.opengis.net/pidflo/1.0" xmlns:con="urn:ietf:params:xml:ns:geopriv:conf" entity="tel:+821012345678">'
        '<dm:device id="p"><gp:geopriv><gp:location-info><gs:Circle srsName="urn:ogc:def:crs:EPSG::4326">'
        '<gml:pos>37.56650 126.97800</gml:pos><gs:radius uom="urn:ogc:def:uom:EPSG::9001">30</gs:radius></gs:Circle>'
        '<con:confidence pdf="normal">95</con:confidence></gp:location-info><gp:method>GPS</gp:method><gp:usage-rules/>'
        "</gp:geopriv><dm:timestamp>2026-11-28T08:59:59Z</dm:timestamp></dm:device></presence>"
    )
    body = _call("+821012345678")
    del body["network_location"]
    answer = carrier_post(
        client, "/api/v1/carrier/sos", {**body, "pidf_lo": pidf}, secret=secret, at=T0
    )
    assert answer.status_code == 201, answer.text
    detail = client.get(
        f"/api/v1/incidents/{answer.json()['incident_id']}",
        headers=staff_headers(client, "dispatcher"),
    ).json()
    assert detail["incident"]["location"]["method"] == "gnss"
    assert detail["incident"]["location"]["radius_m"] == pytest.approx(30, rel=1e-6)


def test_aml_after_the_call_joins_the_incident_and_aml_before_it_waits_for_it(
    gateway: tuple[TestClient, World, str, Clock], engine: Engine
) -> None:
    client, _, secret, clock = gateway
    # The SMS beats the call notification by a few seconds.
    early = carrier_post(
        client, "/api/v1/carrier/aml", _aml(AML_V1, "01012345678"), secret=secret, at=T0
    )
    assert early.status_code == 200
    assert early.json() == {
        "accepted": True,
        "reason": "",
        "incident_id": None,
    }
    clock.now = T0 + timedelta(seconds=5)
    call = carrier_post(
        client, "/api/v1/carrier/sos", _call("+821012345678"), secret=secret, at=clock.now
    )
    incident_id = call.json()["incident_id"]
    detail = client.get(
        f"/api/v1/incidents/{incident_id}", headers=staff_headers(client, "dispatcher")
    ).json()
    assert {f["method"] for f in detail["fixes"]} == {"cell", "gnss"}
    later = AML_V1.replace("085958", "090004").replace("+37.56650", "+37.56700")
    clock.now = T0 + timedelta(seconds=20)
    joined = carrier_post(
        client, "/api/v1/carrier/aml", _aml(later, "+821012345678"), secret=secret, at=clock.now
    )
    assert joined.json()["incident_id"] == incident_id
    with engine.connect() as conn:
        attached = conn.execute(sa.select(handset_fixes.c.incident_id)).scalars().all()
    assert attached == [incident_id, incident_id]


def test_bad_or_replayed_aml_is_answered_2xx_and_counted(
    gateway: tuple[TestClient, World, str, Clock], engine: Engine
) -> None:
    client, _, secret, _ = gateway
    wrong_length = {
        "originating_number": "+821012345678",
        "text": AML_V1.replace("ml=124", "ml=99"),
    }
    answer = carrier_post(client, "/api/v1/carrier/aml", wrong_length, secret=secret, at=T0)
    assert answer.status_code == 200
    assert answer.json()["reason"] == "malformed"
    good = _aml(AML_V1, "+821012345678")
    raw = json.dumps(good).encode()
    headers = carrier_headers(carrier_id="skt", secret=secret, body=raw, at=T0)
    assert (
        client.post("/api/v1/carrier/aml", content=raw, headers=headers).json()["accepted"] is True
    )
    replay = client.post("/api/v1/carrier/aml", content=raw, headers=headers)
    assert replay.status_code == 200
    assert replay.json()["reason"] == "replayed"
    counts = client.get(
        "/api/v1/admin/intake/discards", headers=staff_headers(client, "admin")
    ).json()
    assert counts["aml"] == {"malformed": 1, "replayed": 1}
    assert _count(engine, handset_fixes) == 1


def test_els_joins_by_number_and_junk_is_discarded_with_200(
    gateway: tuple[TestClient, World, str, Clock],
) -> None:
    client, _, secret, _ = gateway
    call = carrier_post(client, "/api/v1/carrier/sos", _call("+821012345678"), secret=secret, at=T0)
    form = (
        "v=3&emergency_number=112&source=call&time=1795856400000&device_number=%2B821012345678"
        "&location_latitude=37.5667&location_longitude=126.9781&location_accuracy=12"
        "&location_source=gps&location_time=1795856399000&device_imei=356938035643809"
    )
    form_type = {"content-type": "application/x-www-form-urlencoded"}
    answer = client.post("/api/v1/els", content=els_signed(form), headers=form_type)
    assert answer.status_code == 200, answer.text
    assert answer.json()["incident_id"] == call.json()["incident_id"]
    junk = client.post(
        "/api/v1/els", content=b"location_latitude=999&device_number=1", headers=form_type
    )
    assert junk.status_code == 200
    assert junk.json()["accepted"] is False
    assert (
        client.post("/api/v1/els", content=b"x" * 20_000, headers=form_type).json()["reason"]
        == "oversize"
    )


def test_an_incident_exports_as_pidf_lo_and_as_a_valid_eido(
    gateway: tuple[TestClient, World, str, Clock],
) -> None:
    client, _, secret, _ = gateway
    incident_id = carrier_post(
        client, "/api/v1/carrier/sos", _call("+821012345678"), secret=secret, at=T0
    ).json()["incident_id"]
    board = staff_headers(client, "dispatcher")
    pidf = client.get(f"/api/v1/incidents/{incident_id}/pidf-lo", headers=board)
    assert pidf.headers["content-type"].startswith("application/pidf+xml")
    location = parse_pidf_lo(pidf.content).geodetic[0]
    assert location.confidence_pct == 95
    assert location.shape is not None
    assert location.shape.extent()[0] == pytest.approx(37.5660)
    eido = client.get(f"/api/v1/incidents/{incident_id}/eido", headers=board).json()
    eido_validator().validate(eido)
    assert eido["callbackComponent"][0]["callBackInformationUri"] == ["tel:+821012345678"]


def test_an_impossible_aml_fix_waiting_for_the_call_is_kept_refused_and_the_sos_stands(
    gateway: tuple[TestClient, World, str, Clock], engine: Engine
) -> None:
    client, _, secret, clock = gateway
    # Three SMS before the call; the last puts the phone 33 km away two seconds later.
    for top, lat, sent_s in (
        ("085950", "+37.56650", -9),
        ("085955", "+37.56660", -4),
        ("085958", "+37.86650", -1),
    ):
        clock.now = T0 + timedelta(seconds=sent_s)
        text = AML_V1.replace("085958", top).replace("+37.56650", lat)
        early = carrier_post(
            client, "/api/v1/carrier/aml", _aml(text, "01012345678"), secret=secret, at=clock.now
        )
        assert early.json()["incident_id"] is None
    clock.now = T0 + timedelta(seconds=5)
    call = carrier_post(
        client, "/api/v1/carrier/sos", _call("+821012345678"), secret=secret, at=clock.now
    )
    assert call.status_code in (200, 201), call.text
    with engine.connect() as conn:
        verdicts = conn.execute(
            sa.select(location_fixes.c.verdict).order_by(location_fixes.c.observed_at)
        ).scalars()
        assert list(verdicts) == ["accepted", "accepted", "refused", "accepted"]


_ELS_FORM = (
    "v=3&emergency_number=112&source=call&time=1795856400000&device_number=%2B821012345678"
    "&location_latitude={lat}&location_longitude=126.9781&location_accuracy=5"
    "&location_source=gps&location_time=1795856399000&device_imei=356938035643809"
)


def test_finding_unsigned_els_is_discarded_and_moves_nothing(
    gateway: tuple[TestClient, World, str, Clock],
) -> None:
    """Unsigned (or wrongly signed) ELS posts for a caller's number are answered 2xx and discarded."""
    client, _, secret, _ = gateway
    call = carrier_post(client, "/api/v1/carrier/sos", _call("+821012345678"), secret=secret, at=T0)
    incident_id = call.json()["incident_id"]
    before = client.get(f"/api/v1/incidents/{incident_id}", headers=staff_headers(client, "admin"))
    form_type = {"content-type": "application/x-www-form-urlencoded"}
    for lat, body in (
        ("37.5680", _ELS_FORM.format(lat="37.5680").encode()),
        ("37.5681", els_signed(_ELS_FORM.format(lat="37.5681"), key="not the gateway's key")),
    ):
        answer = client.post("/api/v1/els", content=body, headers=form_type)
        assert answer.status_code == 200, lat
        assert answer.json() == {"accepted": False, "incident_id": None, "reason": "malformed"}
    after = client.get(f"/api/v1/incidents/{incident_id}", headers=staff_headers(client, "admin"))
    assert after.json()["incident"]["location"] == before.json()["incident"]["location"]


def test_finding_els_flood_for_an_unknown_number_is_limited(
    gateway: tuple[TestClient, World, str, Clock],
) -> None:
    client, _, secret, _ = gateway
    form_type = {"content-type": "application/x-www-form-urlencoded"}
    reasons = [
        client.post(
            "/api/v1/els", content=els_signed(_ELS_FORM.format(lat="37.5667")), headers=form_type
        ).json()["reason"]
        for _ in range(8)
    ]
    assert reasons[:5] == [""] * 5
    assert reasons[5:] == ["rate_limited"] * 3
    # Once the call comes, its handset's fixes are never limited.
    carrier_post(client, "/api/v1/carrier/sos", _call("+821012345678"), secret=secret, at=T0)
    more = client.post(
        "/api/v1/els", content=els_signed(_ELS_FORM.format(lat="37.5668")), headers=form_type
    ).json()
    assert more["accepted"] is True
    assert more["incident_id"] is not None
