"""The app refuses to start outside demo mode with default or missing secrets."""

from __future__ import annotations

from ansim.intake.settings import IntakeSettings
from ansim.security import crypto
from ansim.settings import Settings


class InsecureConfiguration(RuntimeError):
    """A setting would leave personal data or accounts unprotected."""


def keyring_for(settings: Settings) -> crypto.Keyring:
    """The data keys to use; demo mode falls back to the public demo key, production never does."""
    if settings.data_key or settings.data_key_file is not None:
        try:
            keyring = crypto.Keyring.load(text=settings.data_key, file=settings.data_key_file)
        except (OSError, crypto.DataKeyError) as error:
            raise InsecureConfiguration(f"data key unusable: {error}") from error
    elif settings.demo:
        return crypto.Keyring.parse(crypto.DEMO_KEY_TEXT)
    else:
        raise InsecureConfiguration(
            "no data key: set ANSIM_DATA_KEY or ANSIM_DATA_KEY_FILE "
            "(make one with `ansim keys new`); only `ansim demo` runs without"
        )
    demo_key = crypto.Keyring.parse(crypto.DEMO_KEY_TEXT).keys["demo"]
    if not settings.demo and demo_key in keyring.keys.values():
        raise InsecureConfiguration("the public demo data key is refused outside demo mode")
    return keyring


def check(settings: Settings, intake: IntakeSettings | None = None) -> crypto.Keyring:
    """Raises InsecureConfiguration unless the settings are fit for real data; returns the keyring."""
    keyring = keyring_for(settings)
    if settings.demo:
        return keyring
    intake = intake or IntakeSettings()
    if not intake.els_hmac_key:
        raise InsecureConfiguration(
            "no ELS key: set ANSIM_ELS_HMAC_KEY (the HMAC key agreed with the ELS gateway); "
            "unsigned ELS posts could move a person's location"
        )
    if not settings.verification.link_secret.get_secret_value():
        raise InsecureConfiguration(
            "no guardian link key: set ANSIM_VERIFY_LINK_SECRET (the same on every worker), "
            "or links fail on other workers and after a restart"
        )
    return keyring
