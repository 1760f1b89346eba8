"""The staff administration page in chromium: an admin adds a CCTV operator with two districts,
imports a unit list and sees the rejected rows."""

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


def test_an_admin_adds_an_operator_and_imports_units_on_the_page(
    center: LiveServer, page: Any, tmp_path: Path
) -> None:
    page.goto(f"{center.url}/login?next=/admin/staff")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_url("**/admin/staff")
    page.locator("#staff tr[data-username=dispatcher]").wait_for(timeout=10_000)
    page.fill("#add input[name=username]", "cam2")
    page.select_option("#add select[name=role]", "cctv_operator")
    page.fill("#add input[name=districts]", "종로구, Jung-gu")
    page.fill("#add input[name=password]", "password1234")
    page.click("#add button[type=submit]")
    page.locator("#result", has_text="too weak").wait_for(timeout=10_000)
    page.fill("#add input[name=password]", "Cheonggyecheon-Lantern-9")
    page.click("#add button[type=submit]")
    row = page.locator("#staff tr[data-username=cam2]")
    row.wait_for(timeout=10_000)
    assert "종로구, 중구" in row.inner_text()
    units = tmp_path / "units.csv"
    units.write_text(
        "call_sign,station,kind\n태평로31,태평로파출소,patrol_car\n없음1,없는파출소,foot\n",
        encoding="utf-8",
    )
    page.select_option("#fleet select[name=kind]", "units")
    page.set_input_files("#fleet input[name=file]", str(units))
    page.click("#fleet button[type=submit]")
    page.locator("#rejected li", has_text="없는파출소").wait_for(timeout=10_000)
    assert "1" in page.locator("#result").inner_text()
    page.screenshot(path=str(tmp_path / "staff.png"), full_page=True)
