"""The admin and small pages brought into the design system, used by keyboard only: the staff page
adds and disables an account, the enrolment page enrols a person, the demo phone shows the codes,
the guardian's expired-link page switches language. Results read in the tokens' colours."""

from __future__ import annotations

from typing import Any

import pytest
from tests.consolekit import Consoles, consoles, log_in, new_page  # noqa: F401

from ansim.domain.staff import Role

pytestmark = pytest.mark.browser


def type_and_tab(page: Any, *values: str) -> None:
    for value in values:
        page.keyboard.type(value)
        page.keyboard.press("Tab")


def test_the_staff_page_by_keyboard(consoles: Consoles, chromium: Any) -> None:
    page = new_page(chromium, "ko")
    log_in(page, consoles.url, Role.ADMIN)
    page.goto(f"{consoles.url}/admin/staff")
    page.locator("#staff tr").first.wait_for()
    page.locator("#add input[name=username]").focus()
    type_and_tab(page, "jung.gwanje", "정관제")
    page.keyboard.press("ArrowDown")  # the role select: 상황요원 → 상황팀장
    page.keyboard.press("ArrowDown")  # → CCTV 관제요원
    page.keyboard.press("Tab")
    type_and_tab(page, "중구")
    page.keyboard.type("Cheonggyecheon-Lantern-9")
    page.keyboard.press("Enter")
    row = page.locator("#staff tr[data-username='jung.gwanje']")
    row.wait_for(timeout=10_000)
    assert "CCTV 관제요원" in row.inner_text()
    assert page.locator("#result").get_attribute("class") == ""
    # Disable it from its row: focus the button, Enter.
    row.get_by_role("button", name="사용 중지").focus()
    page.keyboard.press("Enter")
    page.locator("#result", has_text="사용을 중지했습니다").wait_for(timeout=10_000)
    # The language switch redraws the rows in English words.
    page.locator("#lang").focus()
    page.keyboard.press("Enter")
    page.locator("#staff tr[data-username='jung.gwanje']", has_text="CCTV operator").wait_for()
    assert page.evaluate("document.documentElement.lang") == "en"
    assert "disabled" in page.locator("#staff tr[data-username='jung.gwanje']").inner_text()
    page.context.close()


@pytest.mark.parametrize(
    ("theme", "expected"), [("light", "rgb(179, 38, 30)"), ("dark", "rgb(255, 138, 128)")]
)
def test_a_refused_account_reads_in_the_error_colour(
    consoles: Consoles, chromium: Any, theme: str, expected: str
) -> None:
    page = new_page(chromium, "en")
    page.context.add_init_script(f"localStorage.setItem('ansim.theme', '{theme}')")
    log_in(page, consoles.url, Role.ADMIN)
    page.goto(f"{consoles.url}/admin/staff")
    page.locator("#staff tr").first.wait_for()
    page.locator("#add input[name=username]").focus()
    type_and_tab(page, "weak.one", "", "")
    page.keyboard.press("Tab")
    page.keyboard.type("password1234")
    page.keyboard.press("Enter")
    page.locator("#result.error").wait_for(timeout=10_000)
    colour = page.evaluate("getComputedStyle(document.getElementById('result')).color")
    bad = page.evaluate(
        "(() => { const p = document.createElement('p'); p.style.color = 'var(--bad-fg)';"
        " document.body.append(p); const c = getComputedStyle(p).color; p.remove(); return c; })()"
    )
    assert colour == bad == expected
    page.context.close()


def test_the_enrolment_page_by_keyboard(consoles: Consoles, chromium: Any) -> None:
    page = new_page(chromium, "en")
    log_in(page, consoles.url, Role.ADMIN)
    page.goto(f"{consoles.url}/admin/enrol")
    page.locator("#person input[name=name]").focus()
    type_and_tab(page, "박서연", "2015", "덕수초등학교", "", "박보호", "010-2222-3333", "mother")
    page.keyboard.press("Tab")  # the message language: by phone number
    page.keyboard.type("01012025")  # the consent date field takes the digits in order
    page.keyboard.press("Enter")
    page.locator("#people tr", has_text="박서연").wait_for(timeout=10_000)
    assert page.locator("#result").get_attribute("class") == ""
    page.context.close()


def test_the_demo_phone_by_keyboard(consoles: Consoles, chromium: Any) -> None:
    page = new_page(chromium, "en")
    page.goto(f"{consoles.url}/demo/phone")
    number = page.locator("#phone input[name=number]")
    number.focus()
    number.fill("")
    page.keyboard.type("010-4321-8765")
    page.keyboard.press("Enter")
    page.locator("#result", has_text="+821043218765: 0 message(s)").wait_for(timeout=10_000)
    assert page.locator("h1").inner_text() == "Demo phone"
    page.context.close()


def test_the_expired_link_page_switches_language_by_keyboard(
    consoles: Consoles, chromium: Any
) -> None:
    page = new_page(chromium, "ko")
    answer = page.goto(consoles.expired_link)
    assert answer is not None
    assert answer.status == 410
    assert page.locator("main h2").inner_text() == "만료된 링크입니다"
    page.locator("#lang").focus()
    page.keyboard.press("Enter")
    assert page.locator("main h2").inner_text() == "This link has expired"
    assert page.evaluate("document.documentElement.lang") == "en"
    page.context.close()
