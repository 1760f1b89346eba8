"""The 112 app as an installable web app (PWA) at /app/."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, RedirectResponse

router = APIRouter(include_in_schema=False)
APP = Path(__file__).resolve().parent.parent / "web" / "static" / "app"


@router.get("/app")
async def app_root() -> RedirectResponse:
    return RedirectResponse("/app/")


@router.get("/app/")
async def app_page() -> FileResponse:
    return FileResponse(APP / "index.html")


@router.get("/app/manifest.webmanifest")
async def app_manifest() -> FileResponse:
    return FileResponse(APP / "manifest.webmanifest", media_type="application/manifest+json")


@router.get("/app/sw.js")
async def app_service_worker() -> FileResponse:
    # Served from /app/ so its scope covers the app; never cached stale.
    return FileResponse(
        APP / "sw.js",
        media_type="text/javascript",
        headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/app/"},
    )
