"""Staff accounts and their roles."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Role(StrEnum):
    DISPATCHER = "dispatcher"
    SUPERVISOR = "supervisor"
    OFFICER = "officer"
    CCTV_OPERATOR = "cctv_operator"
    ADMIN = "admin"


@dataclass
class StaffUser:
    id: str
    username: str
    display_name: str
    role: Role
    password_hash: str
    created_at: datetime
    unit_id: str | None = None
    disabled: bool = False


@dataclass
class StaffSession:
    """A login; the browser holds the token, we keep only its hash so a database leak is no login."""

    token_hash: str
    user_id: str
    created_at: datetime
    expires_at: datetime
    revoked: bool = False
    # Password checked but the second factor still to enrol: only enrolment and logout are allowed.
    enrolment_only: bool = False
