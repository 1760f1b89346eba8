"""Who may call what: one table from each route's operation id to the principals it admits.

Every HTTP route of the app must have a line in `ACCESS`; a route without one is refused at run
time (403) and fails `tests/test_security_access.py`, which walks the OpenAPI and tries every staff
role that is not admitted. Adding a route means adding one line here, e.g.

    "acknowledge_guardian_alert": GUARDIAN,

Staff rules (sets of `Principal`s that are staff roles) are enforced for every route by
`ansim.api.auth.enforce_access`. Rules naming other principals (device, carrier, guardian link,
public) declare that the route does not take a staff session: the route's own dependency checks the
device signature, carrier credential or guardian link, and a staff session there is worth nothing.
Finer rules (officers see only their unit's incidents, guardians only their person) live in the
routes and are tested there.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from ansim.domain.staff import Role


class Principal(StrEnum):
    DISPATCHER = Role.DISPATCHER.value
    SUPERVISOR = Role.SUPERVISOR.value
    OFFICER = Role.OFFICER.value
    CCTV_OPERATOR = Role.CCTV_OPERATOR.value
    ADMIN = Role.ADMIN.value
    GUARDIAN_LINK = "guardian_link"
    DEVICE = "device"
    CARRIER = "carrier"
    PUBLIC = "public"
    OPERATIONS_NETWORK = "operations_network"


Rule = frozenset[Principal]
P = Principal

STAFF_PRINCIPALS: Rule = frozenset(Principal(role.value) for role in Role)
CONSOLE: Rule = frozenset({P.DISPATCHER, P.SUPERVISOR, P.ADMIN})
FIELD: Rule = CONSOLE | {P.OFFICER}
CCTV: Rule = frozenset({P.DISPATCHER, P.SUPERVISOR, P.CCTV_OPERATOR, P.ADMIN})
ANY_STAFF: Rule = STAFF_PRINCIPALS
ADMIN: Rule = frozenset({P.ADMIN})
SUPERVISION: Rule = frozenset({P.SUPERVISOR, P.ADMIN})
DEVICE: Rule = frozenset({P.DEVICE})
CARRIER: Rule = frozenset({P.CARRIER})
GUARDIAN: Rule = frozenset({P.GUARDIAN_LINK})
PUBLIC: Rule = frozenset({P.PUBLIC})
OPERATIONS: Rule = frozenset({P.OPERATIONS_NETWORK, P.ADMIN})

ACCESS: dict[str, Rule] = {
    # operations (issue 10): probes for load balancers and Prometheus
    "ops_health": PUBLIC,
    "ops_ready": PUBLIC,
    # metrics and the API description: the operations networks or an admin (checked in api/ops.py)
    "ops_metrics": OPERATIONS,
    "ops_openapi": OPERATIONS,
    # intake (issue 3): devices and carriers sign their own requests; enrolment is the admin's
    "app_request_code": PUBLIC,
    "app_verify_code": PUBLIC,
    "app_get_profile": DEVICE,
    "app_update_profile": DEVICE,
    "app_upload_fixes": DEVICE,
    "app_cancel_sos": DEVICE,
    "app_get_sos_status": DEVICE,
    "app_root": PUBLIC,
    "app_page": PUBLIC,
    "app_manifest": PUBLIC,
    "app_service_worker": PUBLIC,
    "carrier_report_sos": CARRIER,
    "carrier_deliver_aml": CARRIER,
    # ELS answers 2xx to anyone, as the standard demands; unsigned or malformed posts are discarded and counted.
    "els_receive": PUBLIC,
    "terminal_send_message": DEVICE,
    "admin_enrol_person": ADMIN,
    "admin_list_people": ADMIN,
    "admin_get_person": ADMIN,
    "admin_update_person": ADMIN,
    "admin_import_people": ADMIN,
    "admin_enrol_terminal": ADMIN,
    "admin_update_terminal": ADMIN,
    "admin_list_terminals": ADMIN,
    "admin_register_carrier": ADMIN,
    "admin_set_carrier_location_server": ADMIN,
    "relocate_caller": CONSOLE,
    "admin_intake_discards": ADMIN,
    "enrol_page": PUBLIC,
    "export_incident_pidf_lo": CONSOLE,
    "export_incident_eido": CONSOLE,
    # location (issue 4)
    "get_incident_location": FIELD,
    # verification (issue 6): the guardian's signed link, the SMS gateway's signed reports
    "get_verification": CONSOLE,
    "start_verification": CONSOLE,
    "record_guardian_call": CONSOLE,
    "decide_verification": CONSOLE,
    "get_guardian_view": GUARDIAN,
    "answer_as_guardian": GUARDIAN,
    "guardian_html": GUARDIAN,
    "receive_sms_delivery_report": CARRIER,
    "list_school_guards": SUPERVISION,
    "create_school_guard": SUPERVISION,
    "update_school_guard": SUPERVISION,
    "delete_school_guard": SUPERVISION,
    # staff session
    "log_in": PUBLIC,
    "who_am_i": ANY_STAFF,
    "log_out": ANY_STAFF,
    "start_totp_enrolment": ANY_STAFF,
    "confirm_totp_enrolment": ANY_STAFF,
    "admin_issue_totp_enrolment_code": ADMIN,
    # situation board
    "list_incidents": FIELD,
    "get_incident": FIELD,
    "dispatch_unit": CONSOLE,
    "change_incident_status": CONSOLE,
    "change_incident_priority": CONSOLE,
    "add_dispatcher_note": CONSOLE,
    # units
    "list_units": FIELD,
    "change_unit_status": FIELD,
    "report_unit_position": FIELD,
    # dispatch (issue 5)
    "get_dispatch_plan": CONSOLE,
    "preempt_unit": CONSOLE,
    "get_incident_route": FIELD,
    "get_assignment_route": FIELD,
    "acknowledge_order": FIELD,
    "decline_order": FIELD,
    "list_unit_orders": FIELD,
    "list_unit_status_history": FIELD,
    # CCTV control center (issue 7); operators see only active incidents in their area (in the routes)
    "cctv_me": CCTV,
    "cctv_list_incidents": CCTV,
    "cctv_incident_cameras": CCTV,
    "cctv_open_live_view": CCTV,
    "cctv_aim_camera": CCTV,
    "cctv_mark_sighting": CCTV,
    "cctv_request_clip": CCTV,
    "cctv_assign_area": ADMIN,
    "cctv_view_log": SUPERVISION,
    "cctv_register_camera": ADMIN,
    "cctv_update_camera": ADMIN,
    "cctv_page": PUBLIC,
    # base map
    "get_base_map_roads": ANY_STAFF,
    "get_base_map_districts": ANY_STAFF,
    "get_shift_figures": SUPERVISION,
    "list_stations": ANY_STAFF,
    # intake
    "app_send_sos": DEVICE,
    # audit
    "search_audit_log": ADMIN,
    # staff administration (issue 17)
    "admin_list_staff": ADMIN,
    "admin_add_staff": ADMIN,
    "admin_change_staff": ADMIN,
    "admin_disable_staff": ADMIN,
    "admin_reset_staff_totp": ADMIN,
    "admin_revoke_staff_sessions": ADMIN,
    "staff_admin_page": PUBLIC,
    "admin_import_stations": ADMIN,
    "admin_import_units": ADMIN,
    "admin_retire_unit": ADMIN,
    "admin_retire_station": ADMIN,
    "admin_list_fleet_units": ADMIN,
    "admin_list_fleet_stations": ADMIN,
    "admin_edit_unit": ADMIN,
    "admin_edit_station": ADMIN,
    "fleet_admin_page": PUBLIC,
    "admin_disable_terminal": ADMIN,
    "admin_disable_carrier": ADMIN,
    "admin_rotate_carrier_secret": ADMIN,
    "admin_revoke_app_installs": ADMIN,
    "app_list_installs": DEVICE,
    "app_revoke_install": DEVICE,
    # demo mode only (404 otherwise): the visitor's phone shows the app's registration code
    "demo_phone_page": PUBLIC,
    "demo_phone_messages": PUBLIC,
    # web pages and their configuration (no personal data)
    "home": PUBLIC,
    "board": PUBLIC,
    "login_page": PUBLIC,
    "api_docs": PUBLIC,
    "mdt_page": PUBLIC,
    "page_config": PUBLIC,
}

# Routes whose answer holds personal data (a person, their number, location, guardians, a school
# guard): every call by staff writes an audit entry with this action before the route runs
# (ansim.api.auth.enforce_access), the incident and path in it. `tests/test_security_review_reads.py`
# walks this table and asserts the entry for each. The live stream (`stream.open`) and the audit
# search (`audit.search`) record their own look in their code.
PERSONAL_READS: dict[str, str] = {
    "list_incidents": "incident.list",
    "get_incident": "incident.read",
    "get_incident_location": "location.read",
    "export_incident_pidf_lo": "incident.export_pidf_lo",
    "export_incident_eido": "incident.export_eido",
    "get_dispatch_plan": "dispatch.plan_read",
    "get_incident_route": "route.read",
    "get_assignment_route": "route.read",
    "list_unit_orders": "unit.orders_read",
    "get_verification": "verification.read",
    "admin_list_people": "person.list",
    "admin_get_person": "person.read",
    "admin_list_terminals": "terminal.list",
    "admin_intake_discards": "intake.discards_read",
    "list_school_guards": "school_guard.list",
    "cctv_list_incidents": "cctv.incidents_read",
    "cctv_incident_cameras": "cctv.cameras_read",
    "cctv_view_log": "cctv.view_log_read",
}

# A session that logged in with the password but still has to enrol its second factor may do only this.
ENROLMENT_OPERATIONS = frozenset(
    {"who_am_i", "log_out", "start_totp_enrolment", "confirm_totp_enrolment"}
)
# Roles that must log in with a second factor (when settings.require_totp is on).
SECOND_FACTOR_ROLES = frozenset({Role.DISPATCHER, Role.SUPERVISOR, Role.ADMIN})


def rule_for(operation_id: str) -> Rule | None:
    """The principals admitted to `operation_id`, or None when it has no rule (refuse it)."""
    return ACCESS.get(operation_id)


def staff_only(rule: Rule) -> bool:
    """True when the rule admits staff sessions and nobody else."""
    return bool(rule) and rule <= STAFF_PRINCIPALS


def admits(rule: Rule, role: Role) -> bool:
    return Principal(role.value) in rule


def operations(routes: Iterable[BaseRoute]) -> set[str]:
    """The operation ids of every HTTP route, looking inside included routers."""
    found: set[str] = set()
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            found |= operations(included.routes)
        elif isinstance(route, APIRoute):
            found.add(route.operation_id or route.name)
    return found
