"""A local HELD location server (RFC 5985): the carrier's side of a boundary we do not own.

It checks what we send (method, content type, credentials, the locationRequest and the caller's
tel: URI) and answers from the conformance vectors (tests/fixtures/conformance/pidf/held, copied
from ../shared/conformance), moved to Seoul and stamped with the test's clock.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from xml.etree.ElementTree import ParseError

import defusedxml.ElementTree as ElementTree

HELD = "urn:ietf:params:xml:ns:geopriv:held"
HELD_ID = "urn:ietf:params:xml:ns:geopriv:held:id"
VECTORS = Path(__file__).parent / "fixtures" / "conformance" / "pidf" / "held"
ERROR = (
    '<?xml version="1.0"?>\n<error xmlns="urn:ietf:params:xml:ns:geopriv:held" '
    'code="locationUnknown"><message xml:lang="en">Unable to determine location</message></error>'
)


@dataclass
class HeldServer:
    """What the server answers (`mode`) and what it saw."""

    username: str
    password: str
    stamp: datetime
    position: tuple[float, float] = (37.5670, 126.9785)
    mode: str = "circle"  # circle, civic, error, slow, other_number, malformed, http500, huge
    url: str = ""
    requests: list[bytes] = field(default_factory=list)
    numbers: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def answer(self) -> bytes:
        lat, lon = self.position
        stamp = self.stamp.isoformat()
        if self.mode == "error":
            return ERROR.encode()
        if self.mode == "malformed":  # its namespace declarations are unquoted
            return (VECTORS / "tamu__HTTP_200_OK_LOCATION_body.xml").read_bytes()
        if self.mode == "civic":
            text = (VECTORS / "gridgears__civic.xml").read_text(encoding="utf-8")
            for old, new in (
                ("<country>AU</country>", "<country>KR</country>"),
                ("<A1>NSW</A1>", "<A1>서울특별시</A1>"),
                ("<A3>Wollongong</A3>", "<A3>중구</A3>"),
                ("<A4>Gwynneville</A4>", "<A4>태평로1가</A4>"),
                ("<FLR>2</FLR>", "<FLR>B1</FLR>"),
                ("1970-01-01T01:00:10+00:00", stamp),
            ):
                text = text.replace(old, new)
            return text.encode()
        text = (VECTORS / "gridgears__circleResponse.xml").read_text(encoding="utf-8")
        text = text.replace("-34.407 150.88001", f"{lat} {lon}")
        text = text.replace("1970-01-01T00:00:10+00:00", stamp)
        if self.mode == "other_number":
            text = text.replace("pres:3650n87934c@ls.example.com", "tel:+821099990000")
        if self.mode == "huge":  # a well-formed answer padded past our 64 KiB limit
            text = text.replace("<presence", "<!--" + "x" * 70_000 + "--><presence", 1)
        return text.encode()

    def check(self, headers: dict[str, str], body: bytes) -> None:
        """Records every way the request falls short of RFC 5985 / 6155 and our contract."""
        if headers.get("content-type", "").split(";")[0] != "application/held+xml":
            self.problems.append(f"content type {headers.get('content-type')!r}")
        expected = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        if headers.get("authorization") != f"Basic {expected}":
            self.problems.append("missing or wrong credentials")
        try:
            root = ElementTree.fromstring(body)
        except ParseError as err:
            self.problems.append(f"request is not XML: {err}")
            return
        if root.tag != f"{{{HELD}}}locationRequest":
            self.problems.append(f"root is {root.tag}")
        if not (root.get("responseTime") or "").isdigit():
            self.problems.append("no responseTime in seconds")
        kinds = root.find(f"{{{HELD}}}locationType")
        if kinds is None or set((kinds.text or "").split()) != {"geodetic", "civic"}:
            self.problems.append("locationType is not 'geodetic civic'")
        uri = root.find(f"{{{HELD_ID}}}device/{{{HELD_ID}}}uri")
        if uri is None or not (uri.text or "").startswith("tel:+"):
            self.problems.append("no device tel: URI in E.164")
        else:
            self.numbers.append((uri.text or "")[4:])


def _handler(state: HeldServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            state.requests.append(body)
            state.check({k.lower(): v for k, v in self.headers.items()}, body)
            if state.mode == "slow":
                time.sleep(2.0)
            if state.mode == "http500":
                self.send_response(500)
                self.end_headers()
                return
            answer = state.answer()
            self.send_response(200)
            self.send_header("Content-Type", "application/held+xml")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: object) -> None:
            return

    return Handler


@contextmanager
def held_server(*, username: str, password: str, stamp: datetime) -> Iterator[HeldServer]:
    state = HeldServer(username=username, password=password, stamp=stamp)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.url = f"http://127.0.0.1:{server.server_address[1]}/held"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
