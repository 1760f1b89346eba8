"""Intake settings read from ANSIM_* variables (kept apart so channels can be switched on alone)."""

from __future__ import annotations

from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict


class IntakeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ANSIM_", extra="ignore")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # ANSIM_ELS_HMAC_KEY_FILE like every other secret (ansim.settings.FileSecrets).
        from ansim.settings import with_file_secrets

        return with_file_secrets(
            settings_cls, init_settings, env_settings, dotenv_settings, file_secret_settings
        )

    # mqtt://[user:password@]host[:port]; empty keeps terminals on HTTP only.
    mqtt_url: str = ""
    # The shared-subscription group of the API workers: each up message reaches one of them.
    # Deployments sharing a broker (or test runs) give each its own group.
    mqtt_share_group: str = "ansim-intake"
    # Android ELS may append an HMAC-SHA1 keyed by the receiving service; empty accepts unsigned posts.
    els_hmac_key: str = ""
