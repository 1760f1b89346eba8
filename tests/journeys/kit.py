"""Black-box kit: the real `ansim` processes, a stand-in SMS gateway, and clients for each audience.

Nothing here imports `ansim`: the journeys see the platform only as a user does, through HTTP, the
WebSocket stream, MQTT, the `ansim` CLI and chromium. The wire formats (terminal HMAC, app request
signing) are re-implemented from docs/terminal-protocol.md and docs/intake.md on purpose: a change
to either that breaks devices breaks these tests too.

One gap is bridged by reading the database: nothing on main sends the app's OTP text message (the
`sms_outbox` queue has no sender), so the kit plays the SMS centre and reads the code from that queue.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import httpx

ANSIM = str(Path(sys.executable).parent / "ansim")
# H4's port range (8130-8139): the served platform, the seeding demo, the stand-in SMS gateway.
SERVER_PORT = int(os.environ.get("ANSIM_JOURNEY_PORT", "8130"))
SEED_PORT = SERVER_PORT + 1
SMS_PORT = SERVER_PORT + 9
DEMO_PASSWORD = "ansim-demo-112"  # printed by `ansim demo`: the public demo accounts
MQTT_URL = os.environ.get("ANSIM_TEST_MQTT_URL", "mqtt://127.0.0.1:1883")
# Short policy times so a journey can wait past them in real time.
ACK_TIMEOUT_S = 4.0
ANSWER_TIMEOUT_S = 6.0
T = TypeVar("T")


def wait_for(
    what: str, probe: Callable[[], T | None], *, timeout_s: float = 10.0, every_s: float = 0.2
) -> T:
    """Polls `probe` until it returns something truthy; fails with `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    last: T | None = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(every_s)
    raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what} (last: {last!r})")


# --- the stand-in SMS gateway (our boundary: it records what the platform sends) -------------------


@dataclass
class Sms:
    to: str
    text: str
    received: float  # time.time() when it reached the gateway

    def link_token(self) -> str | None:
        marker = "/g/"
        if marker not in self.text:
            return None
        return self.text.split(marker, 1)[1].split()[0].strip(").,")


@dataclass
class SmsGateway:
    """Answers 200 to every signed JSON message and keeps it; the guardians' phones read from here."""

    port: int
    messages: list[Sms] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def to(self, number: str) -> list[Sms]:
        with self.lock:
            return [m for m in self.messages if m.to == number]

    def serve(self) -> ThreadingHTTPServer:
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with gateway.lock:
                    gateway.messages.append(Sms(body["to"], body["text"], time.time()))
                answer = json.dumps({"provider_id": uuid.uuid4().hex}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *_args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server


# --- the processes ----------------------------------------------------------------------------------


def seed_demo_world(folder: Path) -> Path:
    """Runs `ansim demo --rate 0` until it has seeded its world, then stops it; returns its database.

    The demo world (real police boxes, 35 patrol units, 24 pupils with guardians, the demo staff
    accounts) is the only public way to get units and staff without importing ansim.
    """
    data_dir = folder / "demo"
    process = subprocess.Popen(
        [ANSIM, "demo", "--rate", "0", "--port", str(SEED_PORT), "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "ANSIM_DATA_KEY": ""},
    )
    try:
        assert process.stdout is not None
        for line in process.stdout:
            if "live simulation:" in line:
                break
        else:
            raise RuntimeError("`ansim demo` ended before it seeded its world")
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        if process.stdout is not None:
            process.stdout.close()
    return data_dir / "ansim.db"


@dataclass
class Server:
    url: str
    database: Path
    process: subprocess.Popen[str]
    log: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def _copy_database(seeded: Path, database: Path) -> None:
    """Copies through SQLite's backup API: what the seeding demo committed may still sit in its WAL
    file (a demo killed under load never checkpointed), which a plain file copy would leave behind —
    the staff accounts with it, and every login then answers 401."""
    source = sqlite3.connect(seeded)
    target = sqlite3.connect(database)
    try:
        source.backup(target)
    finally:
        target.close()
        source.close()


@contextlib.contextmanager
def serving(seeded: Path, folder: Path, *, port: int = SERVER_PORT, **env: str) -> Iterator[Server]:
    """`ansim serve` on a copy of the seeded database, short deadlines, SMS to the stand-in gateway."""
    database = folder / "ansim.db"
    _copy_database(seeded, database)
    url = f"http://127.0.0.1:{port}"
    settings = {
        "ANSIM_DATABASE_URL": f"sqlite:///{database}",
        "ANSIM_DEMO": "true",
        "ANSIM_DATA_KEY": "",
        "ANSIM_DATA_DIR": str(folder),
        "ANSIM_REQUIRE_TOTP": "false",
        "ANSIM_ACK_TIMEOUT_S": str(ACK_TIMEOUT_S),
        # Units that let an order time out rest this long (the default 120 s would, with 4 s ack
        # timeouts and nobody at the demo's terminals, rest the whole fleet within the suite).
        "ANSIM_UNIT_REST_S": "3",
        "ANSIM_SCHEDULER_POLL_S": "0.2",
        "ANSIM_OUTBOX_POLL_S": "0.2",
        "ANSIM_MQTT_URL": MQTT_URL,
        "ANSIM_VERIFY_ANSWER_TIMEOUT_S": str(ANSWER_TIMEOUT_S),
        "ANSIM_VERIFY_NOTIFIER_POLL_S": "0.2",
        "ANSIM_VERIFY_PUBLIC_URL": url,
        "ANSIM_VERIFY_SMS_GATEWAY_URL": f"http://127.0.0.1:{SMS_PORT}/sms",
        "ANSIM_VERIFY_SMS_GATEWAY_SECRET": "journey-gateway-secret",
        "ANSIM_VERIFY_LINK_SECRET": "journey-link-secret",
        **env,
    }
    log = folder / "serve.log"
    with log.open("w") as sink:
        process = subprocess.Popen(
            [ANSIM, "serve", "--port", str(port)],
            stdout=sink,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, **settings},
        )
    server = Server(url=url, database=database, process=process, log=log)
    try:

        def ready() -> bool:
            if process.poll() is not None:
                raise RuntimeError(f"`ansim serve` exited:\n{server.log_text()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                return httpx.get(f"{url}/readyz", timeout=1).status_code == 200
            return False

        wait_for("`ansim serve` to be ready", ready, timeout_s=30)
        yield server
    finally:
        server.stop()


# --- staff (the board, the officers) ----------------------------------------------------------------


class Staff:
    def __init__(self, url: str, username: str) -> None:
        login = httpx.post(
            f"{url}/api/v1/session",
            json={"username": username, "password": DEMO_PASSWORD},
            timeout=10,
        )
        login.raise_for_status()
        self.url, self.token = url, str(login.json()["token"])
        # One connection per request: nothing is left open for the garbage collector to find.
        self.headers = {"Authorization": f"Bearer {self.token}"}

    def get(self, path: str, **params: Any) -> Any:
        answer = httpx.get(f"{self.url}{path}", params=params, headers=self.headers, timeout=15)
        assert answer.status_code == 200, (path, answer.status_code, answer.text)
        return answer.json()

    def post(self, path: str, body: Any = None) -> httpx.Response:
        return httpx.post(f"{self.url}{path}", json=body, headers=self.headers, timeout=15)

    def incident(self, incident_id: str) -> dict[str, Any]:
        detail: dict[str, Any] = self.get(f"/api/v1/incidents/{incident_id}")
        return detail

    def incidents(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.get("/api/v1/incidents")
        return found

    def orders(self, incident_id: str) -> list[dict[str, Any]]:
        return list(self.incident(incident_id)["assignments"])

    def people(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.get("/api/v1/admin/people")
        return found

    def guardian_phones(self, subscriber_id: str) -> list[str]:
        return [g["phone"] for g in self.get(f"/api/v1/admin/people/{subscriber_id}")["guardians"]]

    def enrol_terminal(self, terminal_id: str, subscriber_id: str) -> str:
        answer = self.post(
            "/api/v1/admin/terminals",
            {"terminal_id": terminal_id, "subscriber_id": subscriber_id},
        )
        assert answer.status_code in (200, 201), answer.text
        secret: str = answer.json()["secret"]
        return secret


def live_orders(orders: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Orders a unit is (or should be) acting on."""
    return [o for o in orders if o["state"] in ("ordered", "acknowledged", "en_route", "on_scene")]


# --- the 112 app (a registered phone) ---------------------------------------------------------------


@dataclass
class AppPhone:
    url: str
    number: str
    credential: str
    subscriber_id: str
    pin: str
    duress_pin: str

    clock_skew_s: int = 0  # how far the phone's clock runs ahead

    def _signed(self, method: str, url: str, body: bytes) -> dict[str, str]:
        """Signed as the PWA signs (scheme v2): method, path and query as sent, time, body digest."""
        timestamp = str(int(time.time()) + self.clock_skew_s)
        secret = self.credential.partition(".")[2]
        key = hashlib.sha256(secret.encode()).hexdigest().encode()
        target = httpx.URL(url).raw_path.decode("ascii")
        digest = hashlib.sha256(body).hexdigest()
        signed = "\n".join(("v2", method.upper(), target, timestamp, digest)).encode()
        signature = hmac.new(key, signed, hashlib.sha256).hexdigest()
        return {
            "Authorization": f"Bearer {self.credential}",
            "X-Ansim-Timestamp": timestamp,
            "X-Ansim-Signature": f"v2={signature}",
            "Content-Type": "application/json",
        }

    def request(
        self, method: str, path: str, document: Any = None, **headers: str
    ) -> httpx.Response:
        body = b"" if document is None else json.dumps(document).encode()
        url = f"{self.url}/api/v1/app{path}"
        return httpx.request(
            method,
            url,
            content=body,
            headers={**self._signed(method, url, body), **headers},
            timeout=15,
        )

    def sos(self, fix: dict[str, Any] | None = None) -> httpx.Response:
        return self.request(
            "POST", "/sos", {"fix": fix} if fix else {}, **{"Idempotency-Key": uuid.uuid4().hex}
        )

    def cancel(self, incident_id: str, pin: str) -> httpx.Response:
        return self.request("POST", f"/incidents/{incident_id}/cancel", {"pin": pin})

    def status(self, incident_id: str) -> httpx.Response:
        return self.request("GET", f"/incidents/{incident_id}")

    def upload_fixes(self, incident_id: str, fixes: list[dict[str, Any]]) -> httpx.Response:
        return self.request("POST", f"/incidents/{incident_id}/fixes", {"fixes": fixes})


def register_app(
    server: Server, *, number: str, guardian_phone: str, pin: str = "2580", duress_pin: str = "9631"
) -> AppPhone:
    """OTP registration as the PWA does it, then a guardian in the profile."""
    url = server.url
    challenge = httpx.post(
        f"{url}/api/v1/app/register",
        json={"phone_number": number, "client_id": uuid.uuid4().hex},
        timeout=10,
    )
    assert challenge.status_code == 202, challenge.text
    code = wait_for("the OTP text message", lambda: _otp_sent_to(server.database, number))
    verified = httpx.post(
        f"{url}/api/v1/app/register/verify",
        json={
            "challenge_id": challenge.json()["challenge_id"],
            "phone_number": number,
            "code": code,
            "pin": pin,
            "duress_pin": duress_pin,
            "name": "여행자 Journey",
            "birth_year": 2012,
        },
        timeout=10,
    )
    assert verified.status_code == 201, verified.text
    phone = AppPhone(
        url=url,
        number=number,
        credential=verified.json()["credential"],
        subscriber_id=verified.json()["subscriber_id"],
        pin=pin,
        duress_pin=duress_pin,
    )
    profile = phone.request(
        "PUT",
        "/profile",
        {
            "name": "여행자 Journey",
            "birth_year": 2012,
            "guardians": [{"name": "보호자", "phone": guardian_phone, "relation": "mother"}],
        },
    )
    assert profile.status_code == 200, profile.text
    return phone


def _otp_sent_to(database: Path, number: str) -> str | None:
    """The SMS centre's view of the OTP queue (see the module note: nothing sends it on main).

    Numbers and texts are sealed at rest (`ae1:<key id>:<base64 nonce|ciphertext|tag>`, AES-GCM
    with the key id as associated data); the served demo uses the public demo key.
    """
    with contextlib.closing(sqlite3.connect(database, timeout=5)) as db:
        rows = db.execute(
            "select address, body from deliveries where recipient_kind = 'app_user'"
            " order by created_at desc"
        ).fetchall()
    for to_number, body in rows:
        if _unseal(to_number) == number:
            text = _unseal(body)
            return next(word for word in text.split() if word.isdigit() and len(word) == 6)
    return None


DEMO_DATA_KEY = b"ansim-demo-key-not-for-real-use!"  # public: `ansim demo` and test suites only


def _unseal(stored: str) -> str:
    if not stored.startswith("ae1:"):
        return stored  # plain text from before encryption at rest
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    key_id, _, encoded = stored[len("ae1:") :].partition(":")
    raw = base64.b64decode(encoded)
    return AESGCM(DEMO_DATA_KEY).decrypt(raw[:12], raw[12:], key_id.encode()).decode()


def fix_at(
    lat: float, lon: float, *, accuracy_m: float = 10.0, ago_s: float = 0.0
) -> dict[str, Any]:
    observed = datetime.now(UTC) - timedelta(seconds=ago_s)
    return {"lat": lat, "lon": lon, "accuracy_m": accuracy_m, "observed_at": observed.isoformat()}


# Near 경복궁 / 광화문, inside the bundled road graph and among the demo police boxes.
CENTRE = (37.5725, 126.9769)


# --- the U-안심 terminal (wire protocol re-implemented from docs/terminal-protocol.md) ---------------


@dataclass
class Terminal:
    url: str
    terminal_id: str
    secret: str
    seq: int = 0

    def message(self, kind: str, **fields: Any) -> bytes:
        self.seq += 1
        document = {
            "v": 1,
            "type": kind,
            "terminal_id": self.terminal_id,
            "seq": self.seq,
            "sent_at": datetime.now(UTC).isoformat(),
            **fields,
        }
        unsigned = {k: v for k, v in document.items() if v is not None}
        canonical = json.dumps(
            unsigned, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()
        document["sig"] = hmac.new(self.secret.encode(), canonical, hashlib.sha256).hexdigest()
        return json.dumps(document, ensure_ascii=False).encode()

    def send(self, kind: str, **fields: Any) -> httpx.Response:
        return self.post(self.message(kind, **fields))

    def post(self, raw: bytes) -> httpx.Response:
        return httpx.post(f"{self.url}/api/v1/terminals/messages", content=raw, timeout=15)

    @staticmethod
    def fix(lat: float, lon: float, accuracy_m: float = 10.0) -> dict[str, Any]:
        return {
            "lat": lat,
            "lon": lon,
            "accuracy_m": accuracy_m,
            "method": "gnss",
            "at": datetime.now(UTC).isoformat(),
        }


def reply_of(answer: httpx.Response, kind: str = "ack") -> dict[str, Any]:
    assert answer.status_code == 200, (answer.status_code, answer.text)
    replies: list[dict[str, Any]] = answer.json()["replies"]
    return next(r for r in replies if r.get("type") == kind)
