"""Security review (issue 19): outside demo, the server refuses to start with unsafe secrets."""

from __future__ import annotations

import base64

import pytest
from pydantic import SecretStr

from ansim.intake.settings import IntakeSettings
from ansim.security import crypto, secrets
from ansim.settings import Settings, VerificationSettings

GOOD_KEY = crypto.new_key_text("k1")
LINK = VerificationSettings(link_secret=SecretStr("a shared link key"))


def test_finding_unsigned_els_serve_refuses_to_start_without_the_els_key() -> None:
    settings = Settings(data_key=GOOD_KEY, verification=LINK)
    with pytest.raises(secrets.InsecureConfiguration, match="ANSIM_ELS_HMAC_KEY"):
        secrets.check(settings, IntakeSettings(els_hmac_key=""))
    secrets.check(settings, IntakeSettings(els_hmac_key="gateway key"))


def test_finding_guardian_links_need_one_shared_key_outside_demo() -> None:
    settings = Settings(
        data_key=GOOD_KEY, verification=VerificationSettings(link_secret=SecretStr(""))
    )
    with pytest.raises(secrets.InsecureConfiguration, match="ANSIM_VERIFY_LINK_SECRET"):
        secrets.check(settings, IntakeSettings(els_hmac_key="gateway key"))


def test_demo_runs_without_either() -> None:
    demo = Settings(demo=True, verification=VerificationSettings(link_secret=SecretStr("")))
    secrets.check(demo, IntakeSettings(els_hmac_key=""))


@pytest.mark.parametrize("byte", [0, 0xFF, 0x41])
def test_finding_an_all_zero_data_key_is_refused(byte: int) -> None:
    placeholder = "k1:" + base64.b64encode(bytes([byte]) * 32).decode()
    with pytest.raises(crypto.DataKeyError, match="not random"):
        crypto.Keyring.parse(placeholder)
    with pytest.raises(secrets.InsecureConfiguration, match="not random"):
        secrets.check(
            Settings(data_key=placeholder, verification=LINK), IntakeSettings(els_hmac_key="k")
        )
