"""What verification and guardian messaging need from the settings, made once per app."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from ansim.domain import guardian_links
from ansim.domain.deliveries import RecipientKind, RetryPolicy
from ansim.domain.guardian_links import GuardianLink
from ansim.settings import VerificationSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VerificationConfig:
    answer_timeout: timedelta
    link_key: bytes
    link_ttl: timedelta
    public_url: str
    retry: RetryPolicy
    terminal_notice_interval: timedelta
    # Silent notices to the wearer's terminal: only where a broker carries them (ANSIM_MQTT_URL).
    terminal_notices: bool = False
    # See VerificationSettings.duress_tells_guardians_cancelled.
    duress_tells_guardians_cancelled: bool = True

    @classmethod
    def from_settings(
        cls, settings: VerificationSettings, *, terminal_notices: bool = False
    ) -> VerificationConfig:
        key = settings.link_secret.get_secret_value().encode()
        if not key:
            # Fine for one process; links then die with it, and a second worker would refuse them.
            log.warning("ANSIM_VERIFY_LINK_SECRET is not set; guardian links use a per-process key")
            key = secrets.token_bytes(32)
        return cls(
            answer_timeout=timedelta(seconds=settings.answer_timeout_s),
            link_key=key,
            link_ttl=timedelta(seconds=settings.link_ttl_s),
            public_url=settings.public_url.rstrip("/"),
            retry=RetryPolicy(
                max_attempts=settings.max_attempts,
                base=timedelta(seconds=settings.retry_base_s),
                cap=timedelta(seconds=settings.retry_cap_s),
            ),
            terminal_notice_interval=timedelta(seconds=settings.terminal_notice_interval_s),
            terminal_notices=terminal_notices,
            duress_tells_guardians_cancelled=settings.duress_tells_guardians_cancelled,
        )

    def link(
        self, *, incident_id: str, recipient_id: str, kind: RecipientKind, at: datetime
    ) -> str:
        """The guardian page URL for one recipient and one incident."""
        token = guardian_links.sign(
            GuardianLink(incident_id, recipient_id, kind, at + self.link_ttl), self.link_key
        )
        return f"{self.public_url}/g/{token}"
