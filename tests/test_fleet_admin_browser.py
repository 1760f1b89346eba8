"""The units and stations page in chromium: an admin edits a unit with the keyboard; the admin list,
the units API and a dispatcher's open board show the new call sign; a clash is refused in the dialog."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.factories import PASSWORD
from tests.live import LiveServer, serving_world

pytestmark = pytest.mark.browser


@pytest.fixture
def center(tmp_path: Path, sqlite_template: Path) -> Iterator[LiveServer]:
    with serving_world(tmp_path, sqlite_template) as live:
        yield live


def _open_board(chromium: Any, base: str) -> Any:
    """A dispatcher's board in its own browser context, showing the units on the map."""
    board = chromium.new_context(viewport={"width": 1400, "height": 900}).new_page()
    board.goto(f"{base}/login?next=/board")
    board.fill("input[name=username]", "dispatcher")
    board.fill("input[name=password]", PASSWORD)
    board.click("#login-form button[type=submit]")
    board.wait_for_url("**/board")
    board.locator(".unit-label", has_text="태평로11").wait_for(timeout=15_000)
    return board


def test_an_admin_edits_a_unit_and_sees_it_in_the_lists(
    center: LiveServer, page: Any, chromium: Any, tmp_path: Path
) -> None:
    board = _open_board(chromium, center.url)
    page.goto(f"{center.url}/login?next=/admin/fleet")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_url("**/admin/fleet")
    row = page.locator("#units tr[data-call-sign=태평로11]")
    row.wait_for(timeout=10_000)
    assert "태평로파출소" in row.inner_text()
    # Keyboard only: focus the row's Edit button, open, type, save with Enter.
    row.get_by_role("button").focus()
    page.keyboard.press("Enter")
    dialog = page.locator("#unit-dialog")
    dialog.wait_for(state="visible")
    call_sign = dialog.locator("input[name=call_sign]")
    call_sign.fill("남대문21")
    call_sign.press("Enter")
    dialog.locator("#unit-error", has_text="another unit's").wait_for(timeout=10_000)
    assert dialog.is_visible()
    call_sign.fill("태평로15")
    dialog.locator("select[name=kind]").select_option("foot")
    call_sign.press("Enter")
    edited = page.locator("#units tr[data-call-sign=태평로15]")
    edited.wait_for(timeout=10_000)
    assert not dialog.is_visible()
    assert "도보 순찰" in edited.inner_text()
    assert page.locator("#units tr[data-call-sign=태평로11]").count() == 0
    page.locator("#result", has_text="태평로15").wait_for()
    # Focus is on the edited row's button again (the list was drawn anew).
    assert page.evaluate("document.activeElement.closest('tr')?.dataset.callSign") == "태평로15"
    board_units = page.evaluate(
        "async () => (await (await fetch('/api/v1/units', {credentials: 'same-origin'})).json())"
        ".map((u) => u.call_sign)"
    )
    assert "태평로15" in board_units
    assert "태평로11" not in board_units
    # The open board hears unit.changed and relabels the unit on its map.
    board.locator(".unit-label", has_text="태평로15").wait_for(timeout=10_000)
    assert board.locator(".unit-label", has_text="태평로11").count() == 0
    board.context.close()
    # English on the same page.
    page.click("#lang")
    assert "foot patrol" in edited.inner_text()
    page.screenshot(path=str(tmp_path / "fleet.png"), full_page=True)
