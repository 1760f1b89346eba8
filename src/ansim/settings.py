"""One settings class, read from ANSIM_* environment variables."""

from __future__ import annotations

import ipaddress
import os
from datetime import time, timedelta
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)


class FileSecrets(PydanticBaseSettingsSource):
    """`ANSIM_<NAME>_FILE=/run/secrets/x` gives <name> the file's text (Docker and systemd secrets).

    Every setting may come this way; a variable set directly wins over its file.
    """

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        prefix = str(self.settings_cls.model_config.get("env_prefix", ""))
        path = os.environ.get(f"{prefix}{field_name.upper()}_FILE")
        if not path or f"{prefix}{field_name.upper()}" in os.environ:
            return None, field_name, False
        try:
            return Path(path).read_text(encoding="utf-8").strip(), field_name, False
        except OSError as error:
            raise ValueError(
                f"{prefix}{field_name.upper()}_FILE: cannot read {path}: {error}"
            ) from None

    def __call__(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for name, field in self.settings_cls.model_fields.items():
            value, key, _ = self.get_field_value(field, name)
            if value is not None:
                found[key] = value
        return found


class FileBackedSettings(BaseSettings):
    """Settings read from ANSIM_* variables, each also from `ANSIM_<NAME>_FILE` (FileSecrets)."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (
            init_settings,
            env_settings,
            FileSecrets(settings_cls),
            dotenv_settings,
            file_secret_settings,
        )


IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class VerificationSettings(FileBackedSettings):
    """Guardian verification and notification channels, read from ANSIM_VERIFY_* variables."""

    model_config = SettingsConfigDict(env_prefix="ANSIM_VERIFY_", extra="ignore")

    # Fail safe: no answer by then counts as danger.
    answer_timeout_s: float = Field(default=60.0, gt=0)
    # Signs guardian links; empty makes a random key per process (links die with it: set it in production).
    link_secret: SecretStr = SecretStr("")
    link_ttl_s: float = Field(default=6 * 3600.0, gt=0)
    # Where guardians' phones reach this server (links in messages, delivery-report callback).
    public_url: str = "http://127.0.0.1:8000"
    # Generic signed JSON SMS gateway; empty: SMS are dead-lettered (or only logged in demo mode).
    sms_gateway_url: str = ""
    sms_gateway_secret: SecretStr = SecretStr("")
    sms_sender: str = "112"
    smtp_host: str = ""
    smtp_port: int = Field(default=25, gt=0, lt=65536)
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_starttls: bool = False
    smtp_tls: bool = False
    mail_from: str = "ansim@localhost"
    send_timeout_s: float = Field(default=10.0, gt=0)
    max_attempts: int = Field(default=6, ge=1)
    retry_base_s: float = Field(default=5.0, gt=0)
    retry_cap_s: float = Field(default=600.0, gt=0)
    notifier_poll_s: float = Field(default=1.0, gt=0)
    # A delivery claimed by a notifier that died is sent again after this (same idempotency key).
    notifier_lease_s: float = Field(default=60.0, ge=1, le=3600)
    # Terminal lost / low battery notices to guardians: at most one of each kind per interval.
    terminal_notice_interval_s: float = Field(default=1800.0, ge=0)
    # A duress PIN tells the guardians what a real cancel tells them (a guardian may be the
    # attacker, and the dispatcher can call them). False: guardians are told nothing on duress.
    duress_tells_guardians_cancelled: bool = True


class Settings(FileBackedSettings):
    model_config = SettingsConfigDict(env_prefix="ANSIM_", extra="ignore")

    database_url: str = "sqlite:///var/ansim.db"
    # Demo mode accepts the built-in demo accounts and keys; production refuses them.
    demo: bool = False
    data_dir: Path = Path("var")
    # A raster tile URL template for deployments that have a tile server; empty draws the bundled roads.
    tile_url: str = ""
    tile_attribution: str = "© OpenStreetMap contributors"
    session_hours: float = Field(default=12.0, gt=0)
    cookie_secure: bool = False
    auto_dispatch: bool = True
    # Repeated SOS from one person within this window join the open incident.
    merge_window_s: float = Field(default=1800.0, ge=0)
    outbox_poll_s: float = Field(default=0.5, gt=0)
    # Shift changes (Seoul wall-clock times): the supervisor's figures count from the last one.
    shift_changes: list[time] = Field(
        default_factory=lambda: [time(7, 0), time(19, 0)], min_length=1
    )
    scheduler_poll_s: float = Field(default=0.5, gt=0)
    # Dispatch policy: the unit must acknowledge within this many seconds or the order moves on.
    ack_timeout_s: float = Field(default=30.0, gt=0, le=3600)
    # Code 0 (e.g. suspected kidnapping) sends this many units beyond the first.
    code0_extra_units: int = Field(default=2, ge=0, le=19)
    # An incident missing units (none free, no location yet) re-ranks this often until ordered.
    dispatch_retry_s: float = Field(default=10.0, gt=0, le=600)
    # A unit that let an order time out is rested (not recommended, not ordered) this long.
    unit_rest_s: float = Field(default=120.0, ge=0, le=3600)
    # The dispatch promise measured by the simulation: an order within this long of the press.
    order_within_s: float = Field(default=1.0, gt=0, le=600)
    # Per channel and priority, e.g. {"one_touch:1": {"units": 2}, "*:3": {"auto_dispatch": true}}.
    dispatch_rules: dict[str, dict[str, Any]] = Field(default_factory=dict)
    verification: VerificationSettings = Field(default_factory=lambda: VerificationSettings())
    # Security (docs/security.md). A second factor for dispatchers, supervisors and admins
    # (never asked in demo mode, whose accounts are public).
    require_totp: bool = True
    # No trust on first use: enrolling the second factor needs a one-time code an admin issued
    # (the staff page, POST /api/v1/admin/staff/{username}/totp-enrolment-code, or for the first
    # admin `ansim admin add-user` / `ansim totp-code`), valid this long. Demo mode asks no TOTP.
    totp_enrolment_code_required: bool = True
    totp_enrolment_code_valid_s: float = Field(default=24 * 3600.0, gt=0)
    # Personal data encryption key: base64 of 32 bytes, optionally "<key id>:<base64>"; several
    # keys separated by commas, the first encrypts (rotation). Or a file holding the same text.
    data_key: str = ""
    data_key_file: Path | None = None
    max_body_bytes: int = Field(default=64 * 1024, gt=0)
    # Signed requests (carriers, SMS gateway, app; ansim.security.signing) signed further than this
    # from our clock are refused as possible replays, except an authentic SOS (taken, flagged).
    signature_window_s: float = Field(default=300.0, gt=0, le=3600)
    # Failed logins before a lock, and the first lock's length (it doubles each further failure).
    login_max_failures: int = Field(default=5, gt=0)
    login_lock_s: float = Field(default=30.0, gt=0)
    # Failed-login counts halve after this long without a failure (per user and per address).
    login_decay_s: float = Field(default=600.0, gt=0)
    # Proxies whose X-Forwarded-For is believed (e.g. ["127.0.0.1/32"] behind a local nginx); empty:
    # the peer address is the client (a forwarded header from anyone else is ignored).
    trusted_proxies: list[str] = Field(default_factory=list)
    # Who may read /metrics and /openapi.json without an admin session (the real client's address,
    # see trusted_proxies): loopback by default; add the Prometheus scraper's network when it is remote.
    operations_networks: list[str] = Field(default_factory=lambda: ["127.0.0.1/32", "::1/128"])
    # The live stream: other origins than the page's own that may open it (e.g. a separate console
    # host), and how often an open stream re-checks its session (logout or revocation closes it).
    stream_origins: list[str] = Field(default_factory=list)
    stream_session_check_s: float = Field(default=2.0, gt=0)
    # Location history and guardian answers are purged this long after an incident closes.
    retention_days: float = Field(default=30.0, gt=0)
    # Scaled-out shape: events between processes through NATS JetStream (empty: in-process only).
    nats_url: str = ""
    # mqtt://[user:password@]host[:port]: terminals over MQTT and notices to them (empty: HTTP only).
    mqtt_url: str = ""
    # "json" for one JSON object per log line (with incident_id where known), "text" for people.
    log_format: str = "text"

    @field_validator("trusted_proxies", "operations_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for network in value:
            ipaddress.ip_network(network, strict=False)  # a typo refuses to start, not each request
        return value

    @property
    def signature_window(self) -> timedelta:
        return timedelta(seconds=self.signature_window_s)

    def trusted_proxy_networks(self) -> tuple[IPNetwork, ...]:
        return tuple(ipaddress.ip_network(p, strict=False) for p in self.trusted_proxies)

    def operations_network_list(self) -> tuple[IPNetwork, ...]:
        return tuple(ipaddress.ip_network(p, strict=False) for p in self.operations_networks)
