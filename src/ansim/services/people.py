"""Registered people, their guardians and channel bindings; app install credentials."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ansim.domain.errors import NotFound
from ansim.domain.incidents import Channel
from ansim.domain.people import ChannelBinding, Guardian, Subscriber
from ansim.store.tables import channel_bindings, guardians


def get_subscriber(session: Session, *, subscriber_id: str) -> Subscriber:
    subscriber = session.get(Subscriber, subscriber_id)
    if subscriber is None:
        raise NotFound(f"no subscriber {subscriber_id}")
    return subscriber


def guardians_of(session: Session, *, subscriber_id: str) -> list[Guardian]:
    query = sa.select(Guardian).where(guardians.c.subscriber_id == subscriber_id)
    return list(session.execute(query.order_by(guardians.c.call_order)).scalars())


def binding(session: Session, *, channel: Channel, address: str) -> ChannelBinding | None:
    query = sa.select(ChannelBinding).where(
        channel_bindings.c.channel == channel.value, channel_bindings.c.address == address
    )
    return session.execute(query).scalar_one_or_none()


def bind(
    session: Session,
    *,
    subscriber_id: str,
    channel: Channel,
    address: str,
    at: datetime,
    credential_hash: str = "",
) -> ChannelBinding:
    bound = ChannelBinding(
        id=str(uuid.uuid4()),
        subscriber_id=subscriber_id,
        channel=channel,
        address=address,
        created_at=at,
        credential_hash=credential_hash,
    )
    session.add(bound)
    return bound


def issue_app_credential(session: Session, *, subscriber_id: str, at: datetime) -> str:
    """Registers a new app install and returns its bearer credential `<install id>.<secret>`."""
    install_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    bind(
        session,
        subscriber_id=subscriber_id,
        channel=Channel.APP,
        address=install_id,
        at=at,
        credential_hash=_secret_hash(secret),
    )
    return f"{install_id}.{secret}"


def app_installs(session: Session, *, subscriber_id: str) -> list[ChannelBinding]:
    query = sa.select(ChannelBinding).where(
        channel_bindings.c.subscriber_id == subscriber_id,
        channel_bindings.c.channel == Channel.APP.value,
    )
    return list(session.execute(query).scalars())


def revoke_app_installs(
    session: Session, *, subscriber_id: str, install_id: str | None = None
) -> list[str]:
    """Deletes the person's app install credentials (one, or all); returns the install ids."""
    chosen = [
        b
        for b in app_installs(session, subscriber_id=subscriber_id)
        if install_id is None or b.address == install_id
    ]
    revoked = [b.address for b in chosen]
    for bound in chosen:
        session.delete(bound)
    session.flush()
    return revoked


def app_install(session: Session, *, credential: str) -> ChannelBinding | None:
    """The app install a bearer credential belongs to, or None if it is not genuine."""
    install_id, _, secret = credential.partition(".")
    if not install_id or not secret:
        return None
    bound = binding(session, channel=Channel.APP, address=install_id)
    # High-entropy secrets need no slow hash; compare in constant time all the same.
    if bound is None or not hmac.compare_digest(bound.credential_hash, _secret_hash(secret)):
        return None
    return bound


def _secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
