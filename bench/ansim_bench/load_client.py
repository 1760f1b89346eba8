"""The benchmarks' side of the wire: a keep-alive HTTP/1.1 client light enough not to be measured."""

from __future__ import annotations

import asyncio

import httpx


class HttpConnection:
    """One keep-alive HTTP/1.1 connection, the load generator's side of the wire.

    Far lighter than httpx: on this machine httpx's async client capped the bare `/ping` at about
    150 requests/s where this reached about 1,500, so with httpx the benchmark measured its client.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader, self._writer = reader, writer

    @classmethod
    async def open(cls, base: str) -> HttpConnection:
        address = httpx.URL(base)
        return cls(*await asyncio.open_connection(address.host, address.port))

    async def request(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        """Sends one request and reads its answer (which must carry a Content-Length)."""
        extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n{extra}\r\n"
        )
        self._writer.write(head.encode() + body)
        lines = (await self._reader.readuntil(b"\r\n\r\n")).split(b"\r\n")
        fields = (line.partition(b":") for line in lines[1:])
        length = next(
            (int(v) for n, _, v in fields if n.strip().lower() == b"content-length"), None
        )
        if length is None:
            raise RuntimeError(f"{method} {path}: the answer has no Content-Length")
        return int(lines[0].split()[1]), await self._reader.readexactly(length)

    async def close(self) -> None:
        self._writer.close()
        await self._writer.wait_closed()
