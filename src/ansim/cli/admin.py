"""`ansim admin ...`: staff accounts from the command line (the first administrator above all)."""

from __future__ import annotations

import argparse
import getpass
import sys

from ansim.domain.errors import DomainError
from ansim.domain.staff import Role
from ansim.services.platform import Platform

ROLES = [r.value for r in Role]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = subparsers.add_parser("admin", help="staff accounts: add, change, disable, revoke")
    actions = command.add_subparsers(dest="action", required=True)

    add = actions.add_parser(
        "add-user",
        help="add a staff account; the password is read from standard input",
        description="The password is read from standard input (typed twice at a terminal). "
        "It needs at least 12 characters and must pass a zxcvbn strength check. "
        "Dispatchers, supervisors and admins enrol TOTP at their first login, with the one-time "
        "enrolment code printed here (ANSIM_TOTP_ENROLMENT_CODE_REQUIRED, on outside demo mode).",
    )
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument(
        "--district", action="append", default=[], help="자치구 worked (repeatable), e.g. 종로구"
    )
    add.add_argument("--display-name", default="")
    add.add_argument("--unit", help="an officer's unit call sign")
    _database(add)
    add.set_defaults(func=run_add_user)

    listing = actions.add_parser("list-users", help="list staff accounts")
    _database(listing)
    listing.set_defaults(func=run_list_users)

    change = actions.add_parser("change-user", help="change a staff account's role or districts")
    change.add_argument("username")
    change.add_argument("--role", choices=ROLES)
    change.add_argument("--district", action="append", help="replaces the districts (repeatable)")
    change.add_argument("--no-districts", action="store_true", help="remove every district")
    change.add_argument("--display-name")
    _database(change)
    change.set_defaults(func=run_change_user)

    for name, helptext in [
        ("disable-user", "disable an account and end its sessions (history stays)"),
        ("enable-user", "enable a disabled account again"),
        ("reset-totp", "forget the second factor (lost phone); the next login enrols a new one"),
        ("revoke-sessions", "end every open session of the account"),
    ]:
        action = actions.add_parser(name, help=helptext)
        action.add_argument("username")
        _database(action)
        action.set_defaults(func=run_user_action, user_action=name)

    for name, helptext in [
        ("disable-terminal", "refuse a terminal's messages (lost or stolen device)"),
        ("enable-terminal", "accept a disabled terminal again"),
        ("disable-carrier", "refuse a carrier's signed calls"),
        ("enable-carrier", "accept a disabled carrier again"),
        ("rotate-carrier-secret", "give a carrier a new shared secret (printed once)"),
        ("revoke-app-installs", "revoke a person's 112 app installs (all, or --install ID)"),
    ]:
        action = actions.add_parser(name, help=helptext)
        action.add_argument("target", help="terminal id, carrier id or subscriber id")
        if name == "revoke-app-installs":
            action.add_argument("--install", help="only this install id")
        _database(action)
        action.set_defaults(func=run_revocation, revocation=name)

    for name, helptext in [
        ("retire-unit", "take a unit off duty for good (its history stays)"),
        ("retire-station", "retire a station without units (its history stays)"),
    ]:
        action = actions.add_parser(name, help=helptext)
        action.add_argument("name", help="call sign or station name")
        _database(action)
        action.set_defaults(func=run_retire, retire=name)

    # One row in place (the same commands as PATCH /api/v1/admin/fleet/...); left out: unchanged.
    edit = actions.add_parser("edit-unit", help="change a unit's call sign, kind or station")
    edit.add_argument("name", help="the unit's call sign")
    edit.add_argument("--call-sign")
    edit.add_argument("--kind", choices=["patrol_car", "foot"])
    edit.add_argument("--station", help='station name ("강남구 신사파출소" where two share it)')
    _database(edit)
    edit.set_defaults(func=run_edit)
    edit = actions.add_parser(
        "edit-station", help="change a station's name, kind, position or district"
    )
    edit.add_argument("name", help='station name ("강남구 신사파출소" where two share it)')
    edit.add_argument("--new-name")
    edit.add_argument("--kind", choices=["police_station", "district_unit", "police_box"])
    edit.add_argument("--lat", type=float)
    edit.add_argument("--lon", type=float)
    edit.add_argument("--district")
    _database(edit)
    edit.set_defaults(func=run_edit)


def _database(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--database-url", help="default: ANSIM_DATABASE_URL")


def read_password() -> str:
    """At a terminal: typed twice without echo. Otherwise the first line of standard input."""
    if sys.stdin.isatty():
        first = getpass.getpass("password: ")
        if getpass.getpass("again: ") != first:
            raise SystemExit("the two passwords differ")
        return first
    return sys.stdin.readline().rstrip("\r\n")


def _unit_id(platform: Platform, call_sign: str | None) -> str | None:
    if not call_sign:
        return None
    from ansim.services import fleet

    with platform.uow.read() as session:
        return fleet.unit_by_call_sign(session, call_sign=call_sign).id


def run_add_user(args: argparse.Namespace) -> int:
    from ansim.cli.platform import cli_actor, cli_platform
    from ansim.services import staff_admin

    password = read_password()
    code = None
    try:
        with cli_platform(args.database_url) as platform:
            view = staff_admin.do_add_staff_user(
                platform,
                username=args.username,
                password=password,
                role=Role(args.role),
                display_name=args.display_name,
                districts=args.district,
                unit_id=_unit_id(platform, args.unit),
                actor=cli_actor(),
            )
            code = _enrolment_code(platform, view.username, Role(args.role))
    except DomainError as error:
        print(f"cannot add {args.username}: {error}", file=sys.stderr)
        return 2
    districts = ", ".join(view.districts) or "no district"
    print(f"added {view.username} ({view.role.value}; {districts})")
    if code is not None:
        # The first admin has no admin to issue one: without it they could never enrol.
        print(f"enrolment code for {view.username}: {code} (one use; give it to them in person)")
    return 0


def _enrolment_code(platform: Platform, username: str, role: Role) -> str | None:
    """A one-time code to enrol the second factor, where the login will ask for one."""
    from datetime import timedelta

    from ansim.cli.platform import cli_actor
    from ansim.security import access
    from ansim.services import staff_commands
    from ansim.settings import Settings

    settings = Settings()
    needs_code = settings.require_totp and settings.totp_enrolment_code_required
    if settings.demo or not needs_code or role not in access.SECOND_FACTOR_ROLES:
        return None
    return staff_commands.do_issue_totp_enrolment_code(
        platform,
        username=username,
        valid_for=timedelta(seconds=settings.totp_enrolment_code_valid_s),
        actor=cli_actor(),
    )


def run_list_users(args: argparse.Namespace) -> int:
    from ansim.cli.platform import cli_platform
    from ansim.services import staff_admin

    with cli_platform(args.database_url) as platform, platform.uow.read() as session:
        views = staff_admin.list_staff(session)
    for v in views:
        state = "disabled" if v.disabled else ("totp" if v.totp_enrolled else "no totp yet")
        print(f"{v.username:<20} {v.role.value:<14} {state:<12} {', '.join(v.districts)}")
    return 0


def run_change_user(args: argparse.Namespace) -> int:
    from ansim.cli.platform import cli_actor, cli_platform
    from ansim.services import staff_admin

    districts = [] if args.no_districts else args.district
    try:
        with cli_platform(args.database_url) as platform:
            view = staff_admin.do_change_staff_user(
                platform,
                username=args.username,
                role=Role(args.role) if args.role else None,
                districts=districts,
                display_name=args.display_name,
                actor=cli_actor(),
            )
    except DomainError as error:
        print(f"cannot change {args.username}: {error}", file=sys.stderr)
        return 2
    print(f"{view.username}: {view.role.value}; {', '.join(view.districts) or 'no district'}")
    return 0


def run_user_action(args: argparse.Namespace) -> int:
    from ansim.cli.platform import cli_actor, cli_platform
    from ansim.services import staff_admin

    actor = cli_actor()
    try:
        with cli_platform(args.database_url) as platform:
            if args.user_action in ("disable-user", "enable-user"):
                staff_admin.do_set_staff_disabled(
                    platform,
                    username=args.username,
                    disabled=args.user_action == "disable-user",
                    actor=actor,
                )
                print(f"{args.username}: {args.user_action.removesuffix('-user')}d")
            elif args.user_action == "reset-totp":
                staff_admin.do_reset_staff_totp(platform, username=args.username, actor=actor)
                print(f"{args.username}: second factor reset; enrol again at the next login")
            else:
                count = staff_admin.do_revoke_staff_sessions(
                    platform, username=args.username, actor=actor
                )
                print(f"{args.username}: {count} session(s) revoked")
    except DomainError as error:
        print(f"cannot {args.user_action} {args.username}: {error}", file=sys.stderr)
        return 2
    return 0


def run_retire(args: argparse.Namespace) -> int:
    from ansim.cli.platform import cli_actor, cli_platform
    from ansim.services import fleet

    try:
        with cli_platform(args.database_url) as platform:
            if args.retire == "retire-unit":
                fleet.do_retire_unit(platform, call_sign=args.name, actor=cli_actor())
            else:
                fleet.do_retire_station(platform, name=args.name, actor=cli_actor())
    except DomainError as error:
        print(f"cannot retire {args.name}: {error}", file=sys.stderr)
        return 2
    print(f"{args.name}: retired")
    return 0


def run_edit(args: argparse.Namespace) -> int:
    from ansim.cli.platform import cli_actor, cli_platform
    from ansim.domain.units import StationKind, UnitKind
    from ansim.services import fleet_edits

    try:
        with cli_platform(args.database_url) as platform:
            if args.action == "edit-unit":
                unit = fleet_edits.do_edit_unit(
                    platform,
                    call_sign=args.name,
                    change=fleet_edits.UnitChange(
                        call_sign=args.call_sign,
                        kind=UnitKind(args.kind) if args.kind else None,
                        station=args.station,
                    ),
                    actor=cli_actor(),
                )
                print(f"{args.name}: now {unit.call_sign} ({unit.kind})")
            else:
                station = fleet_edits.do_edit_station(
                    platform,
                    name=args.name,
                    change=fleet_edits.StationChange(
                        name=args.new_name,
                        kind=StationKind(args.kind) if args.kind else None,
                        lat=args.lat,
                        lon=args.lon,
                        district=args.district,
                    ),
                    actor=cli_actor(),
                )
                print(f"{args.name}: now {station.district} {station.name} ({station.kind})")
    except DomainError as error:
        print(f"cannot edit {args.name}: {error}", file=sys.stderr)
        return 2
    return 0


def run_revocation(args: argparse.Namespace) -> int:
    from ansim.cli.platform import cli_actor, cli_platform
    from ansim.services import revocation

    actor, target, what = cli_actor(), args.target, args.revocation
    try:
        with cli_platform(args.database_url) as platform:
            if what.endswith("-terminal"):
                revocation.do_set_terminal_disabled(
                    platform, terminal_id=target, disabled=what.startswith("disable"), actor=actor
                )
            elif what.endswith("-carrier"):
                revocation.do_set_carrier_disabled(
                    platform, carrier_id=target, disabled=what.startswith("disable"), actor=actor
                )
            elif what == "rotate-carrier-secret":
                secret = revocation.do_rotate_carrier_secret(
                    platform, carrier_id=target, actor=actor
                )
                print(f"{target}: new shared secret (shown once): {secret}")
                return 0
            else:
                revoked = revocation.do_revoke_app_installs(
                    platform, subscriber_id=target, install_id=args.install, actor=actor
                )
                print(f"{target}: {len(revoked)} app install(s) revoked")
                return 0
    except DomainError as error:
        print(f"cannot {what} {target}: {error}", file=sys.stderr)
        return 2
    print(f"{target}: {what.split('-')[0]}d")
    return 0
