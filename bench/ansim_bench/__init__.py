"""The benchmarks behind `ansim bench` and `make bench`, kept out of the installed package.

They live in a source checkout (bench/ansim_bench) and are not part of `pip install .`: a center
runs the platform, not its measurements. pytest finds them through its `pythonpath` setting and
`ansim bench` through the checkout its editable install points at (src/ansim/cli/bench.py).
"""

from __future__ import annotations

import os
from pathlib import Path

# The folder that holds this package: a benchmark's server subprocess imports it from there.
SEARCH_PATH = str(Path(__file__).resolve().parent.parent)


def child_environment() -> dict[str, str]:
    """This process's environment, with the benchmarks importable by a child interpreter."""
    inherited = os.environ.get("PYTHONPATH")
    return {
        **os.environ,
        "PYTHONPATH": SEARCH_PATH if not inherited else f"{SEARCH_PATH}{os.pathsep}{inherited}",
    }
