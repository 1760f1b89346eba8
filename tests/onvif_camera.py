"""A small real ONVIF PTZ endpoint for tests: checks each SOAP envelope it receives and remembers it."""

from __future__ import annotations

import base64
import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from defusedxml import ElementTree

SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
TPTZ = "http://www.onvif.org/ver20/ptz/wsdl"
TT = "http://www.onvif.org/ver10/schema"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
DIGEST = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0"
    "#PasswordDigest"
)
GENERIC_PAN_TILT = "http://www.onvif.org/ver10/tptz/PanTiltSpaces/PositionGenericSpace"
GENERIC_ZOOM = "http://www.onvif.org/ver10/tptz/ZoomSpaces/PositionGenericSpace"


class Refused(Exception):
    """The request breaks the protocol; answered with a SOAP fault."""


@dataclass
class FakePtzCamera:
    """What the camera accepts and what it was told."""

    username: str = "operator"
    password: str = "cam-secret"
    profile_token: str = "Profile_1"
    presets: tuple[str, ...] = ("Preset_Gate",)
    moves: list[dict[str, Any]] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)
    url: str = ""

    def handle(self, content_type: str, body: bytes) -> bytes:
        if not content_type.startswith("application/soap+xml"):
            raise Refused(f"SOAP 1.2 needs application/soap+xml, got {content_type!r}")
        envelope = ElementTree.fromstring(body)
        if envelope.tag != f"{{{SOAP12}}}Envelope":
            raise Refused(f"not a SOAP 1.2 envelope: {envelope.tag}")
        self._check_security(envelope.find(f"{{{SOAP12}}}Header"))
        request = envelope.find(f"{{{SOAP12}}}Body")
        if request is None or len(request) != 1:
            raise Refused("the body must hold exactly one request")
        operation = request[0]
        token = operation.findtext(f"{{{TPTZ}}}ProfileToken")
        if token != self.profile_token:
            raise Refused(f"unknown profile {token!r}")
        if operation.tag == f"{{{TPTZ}}}AbsoluteMove":
            self.moves.append(self._absolute_move(operation))
            return _response("AbsoluteMoveResponse")
        if operation.tag == f"{{{TPTZ}}}GotoPreset":
            preset = operation.findtext(f"{{{TPTZ}}}PresetToken")
            if preset not in self.presets:
                raise Refused(f"unknown preset {preset!r}")
            self.moves.append({"preset": preset})
            return _response("GotoPresetResponse")
        raise Refused(f"unsupported operation {operation.tag}")

    def _check_security(self, header: Any) -> None:
        token = (
            None if header is None else header.find(f"{{{WSSE}}}Security/{{{WSSE}}}UsernameToken")
        )
        if token is None:
            raise Refused("WS-Security UsernameToken missing")
        if token.findtext(f"{{{WSSE}}}Username") != self.username:
            raise Refused("unknown user")
        password = token.find(f"{{{WSSE}}}Password")
        nonce, created = token.findtext(f"{{{WSSE}}}Nonce"), token.findtext(f"{{{WSU}}}Created")
        if password is None or password.get("Type") != DIGEST or not nonce or not created:
            raise Refused("a password digest with nonce and created time is required")
        expected = base64.b64encode(
            hashlib.sha1(  # noqa: S324 (WS-Security UsernameToken digest is SHA-1 by definition)
                base64.b64decode(nonce) + created.encode() + self.password.encode()
            ).digest()
        ).decode()
        if password.text != expected:
            raise Refused("wrong password digest")

    @staticmethod
    def _absolute_move(operation: Any) -> dict[str, Any]:
        pan_tilt = operation.find(f"{{{TPTZ}}}Position/{{{TT}}}PanTilt")
        zoom = operation.find(f"{{{TPTZ}}}Position/{{{TT}}}Zoom")
        if pan_tilt is None or zoom is None:
            raise Refused("Position needs PanTilt and Zoom")
        if pan_tilt.get("space") != GENERIC_PAN_TILT or zoom.get("space") != GENERIC_ZOOM:
            raise Refused("only the generic position spaces are supported")
        pan, tilt, level = float(pan_tilt.get("x")), float(pan_tilt.get("y")), float(zoom.get("x"))
        if not (-1 <= pan <= 1 and -1 <= tilt <= 1 and 0 <= level <= 1):
            raise Refused(f"position out of range: pan {pan}, tilt {tilt}, zoom {level}")
        return {"pan": pan, "tilt": tilt, "zoom": level}


def _response(name: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><env:Envelope xmlns:env="{SOAP12}" '
        f'xmlns:tptz="{TPTZ}"><env:Body><tptz:{name}/></env:Body></env:Envelope>'
    ).encode()


def _fault(reason: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><env:Envelope xmlns:env="{SOAP12}"><env:Body>'
        "<env:Fault><env:Code><env:Value>env:Sender</env:Value></env:Code>"
        f'<env:Reason><env:Text xml:lang="en">{reason}</env:Text></env:Reason>'
        "</env:Fault></env:Body></env:Envelope>"
    ).encode()


@contextmanager
def running_camera(camera: FakePtzCamera | None = None) -> Iterator[FakePtzCamera]:
    """Serves `camera` on a free local port until the block ends."""
    camera = camera or FakePtzCamera()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            try:
                answer, status = camera.handle(self.headers.get("Content-Type", ""), body), 200
            except (Refused, ValueError, ElementTree.ParseError) as error:
                camera.refusals.append(str(error))
                answer, status = _fault(str(error)), 400
            self.send_response(status)
            self.send_header("Content-Type", "application/soap+xml; charset=utf-8")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    camera.url = f"http://127.0.0.1:{server.server_address[1]}/onvif/ptz_service"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield camera
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
