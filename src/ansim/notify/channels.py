"""The senders: a generic signed-JSON SMS gateway over HTTP, SMTP e-mail, MQTT notices to
terminals, and a demo log."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Protocol

import aiomqtt
import aiosmtplib
import httpx

from ansim.domain.deliveries import Delivery, DeliveryError
from ansim.intake import terminal_protocol as protocol
from ansim.intake.mqtt import client_for
from ansim.security.signing import gateway_headers

log = logging.getLogger(__name__)
_RETRYABLE_HTTP = {408, 425, 429}


class Sender(Protocol):
    # True when the channel later reports delivery (SMS, terminal notices); e-mail ends at "sent".
    awaits_report: bool

    async def send(self, delivery: Delivery) -> str:
        """Hands the message over and returns the provider's reference; raises DeliveryError."""
        ...

    async def aclose(self) -> None: ...


class SmsGateway:
    """POSTs signed JSON to any SMS provider's webhook; reports come back on our callback."""

    awaits_report = True

    def __init__(
        self, *, url: str, secret: bytes, sender: str, callback_url: str, timeout_s: float
    ) -> None:
        self._url, self._secret, self._sender = url, secret, sender
        self._callback_url = callback_url
        self._timeout_s = timeout_s
        self._client: httpx.AsyncClient | None = None

    async def send(self, delivery: Delivery) -> str:
        body = json.dumps(
            {
                "message_id": delivery.message_id,
                "to": delivery.address,
                "from": self._sender,
                "text": delivery.body,
                "language": delivery.language,
                "callback_url": self._callback_url,
            },
            ensure_ascii=False,
        ).encode()
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Idempotency-Key": delivery.message_id,
            **gateway_headers(self._secret, body, at=datetime.now(UTC)),
        }
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self._timeout_s)
        try:
            answer = await self._client.post(self._url, content=body, headers=headers)
        except httpx.HTTPError as error:
            raise DeliveryError(f"SMS gateway unreachable: {type(error).__name__}") from error
        if answer.status_code >= 500 or answer.status_code in _RETRYABLE_HTTP:
            raise DeliveryError(f"SMS gateway answered {answer.status_code}")
        if answer.status_code >= 400:
            raise DeliveryError(
                f"SMS gateway refused the message: {answer.status_code} {answer.text[:200]}",
                permanent=True,
            )
        try:
            reference = answer.json().get("provider_id", "")
        except (ValueError, AttributeError):
            reference = ""
        return str(reference)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


class SmtpMailer:
    """Sends plain-text e-mail through an SMTP server (aiosmtplib)."""

    awaits_report = False

    def __init__(
        self,
        *,
        host: str,
        port: int,
        sender: str,
        username: str = "",
        password: str = "",
        starttls: bool = False,
        tls: bool = False,
        timeout_s: float = 10.0,
    ) -> None:
        self._host, self._port, self._sender = host, port, sender
        self._username, self._password = username or None, password or None
        self._starttls, self._tls, self._timeout_s = starttls, tls, timeout_s

    async def send(self, delivery: Delivery) -> str:
        message = EmailMessage()
        message["From"] = self._sender
        message["To"] = delivery.address
        message["Subject"] = delivery.subject
        message["Date"] = format_datetime(datetime.now(UTC))
        # Stable per attempt: a resend after a crash carries the same Message-ID.
        message["Message-ID"] = f"<{delivery.message_id}@ansim>"
        message.set_content(delivery.body)
        # After set_content, which drops every Content-* header set before it.
        message["Content-Language"] = delivery.language
        try:
            await aiosmtplib.send(
                message,
                hostname=self._host,
                port=self._port,
                username=self._username,
                password=self._password,
                start_tls=self._starttls,
                use_tls=self._tls,
                timeout=self._timeout_s,
            )
        except aiosmtplib.SMTPRecipientsRefused as error:
            raise DeliveryError(
                f"mail server refused the address: {error}", permanent=True
            ) from error
        except aiosmtplib.SMTPResponseException as error:
            raise DeliveryError(
                f"mail server answered {error.code} {error.message}", permanent=error.code >= 500
            ) from error
        except (aiosmtplib.SMTPException, OSError) as error:
            raise DeliveryError(f"mail server unreachable: {type(error).__name__}") from error
        return str(message["Message-ID"])

    async def aclose(self) -> None:
        return None


class TerminalNotices:
    """Publishes notices, signed when they were queued, on each terminal's down topic (QoS 1).

    "sent" is the broker's PUBACK; the device's signed `notice_ack` makes it "delivered". One
    connection serves every notice; a failed one is dropped and made again on the next send.
    """

    awaits_report = True

    def __init__(self, *, url: str, timeout_s: float) -> None:
        self._url, self._timeout_s = url, timeout_s
        self._client: aiomqtt.Client | None = None
        self._connection: contextlib.AsyncExitStack | None = None
        self._connecting: asyncio.Lock | None = None

    async def send(self, delivery: Delivery) -> str:
        topic = protocol.down_topic(delivery.address)
        try:
            client = await self._connected()
            await client.publish(topic, delivery.body.encode(), qos=1, timeout=self._timeout_s)
        except aiomqtt.MqttError as error:
            await self._drop()
            raise DeliveryError(f"MQTT broker unreachable: {error}") from error
        except ValueError as error:  # a malformed ANSIM_MQTT_URL: retrying cannot help
            raise DeliveryError(str(error), permanent=True) from error
        return f"mqtt:{topic}"

    async def _connected(self) -> aiomqtt.Client:
        # Made on first use, so the lock belongs to the loop that sends.
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            if self._client is None:
                client = client_for(
                    self._url,
                    identifier=f"ansim-notices-{uuid.uuid4().hex[:12]}",
                    timeout=self._timeout_s,
                )
                connection = contextlib.AsyncExitStack()
                await connection.enter_async_context(client)
                self._client, self._connection = client, connection
            return self._client

    async def _drop(self) -> None:
        connection, self._client, self._connection = self._connection, None, None
        if connection is not None:
            with contextlib.suppress(aiomqtt.MqttError, OSError):
                await connection.aclose()

    async def aclose(self) -> None:
        await self._drop()
        self._connecting = None


class DemoLog:
    """Demo mode without a gateway: the message is written to the log instead of sent."""

    awaits_report = False

    async def send(self, delivery: Delivery) -> str:
        log.info("demo %s to %s: %s", delivery.channel, delivery.address, delivery.body)
        return "demo-log"

    async def aclose(self) -> None:
        return None
