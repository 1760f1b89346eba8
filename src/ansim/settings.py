"""One settings class, read from ANSIM_* environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
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
    scheduler_poll_s: float = Field(default=0.5, gt=0)
    # Dispatch policy: the unit must acknowledge within this many seconds or the order moves on.
    ack_timeout_s: float = Field(default=30.0, gt=0, le=3600)
    # Code 0 (e.g. suspected kidnapping) sends this many units beyond the first.
    code0_extra_units: int = Field(default=2, ge=0, le=19)
    # Per channel and priority, e.g. {"one_touch:1": {"units": 2}, "*:3": {"auto_dispatch": true}}.
    dispatch_rules: dict[str, dict[str, Any]] = Field(default_factory=dict)
    # Scaled-out shape: events between processes through NATS JetStream (empty: in-process only).
    nats_url: str = ""
    # "json" for one JSON object per log line (with incident_id where known), "text" for people.
    log_format: str = "text"
