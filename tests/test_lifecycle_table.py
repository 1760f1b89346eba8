"""docs/incident-lifecycle.md is the table the tests check: every row names a test that exists,
every lifecycle test is in a row, and every event of the lifecycle has at least one row."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "incident-lifecycle.md"
EVENTS = (
    "SOS",
    "repeated SOS",
    "fix",
    "cancel (real PIN)",
    "duress PIN",
    "guardian answer",
    "dispatcher action",
    "ack",
    "ack timeout",
    "verification deadline",
    "retry deadline",
    "unit status",
)


def _rows() -> list[dict[str, str]]:
    lines = DOC.read_text(encoding="utf-8").splitlines()
    start = next(n for n, line in enumerate(lines) if line.startswith("| Event |"))
    header = [c.strip() for c in lines[start].strip("|").split("|")]
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert len(cells) == len(header), line
        rows.append(dict(zip(header, cells, strict=True)))
    return rows


def _tests_in(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
    }


def test_every_row_names_a_test_that_exists() -> None:
    rows = _rows()
    assert len(rows) >= 20
    for row in rows:
        assert row["What happens"], row
        assert row["Who is told"], row
        named = re.fullmatch(r"`(test_[a-z0-9_]+\.py)::(test_[a-z0-9_]+)`", row["Test"])
        assert named, f"row {row['Event']} / {row['In state']} names no test"
        module, name = named.groups()
        assert name in _tests_in(ROOT / "tests" / module), f"{module}::{name} does not exist"


def test_every_lifecycle_test_is_a_row_and_every_event_has_one() -> None:
    rows = _rows()
    named = {row["Test"].strip("`") for row in rows}
    for path in sorted((ROOT / "tests").glob("test_lifecycle_*.py")):
        if path.name == Path(__file__).name:
            continue
        for name in _tests_in(path):
            assert f"{path.name}::{name}" in named, f"{path.name}::{name} is in no row"
    events = {row["Event"] for row in rows}
    for event in EVENTS:
        assert any(e == event or e.startswith(f"{event}:") for e in events), f"no row for {event}"
