"""Every status word translated: each value of each domain StrEnum has Korean and English words in
common/labels.js, and no page (logged in or not, in either language) shows a raw enum value, a
missing-translation mark or an untranslated key."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from enum import StrEnum
from typing import Any

import pytest
from tests.consolekit import PAGES, ConsolePage, Consoles, consoles, log_in, new_page  # noqa: F401

import ansim.domain

pytestmark = pytest.mark.browser

# The page's visible text, leaving out what the page marks as data (names, typed notes, server text).
VISIBLE_TEXT = """() => {
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (!parent || parent.closest('[data-raw], script, style')) continue;
    if (!parent.checkVisibility()) continue;
    out.push(node.textContent);
  }
  for (const el of document.querySelectorAll('[aria-label], [placeholder], [title]')) {
    if (el.closest('[data-raw]')) continue;
    for (const name of ['aria-label', 'placeholder', 'title']) if (el.getAttribute(name)) out.push(el.getAttribute(name));
  }
  return out.join('\\n');
}"""


def status_enums() -> dict[str, list[str]]:
    """Every StrEnum in ansim.domain: {class name: values}."""
    found: dict[str, list[str]] = {}
    for module_info in pkgutil.iter_modules(ansim.domain.__path__):
        module = importlib.import_module(f"ansim.domain.{module_info.name}")
        for _name, value in inspect.getmembers(module, inspect.isclass):
            if (
                issubclass(value, StrEnum)
                and value is not StrEnum
                and value.__module__ == module.__name__
            ):
                found[value.__name__] = [member.value for member in value]
    return found


ENUMS = status_enums()
RAW_VALUES = {value for values in ENUMS.values() for value in values}
# Words that are both an enum value and ordinary English.
ENGLISH_WORDS = {v for v in RAW_VALUES if "_" not in v}


def test_the_domain_has_the_status_enums_the_pages_show() -> None:
    assert {"IncidentStatus", "UnitStatus", "AssignmentState", "Channel", "FixMethod"} <= set(ENUMS)


def test_every_value_of_every_status_enum_has_both_words(
    consoles: Consoles,
    chromium: Any,
) -> None:
    page = new_page(chromium, "ko")
    page.goto(f"{consoles.url}/login")
    labels: dict[str, dict[str, list[str]]] = page.evaluate(
        "import('/static/common/labels.js').then((m) => m.LABELS)"
    )
    missing = [
        f"{kind}.{value}"
        for kind, values in ENUMS.items()
        for value in values
        if len(labels.get(kind, {}).get(value, [])) != 2 or not all(labels[kind][value])
    ]
    assert missing == [], f"no Korean/English words in common/labels.js for {missing}"
    page.context.close()


def raw_words(text: str, lang: str) -> list[str]:
    """Raw enum values or translation keys in a page's text."""
    found = set(re.findall(r"\b[a-z]+(?:_[a-z]+)+\b", text))  # false_alarm, log_out, ...
    if lang == "ko":
        found |= {w for w in re.findall(r"\b[a-z]+\b", text) if w in ENGLISH_WORDS}
    return sorted(found)


@pytest.mark.parametrize("lang", ["ko", "en"])
@pytest.mark.parametrize("console", PAGES, ids=[p.name for p in PAGES])
def test_no_page_shows_a_raw_enum_or_a_missing_translation(
    consoles: Consoles,
    chromium: Any,
    console: ConsolePage,
    lang: str,
) -> None:
    page = new_page(chromium, lang)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    if console.role is not None:
        log_in(page, consoles.url, console.role)
    console.open(page, consoles)
    page.wait_for_timeout(300)  # the sections drawn after the detail
    text: str = page.evaluate(VISIBLE_TEXT)
    assert [line for line in _lines(text) if "⟦" in line] == []
    assert [e for e in errors if "missing translation" in e] == []
    assert raw_words(text, lang) == [], (
        f"{console.name} ({lang}) shows raw words in: {_lines(text)}"
    )
    if lang == "ko":
        assert re.search(r"[가-힣]", text)
    else:
        # English pages say nothing in Korean but names and places (김하늘, 태평로11, 중구 ...).
        hangul_lines = [
            line
            for line in text.splitlines()
            if re.search(r"[가-힣]{2,}", line) and not _named(line)
        ]
        assert hangul_lines == [], f"{console.name} (en) has Korean text: {hangul_lines}"
    page.context.close()


# Korean proper names a page may show in English: people, places, units, schools, the language toggle.
PROPER = re.compile(
    r"김하늘|김민준|김상황|한팀장|이순찰|박관제|최관리|태평로|서울|중구|종로구|용산구|마포구|서대문구|은평구|성북구|"
    r"시청|한국어|파출소|지구대|경찰서|안심|덕수|초등학교|세종대로|[가-힣]+\d+"
)


def _named(line: str) -> bool:
    return bool(PROPER.search(line)) and not re.search(r"[가-힣]+(?:니다|세요|합니다|중)\b", line)


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]
