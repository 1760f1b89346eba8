"""Packaging: every imported package is declared, and `pip install .` gives a working `ansim`."""

from __future__ import annotations

import ast
import os
import re
import socket
import subprocess
import sys
import time
import tomllib
import urllib.request
import venv
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _requirement_name(spec: str) -> str:
    match = re.match(r"[A-Za-z0-9_.-]+", spec)
    assert match, spec
    return match.group(0).lower().replace("_", "-")


def _imported_top_modules(folder: Path) -> set[str]:
    found: set[str] = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module.split(".")[0])
    return found


def _distributions_of(modules: set[str]) -> dict[str, set[str]]:
    provided = packages_distributions()
    third_party = {
        m
        for m in modules
        if m not in sys.stdlib_module_names and m not in {"ansim", "ansim_bench", "tests"}
    }
    return {
        m: {d.lower().replace("_", "-") for d in provided.get(m, [])} for m in sorted(third_party)
    }


def test_every_package_the_code_imports_is_declared() -> None:
    project = PYPROJECT["project"]
    core = {_requirement_name(s) for s in project["dependencies"]}
    extras = {
        _requirement_name(s) for specs in project["optional-dependencies"].values() for s in specs
    }
    # uvicorn[standard] brings websockets; starlette comes with fastapi; these are their APIs.
    transitive_ok = {"starlette", "websockets", "referencing", "anyio"}
    undeclared = {
        module: dists
        for module, dists in _distributions_of(_imported_top_modules(ROOT / "src")).items()
        if not dists & (core | extras) and module not in transitive_ok
    }
    assert undeclared == {}, f"imported by src/ but not in pyproject: {undeclared}"
    bench = {_requirement_name(s) for s in project["optional-dependencies"]["bench"]}
    for_bench = {
        module: dists
        for module, dists in _distributions_of(_imported_top_modules(ROOT / "bench")).items()
        if not dists & (core | bench) and module not in transitive_ok
    }
    assert for_bench == {}, (
        f"imported by bench/ but in neither the core nor the bench extra: {for_bench}"
    )
    for_tests = _distributions_of(_imported_top_modules(ROOT / "tests"))
    local = {p.stem for p in (ROOT / "tests").glob("*.py")}
    missing = {
        m: d
        for m, d in for_tests.items()
        if not d & (core | extras) and m not in transitive_ok | local
    }
    assert missing == {}, f"imported by tests/ but in no extra: {missing}"


def test_no_look_alike_or_unused_packages_are_declared() -> None:
    project = PYPROJECT["project"]
    declared = {_requirement_name(s) for s in project["dependencies"]} | {
        _requirement_name(s) for specs in project["optional-dependencies"].values() for s in specs
    }
    # httpx2 stays (dev only): starlette.testclient needs it, though no module of ours imports it.
    assert "httpx2" not in {_requirement_name(s) for s in project["dependencies"]}
    assert "swagger-ui-bundle-v2" not in declared
    # Report-only charting stays out of the core install.
    assert "matplotlib" not in {_requirement_name(s) for s in project["dependencies"]}


def test_the_vendored_swagger_ui_is_the_official_files() -> None:
    import hashlib

    folder = ROOT / "src" / "ansim" / "web" / "vendor" / "swagger-ui"
    for line in (folder / "SHA256SUMS").read_text(encoding="utf-8").splitlines():
        digest, name = line.split()
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest, name


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
# About 35 s on a quiet machine; pip's resolver is slower when the machine is shared.
@pytest.mark.timeout(600)
@pytest.mark.skipif(
    os.environ.get("CI", "").lower() != "true" and os.environ.get("ANSIM_PACKAGING_TEST") != "1",
    reason="installs ansim into a fresh virtualenv (about a minute): CI, or ANSIM_PACKAGING_TEST=1",
)
def test_pip_install_in_a_clean_venv_gives_a_working_ansim(tmp_path: Path) -> None:
    target = tmp_path / "venv"
    venv.create(target, with_pip=True)
    python = target / "bin" / "python"
    started = time.monotonic()
    subprocess.run(
        [python, "-m", "pip", "install", "-q", "--no-cache-dir", str(ROOT)],
        check=True,
        timeout=600,
    )
    installed_in = time.monotonic() - started
    ansim = target / "bin" / "ansim"
    env = {
        "PATH": f"{target / 'bin'}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "ANSIM_DATABASE_URL": f"sqlite:///{tmp_path / 'center.db'}",
        "ANSIM_DATA_KEY": "pkg:" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWY=",
        "ANSIM_VERIFY_LINK_SECRET": "packaging test link secret",
        "ANSIM_ELS_HMAC_KEY": "packaging test ELS key",
    }
    out = subprocess.run(
        [ansim, "--help"], env=env, capture_output=True, text=True, check=True, timeout=60
    )
    assert "serve" in out.stdout
    # The benchmarks stay in the source checkout: not installed, and `ansim bench` says where they are.
    found = subprocess.run(
        [python, "-c", "import importlib.util as u; print(u.find_spec('ansim_bench'))"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert found.stdout.strip() == "None"
    installed = subprocess.run(
        [
            python,
            "-c",
            "import ansim, pathlib; print(*pathlib.Path(ansim.__file__).parent.rglob('*_bench.py'))",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert installed.stdout.strip() == "", installed.stdout
    bench = subprocess.run(
        [ansim, "bench", "dispatch", "--smoke"], env=env, capture_output=True, text=True, timeout=60
    )
    assert bench.returncode == 2
    assert "benchmarks run from a source checkout: make bench" in bench.stderr
    subprocess.run([ansim, "db", "upgrade"], env=env, check=True, timeout=120)
    # The installed package carries its web pages, vendored Swagger UI and bundled data.
    port = _free_port()
    server = subprocess.Popen(
        [ansim, "serve", "--no-migrate", "--host", "127.0.0.1", "--port", str(port)], env=env
    )
    try:
        deadline = time.monotonic() + 60
        ready = None
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
                    ready = r.status
                    break
            except OSError:
                time.sleep(0.5)
        assert ready == 200
        with urllib.request.urlopen(
            f"http://127.0.0.1:{port}/vendor/swagger-ui/swagger-ui-bundle.js", timeout=5
        ) as r:
            assert r.status == 200
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(f"pip install . took {installed_in:.0f} s")
