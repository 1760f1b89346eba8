"""A real server on a free port and Debian's chromium driven by Playwright, for browser tests."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI

CHROMIUM = os.environ.get("ANSIM_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass
class LiveServer:
    url: str
    app: FastAPI


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def serving(app: FastAPI) -> Iterator[LiveServer]:
    """Runs `app` under uvicorn in a thread until the block ends."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield LiveServer(url=f"http://127.0.0.1:{port}", app=app)
    finally:
        server.should_exit = True
        thread.join(15)


@contextmanager
def serving_world(folder: Path, sqlite_template: Path) -> Iterator[LiveServer]:
    """The test world (tests.factories.build_world) in a fresh SQLite copy, served live."""
    from tests.factories import build_world

    from ansim.api.app import create_app
    from ansim.settings import Settings
    from ansim.store.db import make_engine

    path = folder / "center.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    build_world(engine)
    app = create_app(Settings(database_url=url, outbox_poll_s=0.05), engine=engine)
    try:
        with serving(app) as live:
            yield live
    finally:
        engine.dispose()


_SHARED_BROWSER: list[Any] = []


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """A headless Debian chromium (never a downloaded browser), one per test session.

    Each test module that imports this fixture gets its own session-scoped copy; Playwright's sync
    API cannot run twice at once in one thread, so the copies share the first browser.
    """
    if _SHARED_BROWSER:
        yield _SHARED_BROWSER[0]
        return
    if not Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is None:
        from tests.conftest import missing_service

        missing_service(f"chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        _SHARED_BROWSER.append(browser)
        try:
            yield browser
        finally:
            _SHARED_BROWSER.clear()
            browser.close()


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    context = chromium.new_context(locale="ko-KR", viewport={"width": 1400, "height": 900})
    page = context.new_page()
    yield page
    context.close()
