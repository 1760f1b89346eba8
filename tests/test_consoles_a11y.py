"""Accessibility: axe-core (from npm, tests/a11y; loaded from disk into the page, so it runs offline)
finds no violation of moderate impact or worse on any page, logged in or not, light or dark."""

from __future__ import annotations

from typing import Any

import pytest
from tests.consolekit import AXE, PAGES, ConsolePage, Consoles, consoles, log_in, new_page  # noqa: F401

pytestmark = pytest.mark.browser

SERIOUS = {"moderate", "serious", "critical"}
# WCAG 2.1 A/AA and axe's best practices.
RUN = """async () => {
  const result = await axe.run(document, {
    runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"] },
    resultTypes: ["violations"],
  });
  return result.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 4).map((n) => n.target.join(" ") + " :: " + n.failureSummary.split("\\n")[1]),
  }));
}"""


def serve_axe(page: Any, base: str) -> None:
    """The page's origin answers /__axe/axe.min.js from the npm install (the pages' CSP is 'self')."""
    if not AXE.exists():
        from tests.conftest import missing_service

        missing_service(f"axe-core is not installed at {AXE} (make a11y)")
    page.context.route(
        f"{base}/__axe/axe.min.js",
        lambda route: route.fulfill(path=str(AXE), content_type="text/javascript"),
    )


def axe_violations(page: Any, base: str) -> list[dict[str, Any]]:
    page.add_script_tag(url=f"{base}/__axe/axe.min.js")
    found: list[dict[str, Any]] = page.evaluate(RUN)
    return [v for v in found if v["impact"] in SERIOUS]


@pytest.mark.parametrize("theme", ["light", "dark"])
@pytest.mark.parametrize("console", PAGES, ids=[p.name for p in PAGES])
def test_axe_finds_nothing_moderate_or_worse(
    consoles: Consoles, chromium: Any, console: ConsolePage, theme: str
) -> None:
    page = new_page(chromium, "ko")
    page.context.add_init_script(f"localStorage.setItem('ansim.theme', '{theme}')")
    serve_axe(page, consoles.url)
    if console.role is not None:
        log_in(page, consoles.url, console.role)
    console.open(page, consoles)
    page.wait_for_timeout(300)
    assert axe_violations(page, consoles.url) == []
    page.context.close()
