"""`ansim device ...`: a U-안심 terminal on the command line (enrol, sos, walk, heartbeat, listen)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from ansim.intake import terminal_protocol as protocol

STATE_DIR = Path(os.environ.get("ANSIM_DEVICE_DIR", Path.home() / ".ansim-device"))
# Ids of the notices already shown, so a resend does not vibrate twice.
NOTICES_KEPT = 100


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = subparsers.add_parser("device", help="run a U-안심 terminal from the command line")
    command.add_argument("--server", default="http://127.0.0.1:8000", help="ansim base URL")
    command.add_argument("--terminal", required=True, help="terminal id, e.g. UA-0001")
    command.add_argument(
        "--mqtt", default=os.environ.get("ANSIM_MQTT_URL", ""), help="send over MQTT"
    )
    actions = command.add_subparsers(dest="action", required=True)
    enrol = actions.add_parser("enrol", help="enrol this terminal (needs an admin login)")
    enrol.add_argument("--subscriber", required=True)
    enrol.add_argument("--interval", type=int, default=300, help="reporting interval, s")
    enrol.add_argument("--username", default="admin")
    enrol.add_argument("--password", default=os.environ.get("ANSIM_ADMIN_PASSWORD", ""))
    sos = actions.add_parser("sos", help="press the SOS button")
    sos.add_argument("--lat", type=float, required=True)
    sos.add_argument("--lon", type=float, required=True)
    sos.add_argument("--accuracy", type=float, default=10.0)
    beat = actions.add_parser("heartbeat", help="send one heartbeat")
    beat.add_argument("--battery", type=int, default=90)
    walk = actions.add_parser("walk", help="walk along the road network, reporting fixes")
    walk.add_argument("--start", required=True, help="lat,lon")
    walk.add_argument("--end", required=True, help="lat,lon")
    walk.add_argument("--speed", type=float, default=1.4, help="walking speed, m/s")
    walk.add_argument("--every", type=float, default=5.0, help="seconds between fixes")
    walk.add_argument("--fast", action="store_true", help="do not wait in real time")
    walk.add_argument("--sos", action="store_true", help="press SOS at the start")
    listen = actions.add_parser(
        "listen", help="wait for notices (help coming...) over MQTT and acknowledge them"
    )
    listen.add_argument("--count", type=int, default=0, help="stop after this many (0: never)")
    listen.add_argument("--timeout", type=float, default=None, help="stop after this many s")
    command.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    device = Device(args.server, args.terminal, args.mqtt)
    if args.action == "enrol":
        secret = enrol(
            args.server, args.terminal, args.subscriber, args.interval, args.username, args.password
        )
        device.save({"secret": secret, "seq": 0})
        print(f"enrolled {args.terminal}; secret stored in {device.state_path}")
        return 0
    if args.action == "sos":
        fix = _fix(args.lat, args.lon, args.accuracy)
        print(json.dumps(device.send("sos", fix=fix), ensure_ascii=False))
    elif args.action == "listen":
        with contextlib.suppress(TimeoutError):  # --timeout ran out: a normal end
            asyncio.run(device.listen(count=args.count, timeout_s=args.timeout))
    elif args.action == "heartbeat":
        print(
            json.dumps(
                device.send(
                    "heartbeat",
                    battery_pct=args.battery,
                    config_version=device.state().get("config_version", 0),
                )
            )
        )
    else:
        for reply in walk_route(device, args):
            print(json.dumps(reply, ensure_ascii=False))
    return 0


def enrol(
    server: str, terminal_id: str, subscriber: str, interval: int, username: str, password: str
) -> str:
    with httpx.Client(base_url=server, timeout=10) as http:
        login = http.post("/api/v1/session", json={"username": username, "password": password})
        login.raise_for_status()
        headers = {"Authorization": f"Bearer {login.json()['token']}"}
        answer = http.post(
            "/api/v1/admin/terminals",
            json={
                "terminal_id": terminal_id,
                "subscriber_id": subscriber,
                "reporting_interval_s": interval,
            },
            headers=headers,
        )
        answer.raise_for_status()
        secret: str = answer.json()["secret"]
        return secret


class Device:
    """The terminal's state (secret, sequence) in a small file, and its two transports."""

    def __init__(self, server: str, terminal_id: str, mqtt_url: str = "") -> None:
        self.server, self.terminal_id, self.mqtt_url = server, terminal_id, mqtt_url
        self.state_path = STATE_DIR / f"{terminal_id}.json"

    def state(self) -> dict[str, Any]:
        if not self.state_path.exists():
            raise SystemExit(f"terminal {self.terminal_id} is not enrolled here; run `enrol` first")
        state: dict[str, Any] = json.loads(self.state_path.read_text())
        return state

    def save(self, state: dict[str, Any]) -> None:
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        self.state_path.write_text(json.dumps(state))
        self.state_path.chmod(0o600)

    def message(self, kind: str, **fields: Any) -> tuple[int, bytes]:
        """The next signed message; its sequence number is stored before it leaves."""
        state = self.state()
        state["seq"] += 1
        self.save(state)
        message = protocol.sign(
            {
                "v": protocol.PROTOCOL_VERSION,
                "type": kind,
                "terminal_id": self.terminal_id,
                "seq": state["seq"],
                "sent_at": datetime.now(UTC).isoformat(),
                **fields,
            },
            secret=state["secret"],
        )
        return state["seq"], json.dumps(message, ensure_ascii=False).encode()

    def send(self, kind: str, **fields: Any) -> list[dict[str, Any]]:
        """Signs and sends one message; returns the server's replies (and answers any notice)."""
        seq, raw = self.message(kind, **fields)
        replies = asyncio.run(self._send_mqtt(raw, seq)) if self.mqtt_url else self._send_http(raw)
        state = self.state()
        for reply in replies:
            protocol.verify(reply, secret=state["secret"])  # a forged reply stops here
            if reply.get("type") == "config":
                state["config_version"] = reply["config_version"]
                self.save(state)
        for notice in [r for r in replies if r.get("type") == "notice"]:
            if self.note_notice(notice):
                replies += self.send("notice_ack", notice_id=notice["notice_id"])
        return replies

    def note_notice(self, notice: dict[str, Any]) -> bool:
        """Remembers a verified notice; False when it was already shown (a resend)."""
        state = self.state()
        shown: list[str] = state.setdefault("notices", [])
        if notice["notice_id"] in shown:
            return False
        state["notices"] = [*shown, notice["notice_id"]][-NOTICES_KEPT:]
        self.save(state)
        return True

    def _send_http(self, raw: bytes) -> list[dict[str, Any]]:
        answer = httpx.post(f"{self.server}/api/v1/terminals/messages", content=raw, timeout=10)
        answer.raise_for_status()
        replies: list[dict[str, Any]] = answer.json()["replies"]
        return replies

    async def _send_mqtt(self, raw: bytes, seq: int) -> list[dict[str, Any]]:
        """Publishes on the up topic; collects the down topic until this message's ack."""
        from ansim.intake.mqtt import client_for

        identifier = f"device-{self.terminal_id}-{uuid.uuid4().hex[:8]}"
        replies: list[dict[str, Any]] = []
        async with client_for(self.mqtt_url, identifier=identifier) as client:
            await client.subscribe(protocol.down_topic(self.terminal_id), qos=1)
            await client.publish(protocol.up_topic(self.terminal_id), raw, qos=1)
            async with asyncio.timeout(10):
                async for message in client.messages:
                    reply: dict[str, Any] = json.loads(bytes(message.payload))
                    replies.append(reply)
                    if reply.get("type") == "ack" and reply.get("seq") == seq:
                        break
        return replies

    async def listen(self, *, count: int = 0, timeout_s: float | None = None) -> int:
        """Waits for notices (MQTT), prints each verified one and answers `notice_ack`.

        A persistent session (stable client id, clean_session off) lets the broker keep notices
        published while the device was away. Returns how many notices were acknowledged.
        """
        from ansim.intake.mqtt import client_for

        if not self.mqtt_url:
            raise SystemExit("listening for notices needs --mqtt (or ANSIM_MQTT_URL)")
        secret = self.state()["secret"]
        acknowledged, waiting = 0, set()
        async with (
            client_for(
                self.mqtt_url, identifier=f"device-{self.terminal_id}", clean_session=False
            ) as client,
            asyncio.timeout(timeout_s),
        ):
            await client.subscribe(protocol.down_topic(self.terminal_id), qos=1)
            async for message in client.messages:
                document: dict[str, Any] = json.loads(bytes(message.payload))
                try:
                    protocol.verify(document, secret=secret)
                except protocol.BadSignature:
                    print("refused a message with a bad signature", file=sys.stderr)
                    continue
                if document.get("type") == "ack" and document.get("seq") in waiting:
                    waiting.discard(document["seq"])
                    print(json.dumps(document, ensure_ascii=False))
                elif document.get("type") == "notice":
                    if self.note_notice(document):
                        print(json.dumps(document, ensure_ascii=False))
                    # Acknowledged even when repeated: the first ack may have been lost.
                    seq, raw = self.message("notice_ack", notice_id=document["notice_id"])
                    await client.publish(protocol.up_topic(self.terminal_id), raw, qos=1)
                    waiting.add(seq)
                    acknowledged += 1
                if count and acknowledged >= count and not waiting:
                    break
        return acknowledged


def walk_route(device: Device, args: argparse.Namespace) -> list[dict[str, Any]]:
    """Walks the shortest road path from start to end, one fix every `every` seconds."""
    from ansim.geo.demo_data import load_road_graph
    from ansim.geo.routing import NoRoute, route

    graph = load_road_graph()
    start, end = (tuple(float(v) for v in point.split(",")) for point in (args.start, args.end))
    path = route(graph, graph.snap(*start), graph.snap(*end))
    if isinstance(path, NoRoute):
        raise SystemExit(path.reason)
    points = points_along(path.polyline, step_m=args.speed * args.every)
    replies: list[dict[str, Any]] = []
    if args.sos:
        replies += device.send("sos", fix=_fix(*points[0], 8.0))
    for lat, lon in points[1:]:
        if not args.fast:
            time.sleep(args.every)
        replies += device.send("location", fix=_fix(lat, lon, 8.0))
    return replies


def points_along(
    polyline: tuple[tuple[float, float], ...], *, step_m: float
) -> list[tuple[float, float]]:
    """Points every `step_m` metres along a (lat, lon) polyline, ends included."""
    from ansim.geo.geodesy import haversine_m

    points = [polyline[0]]
    carried = 0.0
    for (lat1, lon1), (lat2, lon2) in itertools.pairwise(polyline):
        length = haversine_m(lat1, lon1, lat2, lon2)
        position = step_m - carried
        while position <= length and length > 0:
            share = position / length
            points.append((lat1 + (lat2 - lat1) * share, lon1 + (lon2 - lon1) * share))
            position += step_m
        carried = (carried + length) % step_m if step_m > 0 else 0.0
    if points[-1] != polyline[-1]:
        points.append(polyline[-1])
    return points


def _fix(lat: float, lon: float, accuracy: float) -> dict[str, Any]:
    return {
        "lat": round(lat, 7),
        "lon": round(lon, 7),
        "accuracy_m": accuracy,
        "method": "gnss",
        "at": datetime.now(UTC).isoformat(),
    }
