"""The one adapter that talks to cameras: ONVIF PTZ over SOAP 1.2 with zeep, WS-Security digest."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import requests
from zeep import Client, Settings
from zeep.exceptions import Error as ZeepError
from zeep.transports import Transport
from zeep.wsse.username import UsernameToken

from ansim.domain.errors import DomainError

WSDL = Path(__file__).parent / "wsdl" / "ptz.wsdl"
BINDING = "{http://www.onvif.org/ver20/ptz/wsdl}PTZBinding"
PAN_TILT_SPACE = "http://www.onvif.org/ver10/tptz/PanTiltSpaces/PositionGenericSpace"
ZOOM_SPACE = "http://www.onvif.org/ver10/tptz/ZoomSpaces/PositionGenericSpace"
TIMEOUT_S = 3.0


class CameraUnreachable(DomainError):
    """The camera did not answer, or answered with a fault; the console shows why."""


@dataclass(frozen=True, slots=True)
class OnvifEndpoint:
    url: str
    username: str | None
    password: str | None
    profile_token: str


@lru_cache(maxsize=256)
def _client(endpoint: OnvifEndpoint) -> Client:
    """One client per camera (parsed WSDL, its credentials); clients are not changed after this."""
    session = requests.Session()
    session.trust_env = False  # a proxy from the environment must never carry camera commands
    wsse = (
        UsernameToken(  # type: ignore[no-untyped-call]
            endpoint.username, endpoint.password or "", use_digest=True
        )
        if endpoint.username
        else None
    )
    return Client(  # type: ignore[no-untyped-call]
        str(WSDL),
        transport=Transport(  # type: ignore[no-untyped-call]
            session=session, timeout=TIMEOUT_S, operation_timeout=TIMEOUT_S
        ),
        settings=Settings(strict=True, forbid_dtd=True, forbid_entities=True),
        wsse=wsse,
    )


def absolute_move(endpoint: OnvifEndpoint, *, pan: float, tilt: float, zoom: float) -> None:
    """Sends PTZ AbsoluteMove in the generic position spaces."""
    _call(
        endpoint,
        "AbsoluteMove",
        ProfileToken=endpoint.profile_token,
        Position={
            "PanTilt": {"x": pan, "y": tilt, "space": PAN_TILT_SPACE},
            "Zoom": {"x": zoom, "space": ZOOM_SPACE},
        },
    )


def goto_preset(endpoint: OnvifEndpoint, *, preset_token: str) -> None:
    """Sends PTZ GotoPreset (for cameras whose installer stored a preset covering the spot)."""
    _call(endpoint, "GotoPreset", ProfileToken=endpoint.profile_token, PresetToken=preset_token)


def _call(endpoint: OnvifEndpoint, operation: str, **body: object) -> None:
    try:
        service = _client(endpoint).create_service(BINDING, endpoint.url)  # type: ignore[no-untyped-call]
        getattr(service, operation)(**body)
    except (requests.RequestException, ZeepError, OSError) as error:
        raise CameraUnreachable(
            f"{operation} to {endpoint.url} failed: {_reason(error)}"
        ) from error


def _reason(error: Exception) -> str:
    if isinstance(error, requests.Timeout):
        return f"no answer within {TIMEOUT_S:.0f} s"
    if isinstance(error, requests.ConnectionError):
        return "connection refused or host unreachable"
    return str(error) or type(error).__name__
