"""`ansim totp-code USER`: the first admin's enrolment code, from the host (no admin exists yet)."""

from __future__ import annotations

import argparse
import sys

from ansim.domain.errors import DomainError


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = subparsers.add_parser(
        "totp-code", help="issue a staff user a one-time code to enrol their authenticator"
    )
    command.add_argument("username")
    command.add_argument("--database-url", help="default: ANSIM_DATABASE_URL")
    command.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from ansim.domain.dispatch_policy import DispatchPolicy
    from ansim.services import staff_commands
    from ansim.services.platform import Platform
    from ansim.services.ranking import StraightLineRanker
    from ansim.services.verification_config import VerificationConfig
    from ansim.settings import Settings
    from ansim.store.db import make_engine, make_session_factory
    from ansim.store.uow import UnitOfWork

    settings = Settings()
    engine = make_engine(args.database_url or settings.database_url)
    # The command needs only the store and the clock of the dependencies object.
    platform = Platform(
        uow=UnitOfWork(make_session_factory(engine)),
        ranker=StraightLineRanker(),
        policy=DispatchPolicy(),
        verification=VerificationConfig.from_settings(settings.verification),
    )
    try:
        code = staff_commands.do_issue_totp_enrolment_code(
            platform,
            username=args.username,
            valid_for=timedelta(seconds=settings.totp_enrolment_code_valid_s),
            actor="cli",
        )
    except DomainError as error:
        print(f"cannot issue: {error}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    print(f"{args.username}: {code} (one use, {settings.totp_enrolment_code_valid_s:.0f} s)")
    return 0
