"""One command layer: entry points (api/, sim/) open no transaction of their own.

Every state change is a `do_*` command in the services layer that owns its transaction (or runs in
the one it is given). A route, bridge or simulated person only parses, calls one command and renders;
reads go through `uow.read()`. This test reads the source and fails on any other way in.
"""

from __future__ import annotations

import re
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src" / "ansim"
ENTRY_POINTS = ("api", "sim")
# A transaction opened, committed or a session made by hand, or a command's transaction borrowed.
OPENS_A_TRANSACTION = re.compile(
    r"\.begin\(|(?<![\w])commit\(|\.commit\(|\bSession\(|\btransaction\(|\baudited\("
)

# Files of the entry points that may still open a transaction. Empty: the benchmark drivers that
# fill or load the store at raw speed (bulk inserts, a driver connection of their own) live outside
# the package, in bench/ansim_bench, and are measurements rather than entry points.
ALLOWED: set[str] = set()


def _offences() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for package in ENTRY_POINTS:
        for path in sorted((SRC / package).rglob("*.py")):
            name = path.relative_to(SRC).as_posix()
            lines = [
                f"{number}: {line.strip()}"
                for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                if OPENS_A_TRANSACTION.search(line)
            ]
            if lines:
                found[name] = lines
    return found


def test_routes_and_the_simulator_open_no_transaction_of_their_own() -> None:
    offences = {name: lines for name, lines in _offences().items() if name not in ALLOWED}
    assert offences == {}, (
        "move these state changes into a do_* command in ansim.services (see DESIGN.md, "
        f"'Commands own every change'): {offences}"
    )


def test_the_allowlist_names_only_files_that_still_need_it() -> None:
    # A file converted (or removed) leaves the list, so the list only ever shrinks.
    assert ALLOWED - set(_offences()) == set()


def test_the_search_finds_what_it_is_meant_to() -> None:
    # The pattern is the test's whole strength: it must see each way of opening a transaction.
    for line in (
        "with context.uow.begin() as session:",
        "with uow.begin() as s:",
        "session.commit()",
        "conn.commit()",
        "commit()",
        "with Session(engine) as session:",
        "with transaction(context.platform) as session:",
        "with audited(platform, actor=actor, action='x') as session:",
    ):
        assert OPENS_A_TRANSACTION.search(line), line
    for line in ("uow.add_after_commit(hook)", "with uow.read() as session:", "Session | None"):
        assert not OPENS_A_TRANSACTION.search(line), line
