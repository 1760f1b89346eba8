"""Terminal messages over HTTP without the framework's routing: the city's busiest request.

100,000 terminals at a 60 s interval are 1,667 requests a second, nearly all heartbeats. Profiled
(docs/benchmarks.md, issue 15), FastAPI spent more CPU on such a request than the heartbeat's own
work: matching the path against every route of thirty routers, solving the dependencies, and
validating the response model. This plain ASGI layer answers `POST /api/v1/terminals/messages`
itself, with the same function the route uses (`terminal.answer`), so both give the same replies
and the same refusals; the route stays for the API's description and for apps built without it.
The route's access rule (`terminal_send_message`: DEVICE) needs no session: the message's own
signature is its authentication, checked in the command.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ansim.api.context import AppContext
from ansim.api.terminal import MESSAGES_PATH, answer
from ansim.intake.terminal_protocol import MAX_MESSAGE_BYTES
from ansim.security import access

_JSON = [(b"content-type", b"application/json")]


class TerminalMessages:
    """Serves the terminals' message endpoint ahead of the router; every other request passes."""

    def __init__(self, app: ASGIApp, context: AppContext) -> None:
        rule = access.rule_for("terminal_send_message")
        if rule is None or access.staff_only(rule):
            # The router's access check is skipped here: only a route without one may be.
            raise RuntimeError("terminal_send_message must stay a device route to bypass routing")
        self._app, self._context = app, context

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not (
            scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == MESSAGES_PATH
        ):
            await self._app(scope, receive, send)
            return
        raw = await _body(scope, receive, MAX_MESSAGE_BYTES)
        if raw is None:
            status, document = 413, {"detail": f"body is larger than {MAX_MESSAGE_BYTES} bytes"}
        else:
            status, document = await answer(self._context, raw)
        body = json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()
        headers = [*_JSON, (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


async def _body(scope: Scope, receive: Receive, limit: int) -> bytes | None:
    """The request body, or None once it is larger than `limit` (not read further)."""
    for name, value in scope["headers"]:
        if name == b"content-length" and value.isdigit() and int(value) > limit:
            return None
    body = bytearray()
    while True:
        message: Message = await receive()
        if message["type"] == "http.disconnect":
            break
        body.extend(message.get("body", b""))
        if len(body) > limit:
            return None
        if not message.get("more_body", False):
            break
    return bytes(body)
