"""Who may keep the live stream open: the page's own origin, and only while the session lives.

A browser sends cookies with a cross-site WebSocket handshake, so a foreign page could open the
stream with the console's cookie; the Origin header tells (non-browser clients send none). After
logout, revocation or expiry the open socket is closed within `stream_session_check_s`.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

from fastapi import WebSocket
from starlette.concurrency import run_in_threadpool

from ansim.api.auth import FIELD_ROLES, staff_for_websocket
from ansim.api.context import AppContext

# Close codes in the 4000 range are ours (see api/stream.py): 4403 = not from our pages.
FOREIGN_ORIGIN = 4403


def origin_allowed(websocket: WebSocket, context: AppContext) -> bool:
    """True without an Origin (not a browser), for the host's own origin, or a configured one."""
    origin = websocket.headers.get("origin")
    if origin is None:
        return True
    if origin in context.settings.stream_origins:
        return True
    # Same host as the page was served from; the scheme is not compared, since behind a TLS
    # proxy the browser says https while the proxy talks plain HTTP to us.
    return urlsplit(origin).netloc.lower() == websocket.headers.get("host", "").lower()


async def session_ended(websocket: WebSocket, context: AppContext) -> None:
    """Returns once the socket's staff session is no longer valid (checked every few seconds)."""
    while True:
        await asyncio.sleep(context.settings.stream_session_check_s)
        user = await run_in_threadpool(staff_for_websocket, websocket, *FIELD_ROLES)
        if user is None:
            return


async def client_gone(websocket: WebSocket) -> None:
    """Returns when the client closes the socket (what it sends otherwise is ignored)."""
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
