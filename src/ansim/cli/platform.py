"""The command layer's Platform for one CLI command: the configured database, keys and policies."""

from __future__ import annotations

import getpass
import os
from collections.abc import Iterator
from contextlib import contextmanager
from secrets import token_hex

from pydantic import SecretStr

from ansim.security import audit
from ansim.services.platform import Platform


@contextmanager
def cli_platform(database_url: str | None) -> Iterator[Platform]:
    """Yields a Platform on the configured database (keys installed, as `ansim serve` would)."""
    from ansim.domain.dispatch_policy import DispatchPolicy
    from ansim.security import crypto, secrets
    from ansim.services.ranking import StraightLineRanker
    from ansim.services.verification_config import VerificationConfig
    from ansim.settings import Settings
    from ansim.store.db import make_engine, make_session_factory
    from ansim.store.uow import UnitOfWork

    settings = Settings()
    verify = settings.verification
    if not verify.link_secret.get_secret_value():
        # No guardian link leaves an administration command: a throwaway key, without the warning.
        verify = verify.model_copy(update={"link_secret": SecretStr(token_hex(16))})
    try:
        crypto.install(secrets.keyring_for(settings))  # the data keys; serve checks the rest
    except secrets.InsecureConfiguration as error:
        raise SystemExit(f"ansim: {error}") from None
    engine = make_engine(database_url or settings.database_url)
    uow = UnitOfWork(make_session_factory(engine))
    from ansim.services.center_maps import install_stored_districts

    install_stored_districts(uow)
    try:
        yield Platform(
            uow=uow,
            # Administration never dispatches; the served app loads the road ranker.
            ranker=StraightLineRanker(),
            policy=DispatchPolicy(),
            verification=VerificationConfig.from_settings(verify),
        )
    finally:
        engine.dispose()


def cli_actor() -> audit.Actor:
    """Who runs the command, as the audit log records it: the operating-system account."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):
        name = str(os.getuid())
    return audit.Actor(name=f"cli:{name}", role="admin")
