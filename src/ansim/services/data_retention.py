"""The retention command: keep the hourly sweep of expired personal data scheduled."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from ansim.security import retention
from ansim.services.platform import Platform, transaction


def do_ensure_retention_sweep(
    platform: Platform, *, keep_for: timedelta, session: Session | None = None
) -> None:
    """Schedules the hourly sweep unless one is pending (the scheduler process, at start-up)."""
    with transaction(platform, session) as own:
        retention.ensure_sweep(own, now=platform.now(), keep_for=keep_for)
