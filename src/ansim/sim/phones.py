"""The far side of SMS in a simulation: a provider that hands each message to a simulated phone."""

from __future__ import annotations

import queue
import re
from dataclasses import dataclass

from ansim.domain.deliveries import Delivery, DeliveryChannel, DeliveryError

# E.164: what our gateway contract promises to send, and what a real provider would refuse otherwise.
_PHONE = re.compile(r"^\+[1-9][0-9]{6,14}$")
# The guardian page link in a message: the token is everything after /g/ up to a space or the end.
_LINK = re.compile(r"/g/([A-Za-z0-9_-]+)")


@dataclass(frozen=True)
class Sms:
    """A text message as the phone shows it: who it is for and what it says."""

    message_id: str
    to: str
    text: str

    def link_token(self) -> str | None:
        """The token of the guardian-page link in the text, as a tap on the link would open it."""
        found = _LINK.search(self.text)
        return found.group(1) if found else None


class SimulatedSmsProvider:
    """A `Sender` for SMS: checks what we send like a provider would, then puts it in the phones' inbox.

    The notifier calls `send` from its own event loop (the app's, when served); the simulation takes
    the messages from its own thread with `take`, so the hand-over is a thread-safe queue.
    """

    awaits_report = True

    def __init__(self) -> None:
        self._inbox: queue.SimpleQueue[Sms] = queue.SimpleQueue()
        self.accepted = 0

    async def send(self, delivery: Delivery) -> str:
        if delivery.channel != DeliveryChannel.SMS:
            raise DeliveryError(f"an SMS provider cannot send {delivery.channel}", permanent=True)
        if not _PHONE.match(delivery.address):
            raise DeliveryError(f"not an E.164 number: {delivery.address!r}", permanent=True)
        if not delivery.body.strip():
            raise DeliveryError("empty message", permanent=True)
        self._inbox.put(Sms(delivery.message_id, delivery.address, delivery.body))
        self.accepted += 1
        return f"sim-{delivery.message_id}"

    def take(self) -> list[Sms]:
        """Every message that arrived since the last call, ordered by number (ties keep their order)."""
        arrived: list[Sms] = []
        while True:
            try:
                arrived.append(self._inbox.get_nowait())
            except queue.Empty:
                return sorted(arrived, key=lambda sms: sms.to)

    async def aclose(self) -> None:
        return None
