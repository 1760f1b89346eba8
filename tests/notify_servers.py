"""Real local servers for the notification channels: an SMS gateway receiver (uvicorn) and SMTP (aiosmtpd)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from tests.live import free_port, serving

GATEWAY_SECRET = b"gateway shared secret for tests"


@dataclass
class SmsReceiver:
    """What a provider's webhook saw; it checks our signature and content like a real one would."""

    url: str = ""
    calls: list[str] = field(default_factory=list)
    accepted: dict[str, dict[str, Any]] = field(default_factory=dict)
    rejected_signatures: int = 0
    # Answers for the next calls ("503", "400"...), then 200.
    script: list[int] = field(default_factory=list)
    # Seconds each call takes (a slow provider), so a sender can be killed mid-send.
    delay_s: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def texts(self) -> list[str]:
        with self.lock:
            return [m["text"] for m in self.accepted.values()]


def _receiver_app(state: SmsReceiver) -> FastAPI:
    app = FastAPI()

    @app.post("/sms")
    async def sms(request: Request) -> JSONResponse:
        body = await request.body()
        timestamp = request.headers.get("x-ansim-timestamp", "")
        expected = (
            "v1="
            + hmac.new(GATEWAY_SECRET, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
        )
        if not hmac.compare_digest(request.headers.get("x-ansim-signature", ""), expected):
            state.rejected_signatures += 1
            return JSONResponse({"error": "bad signature"}, status_code=401)
        message = json.loads(body)
        assert set(message) == {"message_id", "to", "from", "text", "language", "callback_url"}
        assert request.headers["idempotency-key"] == message["message_id"]
        with state.lock:
            state.calls.append(message["message_id"])
            status = state.script.pop(0) if state.script else 200
        if state.delay_s:
            await asyncio.sleep(state.delay_s)
        with state.lock:
            if status != 200:
                return JSONResponse({"error": "try later"}, status_code=status)
            # Like a real provider: the same idempotency key is accepted once.
            state.accepted.setdefault(message["message_id"], message)
            return JSONResponse({"provider_id": f"prov-{len(state.accepted)}"})

    return app


@contextmanager
def sms_receiver() -> Iterator[SmsReceiver]:
    state = SmsReceiver()
    with serving(_receiver_app(state)) as server:
        state.url = f"{server.url}/sms"
        yield state


@dataclass
class Mailbox:
    host: str
    port: int
    messages: list[EmailMessage] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        return "250 Message accepted for delivery"


@contextmanager
def smtp_server() -> Iterator[Mailbox]:
    mailbox = Mailbox("127.0.0.1", free_port())
    controller = Controller(mailbox, hostname=mailbox.host, port=mailbox.port)
    controller.start()
    try:
        yield mailbox
    finally:
        controller.stop()


def signed_report(
    report: dict[str, Any], *, timestamp: int, secret: bytes = GATEWAY_SECRET
) -> tuple[bytes, dict[str, str]]:
    """A provider's delivery report, signed the way the gateway contract says."""
    body = json.dumps(report).encode()
    mac = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    headers = {
        "Content-Type": "application/json",
        "X-Ansim-Timestamp": str(timestamp),
        "X-Ansim-Signature": f"v1={mac}",
    }
    return body, headers
