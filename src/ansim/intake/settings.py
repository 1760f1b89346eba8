"""Intake settings read from ANSIM_* variables (kept apart so channels can be switched on alone)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from ansim.settings import FileBackedSettings


class IntakeSettings(FileBackedSettings):
    """ANSIM_ELS_HMAC_KEY_FILE like every other secret (ansim.settings.FileSecrets)."""

    model_config = SettingsConfigDict(env_prefix="ANSIM_", extra="ignore")

    # mqtt://[user:password@]host[:port]; empty keeps terminals on HTTP only.
    mqtt_url: str = ""
    # The shared-subscription group of the API workers: each up message reaches one of them.
    # Deployments sharing a broker (or test runs) give each its own group.
    mqtt_share_group: str = "ansim-intake"
    # Android ELS may append an HMAC-SHA1 keyed by the receiving service; empty accepts unsigned posts.
    els_hmac_key: str = ""
