"""docs/security.md names the test that proves each control: every name it gives must exist.

A renamed or deleted test would otherwise leave the page promising a proof nobody runs.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "security.md"
# `test_x.py`, `test_x.py::test_name`, `::test_name` (same file as the last one), `test_prefix_*`.
REFERENCE = re.compile(r"`(?:(test_\w+\.py))?(?:::)?(test_\w+?(?:_\*)?)?`")


def _named() -> list[tuple[str, str | None]]:
    """(file, test or prefix*) in the order the page names them; a bare `::name` takes the last file."""
    found: list[tuple[str, str | None]] = []
    current = ""
    for match in REFERENCE.finditer(DOC.read_text(encoding="utf-8")):
        file, name = match.group(1), match.group(2)
        if file:
            current = file
        elif not name or not current:
            continue
        if name is not None and name.endswith(".py"):
            continue
        found.append((current, name))
    return found


def test_every_test_named_in_the_security_doc_exists() -> None:
    named = _named()
    assert len(named) > 40  # the page's tables were read, not skipped
    missing = []
    for file, name in named:
        path = ROOT / "tests" / file
        if not path.exists():
            missing.append(file)
            continue
        if name is None:
            continue
        source = path.read_text(encoding="utf-8")
        pattern = re.escape(name[:-1]) + r"\w*" if name.endswith("*") else re.escape(name) + r"\b"
        if not re.search(rf"^(?:async )?def {pattern}\(", source, re.MULTILINE):
            missing.append(f"{file}::{name}")
    assert missing == []
