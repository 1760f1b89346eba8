"""Deployment: the compose file against the Compose schema, the image's own command to a healthy
/readyz in a plain virtualenv, and every secret readable from a file (ANSIM_*_FILE)."""

from __future__ import annotations

import json
import os
import re
import shlex
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import jsonschema
import pytest
import yaml

from ansim.security import crypto
from ansim.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
SCHEMA = Path(__file__).resolve().parent / "fixtures" / "deploy" / "compose_spec.json"


def _compose() -> dict[str, object]:
    loaded = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def test_the_compose_file_follows_the_compose_schema_and_names_the_production_shape() -> None:
    compose = _compose()
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    # The schema's own dialect marker is 2019-09; its keywords are draft-07's.
    jsonschema.Draft7Validator(schema).validate(compose)
    services = compose["services"]
    assert isinstance(services, dict)
    assert {
        "postgres",
        "nats",
        "mosquitto",
        "nginx",
        "api1",
        "api2",
        "scheduler",
        "relay",
        "notifier",
    } <= set(services)
    declared = set(compose["secrets"])  # type: ignore[arg-type]
    for name in ("api1", "api2", "scheduler", "relay", "notifier", "migrate"):
        service = services[name]
        env = service["environment"]
        # Secrets only as files: no password or key in the environment itself.
        assert "ANSIM_DATA_KEY" not in env
        assert "ANSIM_DATABASE_URL" not in env
        for key, value in env.items():
            if key.endswith("_FILE"):
                assert value.removeprefix("/run/secrets/") in set(service["secrets"]) & declared, (
                    key
                )
    roles = {services[n]["command"][2] for n in ("api1", "scheduler", "relay", "notifier")}
    assert roles == {"api", "scheduler", "relay", "notifier"}
    assert "--no-migrate" in services["api1"]["command"]


def _dockerfile_command() -> list[str]:
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^USER ansim$", text, re.M), "the image must not run as root"
    assert "HEALTHCHECK" in text
    entry = json.loads(re.search(r"^ENTRYPOINT (\[.*\])$", text, re.M).group(1))  # type: ignore[union-attr]
    cmd = json.loads(re.search(r"^CMD (\[.*\])$", text, re.M).group(1))  # type: ignore[union-attr]
    return [*entry, *cmd]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_images_command_serves_a_healthy_readyz_with_secrets_from_files(tmp_path: Path) -> None:
    command = _dockerfile_command()
    assert command[:2] == ["ansim", "serve"]
    port = _free_port()
    command = [str(Path(sys.executable).parent / "ansim"), *command[1:]]
    command[command.index("--port") + 1] = str(port)
    command[command.index("--host") + 1] = "127.0.0.1"
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    database = tmp_path / "center.db"
    (secrets / "database_url").write_text(f"sqlite:///{database}\n", encoding="utf-8")
    (secrets / "data_key").write_text(crypto.new_key_text("img1"), encoding="utf-8")
    (secrets / "link_secret").write_text("a link secret from a file", encoding="utf-8")
    (secrets / "els_hmac_key").write_text("an ELS key from a file", encoding="utf-8")
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "ANSIM_DATABASE_URL_FILE": str(secrets / "database_url"),
        "ANSIM_DATA_KEY_FILE": str(secrets / "data_key"),
        "ANSIM_VERIFY_LINK_SECRET_FILE": str(secrets / "link_secret"),
        "ANSIM_ELS_HMAC_KEY_FILE": str(secrets / "els_hmac_key"),
        "ANSIM_REQUIRE_TOTP": "true",
    }
    ansim = str(Path(sys.executable).parent / "ansim")
    # The compose file's migrate service runs first.
    subprocess.run([ansim, "db", "upgrade"], env=env, check=True, timeout=120)
    server = subprocess.Popen(command, env=env)
    try:
        deadline, status = time.monotonic() + 60, None
        while time.monotonic() < deadline and status is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
                    status = r.status
            except OSError:
                time.sleep(0.3)
        assert status == 200
        health = re.search(r'"-c", "(.*?)"\]', (DEPLOY / "Dockerfile").read_text()).group(1)  # type: ignore[union-attr]
        probe = subprocess.run(
            [sys.executable, "-c", health.replace("8000", str(port))], timeout=10, check=False
        )
        assert probe.returncode == 0
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert database.exists()
    assert shlex.join(command)


def test_every_setting_may_come_from_a_file_and_a_direct_value_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "url").write_text("postgresql+psycopg://ansim@db/ansim\n", encoding="utf-8")
    (tmp_path / "smtp").write_text("smtp secret", encoding="utf-8")
    monkeypatch.setenv("ANSIM_DATABASE_URL_FILE", str(tmp_path / "url"))
    monkeypatch.setenv("ANSIM_VERIFY_SMTP_PASSWORD_FILE", str(tmp_path / "smtp"))
    monkeypatch.delenv("ANSIM_DATABASE_URL", raising=False)
    settings = Settings()
    assert settings.database_url == "postgresql+psycopg://ansim@db/ansim"
    assert settings.verification.smtp_password.get_secret_value() == "smtp secret"
    monkeypatch.setenv("ANSIM_DATABASE_URL", "sqlite:///direct.db")
    assert Settings().database_url == "sqlite:///direct.db"
    monkeypatch.delenv("ANSIM_DATABASE_URL")
    monkeypatch.setenv("ANSIM_DATABASE_URL_FILE", str(tmp_path / "missing"))
    with pytest.raises(ValueError, match="ANSIM_DATABASE_URL_FILE"):
        Settings()
