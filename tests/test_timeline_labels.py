"""Every kind of incident timeline entry the code writes has a Korean and an English label.

The board shows a missing one as `⟦kind⟧` (seen: `alerts_queued`). The kinds are read from the code:
the second argument of each `IncidentEvent(...)` and of the services' `_timeline(...)` helpers, as a
string or a module constant.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import ansim

SOURCE = Path(ansim.__file__).parent
LABELS = SOURCE / "web" / "static" / "common" / "labels.js"
# (function name, position of the kind among its positional arguments)
WRITERS = {"IncidentEvent": 1, "_timeline": 1}
DELIVERY_TIMELINE = ("deliveries.py", 2)  # deliveries._timeline(session, delivery, kind, at)


def _constants(tree: ast.Module) -> dict[str, str]:
    return {
        target.id: node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
        for target in node.targets
        if isinstance(target, ast.Name) and isinstance(node.value.value, str)
    }


def _kinds_written() -> dict[str, str]:
    found: dict[str, str] = {}
    for path in SOURCE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        constants = _constants(tree)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if name not in WRITERS:
                continue
            position = WRITERS[name]
            if name == "_timeline" and path.name == DELIVERY_TIMELINE[0]:
                position = DELIVERY_TIMELINE[1]
            arg = node.args[position] if len(node.args) > position else None
            arg = arg or next((k.value for k in node.keywords if k.arg == "kind"), None)
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                found.setdefault(arg.value, f"{path.name}:{node.lineno}")
            elif isinstance(arg, ast.Name) and arg.id in constants:
                found.setdefault(constants[arg.id], f"{path.name}:{node.lineno}")
    return found


def _labelled() -> set[str]:
    text = LABELS.read_text(encoding="utf-8")
    block = text[text.index("TimelineKind: {") :]
    block = block[: block.index("\n  },")]
    return set(re.findall(r"(\w+): \[\"[^\"]+\", \"[^\"]+\"\]", block))


def test_every_timeline_kind_the_code_writes_has_both_labels() -> None:
    written = _kinds_written()
    # The reader must see the kinds it is meant to see (it found the writers at all).
    assert {"received", "unit_ordered", "notification_delivered", "note_added"} <= set(written)
    missing = {kind: where for kind, where in written.items() if kind not in _labelled()}
    assert not missing, f"timeline kinds without a ko/en label in common/labels.js: {missing}"
