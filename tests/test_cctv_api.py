"""The CCTV control center API end to end: district access, selection, aiming, marks on the board."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from tests.apiclient import SOS_BODY, app_request, running_app, staff_headers
from tests.factories import PASSWORD, T0, World, build_world
from tests.live import free_port
from tests.onvif_camera import FakePtzCamera, running_camera

from ansim.domain.events import validate_event
from ansim.domain.staff import Role
from ansim.geo.demo_data import district_at
from ansim.geo.geodesy import LocalFrame
from ansim.services import staff
from ansim.store.db import make_session_factory
from ansim.store.uow import UnitOfWork

CITY_HALL = (37.5665, 126.978)
FRAME = LocalFrame(*CITY_HALL)


@dataclass
class CctvWorld:
    client: TestClient
    world: World
    ptz: FakePtzCamera
    cameras: dict[str, str]
    incident_id: str
    operator: dict[str, str]


def register(
    client: TestClient, admin: dict[str, str], east: float, north: float, **kw: object
) -> str:
    lat, lon = FRAME.to_latlon(east, north)
    body = {
        "gu": "중구",
        "address": f"세종대로 {east:+.0f},{north:+.0f}",
        "lat": lat,
        "lon": lon,
    } | kw
    answer = client.post("/api/v1/cctv/cameras", json=body, headers=admin)
    assert answer.status_code == 201, answer.text
    camera_id: str = answer.json()["id"]
    return camera_id


@pytest.fixture
def cctv(engine: Engine, database_url: str) -> Iterator[CctvWorld]:
    world = build_world(engine)
    with UnitOfWork(make_session_factory(engine)).begin() as session:
        staff.create_user(
            session, username="gangnam_cctv", password=PASSWORD, role=Role.CCTV_OPERATOR,
            display_name="강남 관제", at=T0,
        )  # fmt: skip
    with running_camera() as ptz, running_app(engine, database_url) as client:
        admin = staff_headers(client, "admin")
        for username, gu in (("cctv_operator", "중구"), ("gangnam_cctv", "Gangnam-gu")):
            answer = client.put(
                f"/api/v1/cctv/operators/{username}/area", json={"gu": gu}, headers=admin
            )
            assert answer.status_code == 200, answer.text
        cameras = {
            "dome": register(
                client, admin, 0, 40, ptz=True, onvif_url=ptz.url, onvif_username="operator",
                onvif_password="cam-secret", onvif_profile="Profile_1", onvif_preset="Preset_Gate",
                stream_url="rtsp://10.0.0.7/live/1", mount_height_m=6.0,
            ),
            "fixed": register(client, admin, 30, 0),
            "dead": register(
                client, admin, -20, 0, ptz=True, onvif_url=f"http://127.0.0.1:{free_port()}/onvif",
                onvif_username="operator", onvif_password="x",
            ),
            "far": register(client, admin, 3000, 0),
        }  # fmt: skip
        sos = client.post(
            "/api/v1/app/sos", **app_request(world.app_credential, SOS_BODY, "cctv-press-0001")
        )
        assert sos.status_code == 201, sos.text
        yield CctvWorld(
            client,
            world,
            ptz,
            cameras,
            sos.json()["incident_id"],
            staff_headers(client, "cctv_operator"),
        )


def test_city_hall_lies_in_jung_gu() -> None:
    district = district_at(*CITY_HALL)
    assert district is not None
    assert district.name_ko == "중구"


def test_the_operator_of_the_district_sees_the_incident_and_its_cameras(cctv: CctvWorld) -> None:
    client = cctv.client
    me = client.get("/api/v1/cctv/me", headers=cctv.operator).json()
    assert me["gu"] == "중구"
    listed = client.get("/api/v1/cctv/incidents", headers=cctv.operator).json()
    assert [i["id"] for i in listed] == [cctv.incident_id]
    detail = client.get(f"/api/v1/cctv/incidents/{cctv.incident_id}", headers=cctv.operator)
    assert detail.status_code == 200, detail.text
    chosen = {c["id"]: c for c in detail.json()["cameras"]}
    assert set(chosen) == {cctv.cameras[k] for k in ("dome", "fixed", "dead")}
    assert chosen[cctv.cameras["dome"]]["steerable"] is True
    assert chosen[cctv.cameras["fixed"]]["range_m"] == 50.0
    assert all(0 < c["share"] <= 1 for c in chosen.values())
    # Ranked by share of the likely area, then distance: the three all cover the whole ±32 m circle?
    shares = [c["share"] for c in detail.json()["cameras"]]
    assert shares == sorted(shares, reverse=True)


def test_another_district_sees_nothing_and_is_refused(cctv: CctvWorld) -> None:
    client = cctv.client
    gangnam = staff_headers(client, "gangnam_cctv")
    assert client.get("/api/v1/cctv/incidents", headers=gangnam).json() == []
    refused = client.get(f"/api/v1/cctv/incidents/{cctv.incident_id}", headers=gangnam)
    assert refused.status_code == 403
    assert "outside 강남구" in refused.json()["detail"]


def test_only_cameras_covering_the_incident_may_be_opened(cctv: CctvWorld) -> None:
    base = f"/api/v1/cctv/incidents/{cctv.incident_id}/cameras"
    far = cctv.client.post(f"{base}/{cctv.cameras['far']}/live", headers=cctv.operator)
    assert far.status_code == 403
    live = cctv.client.post(f"{base}/{cctv.cameras['dome']}/live", headers=cctv.operator).json()
    assert live == {
        "camera_id": cctv.cameras["dome"],
        "stream_url": "rtsp://10.0.0.7/live/1",
        "status": "available",
    }
    fixed = cctv.client.post(f"{base}/{cctv.cameras['fixed']}/live", headers=cctv.operator).json()
    assert fixed["status"] == "no_stream"


def test_aiming_turns_the_dome_and_a_dead_camera_reports_unreachable(cctv: CctvWorld) -> None:
    base = f"/api/v1/cctv/incidents/{cctv.incident_id}/cameras"
    aimed = cctv.client.post(f"{base}/{cctv.cameras['dome']}/aim", json={}, headers=cctv.operator)
    assert aimed.status_code == 200, aimed.text
    body = aimed.json()
    assert body["status"] == "moved"
    assert body["bearing_deg"] == pytest.approx(180, abs=0.5)  # the dome stands north of the person
    assert body["distance_m"] == pytest.approx(40, abs=0.5)
    assert cctv.ptz.moves == [{"pan": body["pan"], "tilt": body["tilt"], "zoom": body["zoom"]}]
    assert body["pan"] == pytest.approx(1.0, abs=0.01) or body["pan"] == pytest.approx(
        -1.0, abs=0.01
    )
    assert body["tilt"] < 0
    preset = cctv.client.post(
        f"{base}/{cctv.cameras['dome']}/aim", json={"preset": True}, headers=cctv.operator
    )
    assert preset.json()["status"] == "preset"
    assert cctv.ptz.moves[-1] == {"preset": "Preset_Gate"}
    dead = cctv.client.post(f"{base}/{cctv.cameras['dead']}/aim", json={}, headers=cctv.operator)
    assert dead.status_code == 200
    assert dead.json()["status"] == "unreachable"
    assert "connection refused" in dead.json()["message"]
    fixed = cctv.client.post(f"{base}/{cctv.cameras['fixed']}/aim", json={}, headers=cctv.operator)
    assert fixed.status_code == 409


def test_sightings_and_clips_reach_the_board_stream_and_timeline(cctv: CctvWorld) -> None:
    client = cctv.client
    board = staff_headers(client, "dispatcher")
    backlog = client.get("/api/v1/incidents", headers=board)
    assert backlog.status_code == 200
    incident = f"/api/v1/cctv/incidents/{cctv.incident_id}"
    with client.websocket_connect("/api/v1/stream?after=0", headers=board) as stream:
        seen = client.post(
            f"{incident}/sightings",
            json={"camera_id": cctv.cameras["dome"], "note": "노란 우산, 북쪽으로 걸어감"},
            headers=cctv.operator,
        )
        assert seen.status_code == 201, seen.text
        clip = client.post(
            f"{incident}/clips", json={"camera_id": cctv.cameras["dome"]}, headers=cctv.operator
        )
        assert clip.status_code == 201, clip.text
        types: list[str] = []
        while "cctv.clip_requested" not in types:
            envelope = json.loads(stream.receive_text())
            types.append(envelope["type"])
            # What the board receives is exactly the registered schema's JSON.
            assert validate_event(envelope["type"], envelope["data"]) == envelope["data"]
            if envelope["type"] == "cctv.person_seen":
                assert envelope["data"]["note"] == "노란 우산, 북쪽으로 걸어감"
                assert envelope["incident_id"] == cctv.incident_id
    assert types.index("cctv.person_seen") < types.index("cctv.clip_requested")
    timeline = client.get(f"/api/v1/incidents/{cctv.incident_id}", headers=board).json()["timeline"]
    kinds = [e["kind"] for e in timeline]
    assert kinds[-2:] == ["person_seen", "clip_requested"]
    clip_entry = timeline[-1]["data"]
    assert clip_entry["start"] < clip_entry["end"]
    marks = client.get(incident, headers=cctv.operator).json()["marks"]
    assert [m["kind"] for m in marks] == ["person_seen", "clip_requested"]


def test_access_ends_with_the_incident_and_every_view_is_logged(cctv: CctvWorld) -> None:
    client = cctv.client
    incident = f"/api/v1/cctv/incidents/{cctv.incident_id}"
    assert client.get(incident, headers=cctv.operator).status_code == 200
    client.post(f"{incident}/cameras/{cctv.cameras['dome']}/live", headers=cctv.operator)
    client.get("/api/v1/cctv/incidents", headers=cctv.operator)
    client.get("/api/v1/cctv/incidents", headers=cctv.operator)  # same list again: one row
    supervisor = staff_headers(client, "supervisor")
    for status in ("confirmed", "resolved"):
        answer = client.post(
            f"/api/v1/incidents/{cctv.incident_id}/status",
            json={"status": status},
            headers=supervisor,
        )
        assert answer.status_code == 200, answer.text
    assert client.get(incident, headers=cctv.operator).status_code == 403
    assert client.get("/api/v1/cctv/incidents", headers=cctv.operator).json() == []
    log = client.get("/api/v1/cctv/view-log", headers=supervisor).json()
    actions = [(row["username"], row["action"]) for row in reversed(log)]
    assert actions == [
        ("cctv_operator", "incident"),
        ("cctv_operator", "live_view"),
        ("cctv_operator", "list"),
        ("cctv_operator", "list"),  # the list changed: the incident is gone
    ]
    assert log[-1]["incident_id"] == cctv.incident_id
    assert client.get("/api/v1/cctv/view-log", headers=cctv.operator).status_code == 403


def test_bad_requests_are_clear(cctv: CctvWorld) -> None:
    client = cctv.client
    admin = staff_headers(client, "admin")
    unknown = client.put(
        "/api/v1/cctv/operators/cctv_operator/area", json={"gu": "판교구"}, headers=admin
    )
    assert unknown.status_code == 422
    assert "unknown district" in unknown.json()["detail"]
    not_operator = client.put(
        "/api/v1/cctv/operators/dispatcher/area", json={"gu": "중구"}, headers=admin
    )
    assert not_operator.status_code == 422
    bad_fov = client.patch(
        f"/api/v1/cctv/cameras/{cctv.cameras['fixed']}", json={"fov_deg": 0}, headers=admin
    )
    assert bad_fov.status_code == 422
    turned = client.patch(
        f"/api/v1/cctv/cameras/{cctv.cameras['fixed']}",
        json={"fov_deg": 90, "range_m": 80},
        headers=admin,
    )
    assert turned.json()["range_m"] == 80
    assert client.post("/api/v1/cctv/cameras", json={}, headers=cctv.operator).status_code == 403
    assert client.get("/api/v1/cctv/incidents/nope", headers=cctv.operator).status_code == 404
    assert (
        client.get("/api/v1/cctv/incidents", headers=staff_headers(client, "officer")).status_code
        == 403
    )
