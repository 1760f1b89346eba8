"""Every HTML page the server can serve is walked by the accessibility and language checks.

The list of pages comes from the app's own routes (each GET route outside /api/ is asked for, path
parameters filled in, and kept when it answers text/html) and from the HTML files under web/static
(the /static mount serves them all). Each must be a ConsolePage in tests/consolekit.py, which
tests/test_consoles_a11y.py (axe-core) and tests/test_consoles_i18n.py (Korean/English) walk; so
a new page cannot be added without those checks.
"""

from __future__ import annotations

import re
import shutil
import typing
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import BaseRoute
from tests.consolekit import NOT_OURS, PAGES

from ansim.api.app import create_app
from ansim.settings import Settings, VerificationSettings

STATIC = Path(__file__).resolve().parent.parent / "src" / "ansim" / "web" / "static"


def get_routes(routes: Iterable[BaseRoute]) -> Iterator[APIRoute]:
    """Every GET route, looking inside included routers (as ansim.security.access does)."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from get_routes(included.routes)
        elif isinstance(route, APIRoute) and "GET" in (route.methods or set()):
            yield route


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> TestClient:
    path = tmp_path_factory.mktemp("pages") / "pages.db"
    shutil.copy(sqlite_template, path)
    settings = Settings(
        database_url=f"sqlite:///{path}",
        demo=True,  # the demo phone page exists only in demo mode
        verification=VerificationSettings(link_secret="pages test key"),
    )
    return TestClient(create_app(settings), follow_redirects=False)


def html_routes(client: TestClient) -> dict[str, bytes]:
    """{route path: the HTML it answered} for every GET route outside /api/ that answers HTML."""
    found: dict[str, bytes] = {}
    for route in get_routes(client.app.routes):  # type: ignore[attr-defined]
        if route.path.startswith("/api/"):
            continue
        answer = client.get(re.sub(r"\{[^}]+\}", "x", route.path))
        if answer.headers.get("content-type", "").startswith("text/html"):
            found[route.path] = answer.content
    return found


def test_every_html_route_is_a_checked_page(client: TestClient) -> None:
    served = html_routes(client)
    assert {"/login", "/board", "/admin/staff", "/demo/phone", "/g/{token}"} <= set(served)
    checked = {page.route for page in PAGES} | set(NOT_OURS)
    assert sorted(set(served) - checked) == [], "HTML routes with no axe-core / i18n walk"
    assert sorted(checked - set(served)) == [], "pages listed for routes that serve no HTML"


def test_each_page_names_the_file_its_route_serves(client: TestClient) -> None:
    served = html_routes(client)
    pages = [(p.name, p.route, p.file) for p in PAGES] + [
        (route, route, file) for route, file in NOT_OURS.items()
    ]
    for name, route, file in pages:
        assert (STATIC / file).is_file(), f"{name}: no file {file}"
        if "{" not in route:
            assert served[route] == (STATIC / file).read_bytes(), f"{route} does not serve {file}"
    # /g/x is a bad link: the guardian route's invalid-link page.
    assert served["/g/{token}"] == (STATIC / "guardian" / "invalid.html").read_bytes()


def test_every_html_file_under_static_is_a_checked_page() -> None:
    files = {str(path.relative_to(STATIC)) for path in STATIC.rglob("*.html")}
    checked = {page.file for page in PAGES} | set(NOT_OURS.values())
    assert sorted(files - checked) == [], "HTML files with no axe-core / i18n walk"


def test_no_api_route_answers_html(client: TestClient) -> None:
    """Pages live outside /api/ (the walk above asks only those): no API route is declared HTML."""
    html = []
    for route in get_routes(client.app.routes):  # type: ignore[attr-defined]
        if not route.path.startswith("/api/"):
            continue
        returns = typing.get_type_hints(route.endpoint).get("return")
        response_class = getattr(route.response_class, "value", route.response_class)
        if returns in (FileResponse, HTMLResponse) or response_class is HTMLResponse:
            html.append(route.path)
    assert html == []


# One design system: the shared tokens (common/base.css) and one language switch (common/i18n.js).
SCRIPT = re.compile(r'<script type="module" src="/static/([^"]+)"')
IMPORT = re.compile(r'import\s[^;]*?from\s+"([^"]+)"')


def imports(script: Path) -> set[Path]:
    """The modules a page script imports, and theirs, under web/static."""
    found: set[Path] = set()
    todo = [script]
    while todo:
        current = todo.pop()
        for target in IMPORT.findall(current.read_text(encoding="utf-8")):
            path = (
                (STATIC / target.removeprefix("/static/"))
                if target.startswith("/static/")
                else (current.parent / target).resolve()
            )
            if path.is_file() and path not in found:
                found.add(path)
                todo.append(path)
    return found


@pytest.mark.parametrize("file", sorted({page.file for page in PAGES}))
def test_every_page_is_in_the_design_system(file: str) -> None:
    html = (STATIC / file).read_text(encoding="utf-8")
    assert 'href="/static/common/base.css"' in html, f"{file} does not use the shared tokens"
    scripts = [STATIC / src for src in SCRIPT.findall(html)]
    assert scripts, f"{file} has no script to switch its language"
    modules = set().union(*(imports(script) | {script} for script in scripts))
    assert STATIC / "common" / "i18n.js" in modules, f"{file} has its own language switch"
    for module in modules:
        text = module.read_text(encoding="utf-8")
        assert not re.search(r"\.style\.(color|background)", text), (
            f"{module.relative_to(STATIC)} colours text itself (use the tokens' classes)"
        )
        assert 'localStorage.setItem("ansim.lang"' not in text or module.name == "i18n.js"
