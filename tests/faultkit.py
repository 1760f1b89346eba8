"""Fault-test kit: real `ansim serve` processes on free ports, SOS senders that retry, a cuttable TCP proxy."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import sqlalchemy as sa
from tests.apiclient import SOS_BODY, app_request
from tests.conftest import POSTGRES_ADMIN_URL, _database_url, missing_service
from tests.factories import World, build_world
from tests.live import free_port
from websockets.sync.client import connect as ws_connect

from ansim.store.db import make_engine
from ansim.store.tables import idempotency_keys, incidents, outbox

T = TypeVar("T")
SRC = Path(__file__).resolve().parent.parent / "src"
NATS_SERVER = os.environ.get("ANSIM_NATS_SERVER", "/usr/sbin/nats-server")


@dataclass
class Scene:
    """A fresh PostgreSQL database seeded with the test world, and the processes started on it."""

    database_url: str
    world: World
    tmp: Path
    processes: list[Server] = field(default_factory=list)

    def serve(self, role: str, *, database_url: str | None = None, **env: str) -> Server:
        server = Server(
            role=role,
            port=free_port(),
            env={"ANSIM_DATABASE_URL": database_url or self.database_url, **env},
            log=self.tmp / f"{role.replace(',', '+')}-{len(self.processes)}.log",
        )
        self.processes.append(server)
        server.start()
        return server

    def engine(self) -> sa.Engine:
        return make_engine(self.database_url)


@pytest.fixture(name="scene")
def scene_fixture(postgres_template: str, tmp_path: Path) -> Iterator[Scene]:
    """Import `scene_fixture` into a test module to use the `scene` fixture."""
    name = f"ansim_f_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{postgres_template}"'))
    url = _database_url(name)
    engine = make_engine(url)
    world = build_world(engine)
    engine.dispose()
    scene = Scene(database_url=url, world=world, tmp=tmp_path)
    try:
        yield scene
    finally:
        for server in scene.processes:
            server.stop()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@dataclass
class Server:
    """One `ansim serve --role ...` process."""

    role: str
    port: int
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {
            **os.environ,
            "PYTHONPATH": str(SRC),
            "ANSIM_MERGE_WINDOW_S": "0",  # every SOS its own incident, so duplicates would show
            "ANSIM_AUTO_DISPATCH": "false",
            "ANSIM_OUTBOX_POLL_S": "0.1",
            "ANSIM_SCHEDULER_POLL_S": "0.2",
            "ANSIM_LOG_FORMAT": "json",
            **self.env,
        }
        command = [sys.executable, "-c", "import sys; from ansim.cli import main; sys.exit(main())"]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [*command, "serve", "--role", self.role, "--port", str(self.port), "--no-migrate"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def wait_healthy(self, timeout_s: float = 90.0) -> float:
        """Seconds until /healthz answers."""
        started = time.monotonic()
        while time.monotonic() - started < timeout_s:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.role} exited:\n{self.log.read_text()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return time.monotonic() - started
            time.sleep(0.05)
        raise RuntimeError(f"{self.role} did not become healthy:\n{self.log.read_text()[-3000:]}")

    def kill9(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


@dataclass
class Press:
    """One SOS press: its idempotency key, and what the sender saw."""

    key: str
    attempts: int = 0
    statuses: list[int] = field(default_factory=list)
    incident_id: str | None = None
    first_at: float = 0.0
    acked_at: float | None = None
    refused_at: float | None = None  # first refusal (503 or no answer)


# Posts one try of a press to a worker; the default is the app's SOS.
SendOnce = Callable[[httpx.Client, str, "Press"], httpx.Response]


class Senders:
    """Threads posting SOS at a steady rate; each press retries with its key until acknowledged."""

    def __init__(
        self,
        urls: list[str],
        credential: str,
        *,
        threads: int = 3,
        every_s: float = 0.1,
        send: SendOnce | None = None,
    ) -> None:
        self.urls = urls
        self.credential = credential
        self.send = send or self._app_sos
        self.threads = threads
        self.every_s = every_s
        self.presses: list[Press] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._workers: list[threading.Thread] = []
        self.retry_deadline_s = 25.0

    def start(self) -> None:
        for index in range(self.threads):
            worker = threading.Thread(target=self._run, args=(index,), daemon=True)
            worker.start()
            self._workers.append(worker)

    def stop_and_settle(self, timeout_s: float = 30.0) -> None:
        """Stops new presses; waits for the retries of those sent."""
        self._stop.set()
        for worker in self._workers:
            worker.join(timeout_s)

    def _run(self, index: int) -> None:
        with httpx.Client(timeout=5) as client:
            turn = index
            while not self._stop.is_set():
                press = Press(key=f"fault-{uuid.uuid4().hex}", first_at=time.monotonic())
                with self._lock:
                    self.presses.append(press)
                turn = self._deliver(client, press, turn)
                time.sleep(self.every_s)

    def _app_sos(self, client: httpx.Client, url: str, press: Press) -> httpx.Response:
        # Each try signs afresh (as the PWA does) under the same key: one press, one incident.
        return client.post(
            f"{url}/api/v1/app/sos", **app_request(self.credential, SOS_BODY, press.key)
        )

    def _deliver(self, client: httpx.Client, press: Press, turn: int) -> int:
        while time.monotonic() - press.first_at < self.retry_deadline_s:
            url = self.urls[turn % len(self.urls)]
            press.attempts += 1
            wait = 0.2
            try:
                answer = self.send(client, url, press)
            except httpx.HTTPError:
                press.statuses.append(0)
            else:
                press.statuses.append(answer.status_code)
                if answer.status_code in (200, 201):
                    press.incident_id = answer.json()["incident_id"]
                    press.acked_at = time.monotonic()
                    return turn
                if answer.status_code == 503:
                    assert "Retry-After" in answer.headers, "a 503 must say when to retry"
                    wait = min(float(answer.headers["Retry-After"]), 0.5)
                elif answer.status_code < 500:
                    raise AssertionError(f"unexpected answer {answer.status_code}: {answer.text}")
            if press.refused_at is None:
                press.refused_at = time.monotonic()
            turn += 1  # the next attempt goes to another worker, as a load balancer would
            time.sleep(wait)
        return turn


@dataclass
class Report:
    sent: int
    acknowledged: int
    stored: int
    duplicated: int
    lost: int
    refused_attempts: int
    retried_presses: int
    longest_wait_s: float

    def print(self, title: str, **figures: object) -> None:
        extra = "".join(f"  {name}={value}" for name, value in figures.items())
        print(
            f"\n[{title}] sent={self.sent} acknowledged={self.acknowledged} stored={self.stored} "
            f"duplicated={self.duplicated} lost={self.lost} refused_attempts={self.refused_attempts} "
            f"retried_presses={self.retried_presses} longest_wait_s={self.longest_wait_s:.2f}{extra}"
        )


def audit(engine: sa.Engine, presses: list[Press]) -> Report:
    """Compares what the senders were told with what the database holds."""
    with engine.connect() as conn:
        stored = dict(
            conn.execute(sa.select(idempotency_keys.c.key, idempotency_keys.c.incident_id)).all()
        )
        incident_count = conn.execute(
            sa.select(sa.func.count()).select_from(incidents)
        ).scalar_one()
    acked = [p for p in presses if p.incident_id is not None]
    lost = [p for p in acked if stored.get(p.key) != p.incident_id]
    ours = {p.key for p in presses}
    return Report(
        sent=len(presses),
        acknowledged=len(acked),
        stored=sum(1 for key in stored if key in ours),
        # Every press opens its own incident (merge window 0): any incident beyond one per key is a duplicate.
        duplicated=incident_count - len(set(stored.values())),
        lost=len(lost),
        refused_attempts=sum(1 for p in presses for s in p.statuses if s not in (200, 201)),
        retried_presses=sum(1 for p in presses if p.attempts > 1),
        longest_wait_s=max(
            ((p.acked_at or time.monotonic()) - p.first_at for p in presses), default=0.0
        ),
    )


def outbox_ids(engine: sa.Engine) -> list[int]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(outbox.c.id).order_by(outbox.c.id)).scalars())


def staff_token(url: str, username: str, password: str) -> str:
    answer = httpx.post(
        f"{url}/api/v1/session", json={"username": username, "password": password}, timeout=10
    )
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["token"]
    return token


class Board:
    """A situation-board WebSocket in a thread, recording every event it is sent."""

    def __init__(self, url: str, token: str) -> None:
        self.ws_url = url.replace("http://", "ws://") + "/api/v1/stream?after=0"
        self.token = token
        self.events: list[dict[str, object]] = []
        self.received_at: list[float] = []
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.connected = threading.Event()

    def start(self) -> None:
        self._thread.start()
        assert self.connected.wait(15), f"board did not connect: {self.error!r}"

    def _run(self) -> None:
        try:
            with ws_connect(
                self.ws_url, additional_headers={"Authorization": f"Bearer {self.token}"}
            ) as ws:
                self.connected.set()
                while not self._stop.is_set():
                    with contextlib.suppress(TimeoutError):
                        message = ws.recv(timeout=0.2)
                        self.events.append(json.loads(message))
                        self.received_at.append(time.monotonic())
        except BaseException as error:
            self.error = error
            self.connected.set()

    def ids(self) -> list[int]:
        return [int(str(e["id"])) for e in self.events]

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


def need_nats_server() -> None:
    if not Path(NATS_SERVER).exists():
        missing_service(f"nats-server is not installed at {NATS_SERVER}")


class NatsServer:
    """A private JetStream server on a free port, with its store under the test's tmp dir."""

    def __init__(self, store: Path) -> None:
        self.port = free_port()
        self.store = store
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [NATS_SERVER, "-js", "-a", "127.0.0.1", "-p", str(self.port), "-sd", str(self.store)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), 0.2),
            ):
                return
            time.sleep(0.05)
        raise RuntimeError("nats-server did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


class CuttableProxy:
    """A TCP proxy to PostgreSQL that the test can cut (every connection dropped, new ones refused)."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self._open = threading.Event()
        self._open.set()
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def cut(self) -> None:
        self._open.clear()
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)  # its pump sees the end and closes it

    def restore(self) -> None:
        self._open.set()

    def close(self) -> None:
        self._closed = True
        self.cut()
        self.listener.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self._open.is_set():
                client.close()  # refused while cut: the driver fails at once, not after a timeout
                continue
            try:
                upstream = socket.create_connection(self.target, 2)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets.update((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                sink.shutdown(socket.SHUT_RDWR)
            with self._lock:
                self._sockets.discard(source)
            source.close()


def proxied_url(database_url: str, port: int) -> str:
    return sa.make_url(database_url).set(host="127.0.0.1", port=port).render_as_string(False)


def run_in_own_loop(scenario: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Runs `scenario` in a fresh event loop on its own thread (Playwright may own this thread's loop)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, scenario()).result()
