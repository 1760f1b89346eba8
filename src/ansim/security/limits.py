"""Request body limits: a body past the limit is refused with 413 before anything parses it."""

from __future__ import annotations

import json
from collections.abc import Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Routes that take files (CSV imports) read their own, larger limit with `read_body`; the global
# limit must not pre-empt theirs. Exact paths, each with the most it may take.
LARGER_BODIES: Mapping[str, int] = {"/api/v1/admin/people/import": 2 * 1024 * 1024}


class BodyTooLarge(Exception):
    pass


class BodyLimit:
    """ASGI middleware: refuses a declared or streamed body longer than `max_bytes`."""

    def __init__(
        self, app: ASGIApp, *, max_bytes: int, larger: Mapping[str, int] = LARGER_BODIES
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.larger = dict(larger)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = max(self.larger.get(scope.get("path", ""), 0), self.max_bytes)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await self._refuse(send, limit)
            return
        seen = 0
        too_large = refused = False

        async def counting_receive() -> Message:
            nonlocal seen, too_large
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    too_large = True
                    raise BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal refused
            if not too_large:
                await send(message)
            elif not refused:
                # The app may have turned our exception into its own error answer: ours replaces it.
                refused = True
                await self._refuse(send, limit)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except BodyTooLarge:
            if not refused:
                await self._refuse(send, limit)

    async def _refuse(self, send: Send, limit: int) -> None:
        body = json.dumps({"detail": f"request body larger than {limit} bytes"}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
