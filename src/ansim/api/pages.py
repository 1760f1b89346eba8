"""The web pages: the 112 situation board and the staff login."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse

from ansim.api.auth import ContextDep

router = APIRouter(include_in_schema=False)
STATIC = Path(__file__).resolve().parent.parent / "web" / "static"


@router.get("/")
async def home() -> RedirectResponse:
    return RedirectResponse("/board")


@router.get("/board")
async def board() -> FileResponse:
    return FileResponse(STATIC / "board.html")


@router.get("/login")
async def login_page() -> FileResponse:
    return FileResponse(STATIC / "login.html")


@router.get("/docs")
async def api_docs() -> FileResponse:
    """The OpenAPI explorer, served from the bundled Swagger UI (no CDN)."""
    return FileResponse(STATIC / "docs.html")


@router.get("/config.json")
async def page_config(context: ContextDep) -> JSONResponse:
    """What the pages need to know about this deployment (no secrets)."""
    settings = context.settings
    return JSONResponse(
        {
            "tile_url": settings.tile_url,
            "tile_attribution": settings.tile_attribution,
            "demo": settings.demo,
        }
    )
