"""Maps domain errors to HTTP answers that say what is wrong; nothing leaves as a bare 500."""

from __future__ import annotations

import logging
import uuid

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from ansim.domain.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound
from ansim.security.signing import SignatureRefused

log = logging.getLogger(__name__)

_STATUS: list[tuple[type[DomainError], int]] = [
    (SignatureRefused, 401),  # every signing scheme refuses alike: 401, the reason in the body
    (NotFound, 404),
    (Conflict, 409),
    (Forbidden, 403),
    (InvalidInput, 422),
]


def install(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def domain_error(_request: Request, error: DomainError) -> JSONResponse:
        status = next((code for kind, code in _STATUS if isinstance(error, kind)), 400)
        return JSONResponse({"detail": str(error)}, status_code=status)

    @app.exception_handler(IntegrityError)
    async def integrity_error(_request: Request, error: IntegrityError) -> JSONResponse:
        log.warning("integrity error: %s", error.orig)
        return JSONResponse({"detail": "the request conflicts with stored data"}, status_code=409)

    async def store_unavailable(_request: Request, error: Exception) -> JSONResponse:
        # Never acknowledge what was not stored: the client retries with the same key.
        log.error("database unavailable: %s", getattr(error, "orig", None) or error)
        return JSONResponse(
            {"detail": "the database is unavailable; retry with the same idempotency key"},
            status_code=503,
            headers={"Retry-After": "2"},
        )

    # psycopg raises OperationalError when the server is gone, InterfaceError on a connection closed
    # under it; the pool times out when every connection waits on a server that does not answer.
    for unavailable in (OperationalError, InterfaceError, PoolTimeout):
        app.add_exception_handler(unavailable, store_unavailable)

    @app.exception_handler(DBAPIError)
    async def driver_error(request: Request, error: DBAPIError) -> JSONResponse:
        if error.connection_invalidated:
            return await store_unavailable(request, error)
        return await unexpected(request, error)

    @app.exception_handler(Exception)
    async def unexpected(_request: Request, error: Exception) -> JSONResponse:
        reference = uuid.uuid4().hex[:12]
        log.exception("unexpected error %s", reference, exc_info=error)
        return JSONResponse(
            {"detail": f"internal error; reference {reference} is in the server log"},
            status_code=500,
        )
