"""Every role × every route × own and another organisation: who gets through, who is refused.

The routes are enumerated from the app itself, so a new route without an entry in `RULES` fails
`test_every_route_has_a_rule`. Each route is called for every role with a target in the user's own
organisation (Karolinska, the main ward) and in another (Södersjukhuset, or Solna); the answer must be a
refusal (403/404) exactly when the rule says so. No answer to any matrix user may carry the other
organisation's patient data (its case, patient or review), and the event stream offers only the feeds the
same rule allows (`test_stream_feeds_follow_the_same_rule`).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
import msgspec
import pytest
from litestar import Litestar
from litestar.handlers import HTTPRouteHandler, WebsocketRouteHandler
from litestar.routes import HTTPRoute, WebSocketRoute
from litestar.testing import TestClient

from domain.organisation import Role
from server.api.app import create_app
from server.auth.tokens import DevSigningKey
from server.demo.seed import stable_id
from tests.conftest import Backend
from tests.server.authz_fixtures import (
    KAROLINSKA,
    MATRIX,
    OTHER_AUDITOR,
    OTHER_WARD,
    OTHER_WARD_USER,
    ensure_users,
    headers_for,
)
from tests.server.conftest import (
    DISCHARGE_CONTENT,
    SOLNA_INTAKE,
    STOCKHOLM_INTAKE,
    WARD,
    iso,
    new_identity,
    now_utc,
    patient,
    register,
)
from tests.server.conftest import test_settings as settings_for

OWN, OTHER = "own", "other"
CASE_ROLES = {Role.USER, Role.SUPER_USER}
Rule = Callable[[Role, str], bool]


def anyone(_role: Role, _side: str) -> bool:
    return True


def case_worker(role: Role, side: str) -> bool:
    return role in CASE_ROLES and side == OWN


def central(role: Role, _side: str) -> bool:
    return role is Role.CENTRAL_ADMINISTRATOR


def any_administrator(role: Role, _side: str) -> bool:
    return role in (Role.CENTRAL_ADMINISTRATOR, Role.LOCAL_ACCESS_ADMINISTRATOR, Role.LOCAL_OBJECT_SPECIALIST)


def organisation_viewer(role: Role, side: str) -> bool:
    return central(role, side) or (side == OWN and role in (Role.LOCAL_ACCESS_ADMINISTRATOR,
                                                            Role.LOCAL_OBJECT_SPECIALIST))


def user_administrator(role: Role, side: str) -> bool:
    return central(role, side) or (side == OWN and role is Role.LOCAL_ACCESS_ADMINISTRATOR)


def unit_administrator(role: Role, side: str) -> bool:
    return central(role, side) or (side == OWN and role is Role.LOCAL_OBJECT_SPECIALIST)


def log_reader(role: Role, side: str) -> bool:
    return side == OWN and role in (Role.AUDITOR, Role.LOCAL_ACCESS_ADMINISTRATOR)


def log_verifier(role: Role, _side: str) -> bool:
    return role in (Role.AUDITOR, Role.CENTRAL_ADMINISTRATOR)


def identity_merger(role: Role, side: str) -> bool:
    """Merging a reserve number: central administrators; a local access administrator for a person whose cases
    their organisation takes part in."""
    return central(role, side) or (side == OWN and role is Role.LOCAL_ACCESS_ADMINISTRATOR)


def protected_identity_administrator(_role: Role, _side: str) -> bool:
    """Clearing a protected identity takes an administering role AND the explicit need, which only a case role
    carries: no matrix user (one role each) has both, so every one is refused, on either side. The permitted
    caller: tests/server/test_patient_identity.py."""
    return False


@dataclass(frozen=True)
class Targets:
    """Ids the requests are made against, per side."""

    case: dict[str, str]
    unit: dict[str, str]
    organisation: dict[str, str]
    user: dict[str, str]
    assignment: dict[str, int]
    review: dict[str, str]
    review_seq: dict[str, int]
    plan: dict[str, str]
    patient: dict[str, str]
    reserve: dict[str, str]  # a reserve number with a case at the side's ward
    secrets: frozenset[str]  # the other organisation's patient data: never in any answer to a matrix user


# Bodies of the case actions: valid, with a stale version, so a permitted caller gets 409 and nothing changes.
STALE = 2_000_000_000
ACTION_BODIES: dict[str, dict[str, Any]] = {
    "recordNeedsIdentified": {"at": iso(now_utc())},
    "forwardCase": {"to_unit_id": STOCKHOLM_INTAKE},
    "rejectCase": {"reason": "wrong_municipality"},
    "addParticipant": {"unit_id": STOCKHOLM_INTAKE},
    "removeParticipant": {"unit_id": SOLNA_INTAKE},
    "appointNamedCareContact": {"contact_user_id": stable_id("user", "care.contact")},
    "changeEstimatedDischarge": {"estimated_discharge_at": iso(now_utc() + timedelta(days=3))},
    "setSipApplies": {"applies": True},
    "setLiabilityFacts": {"patient_refused_services": False, "outpatient_services_missing": False},
    "sendDischargeNotice": {"discharged_at": iso(now_utc()), **DISCHARGE_CONTENT},
    "interruptCase": {"reason": "no_needs"},
}


def period() -> dict[str, str]:
    return {"period_from": iso(now_utc() - timedelta(days=1)), "period_to": iso(now_utc() + timedelta(days=1))}


Request = tuple[str, str, dict[str, Any] | None]  # method, path, JSON body
Build = Callable[[Targets, str], Request]


def case_action(operation_id: str, suffix: str) -> Build:
    return lambda t, s: ("POST", f"/cases/{t.case[s]}/{suffix}",
                         {"expected_version": STALE, **ACTION_BODIES.get(operation_id, {})})


def register_body(_t: Targets, s: str) -> Request:
    return ("POST", "/cases", {"ward_unit_id": WARD if s == OWN else OTHER_WARD, "patient": patient(new_identity()),
                               "admitted_at": iso(now_utc() - timedelta(hours=1))})


# operation id -> (rule, request builder, statuses of a permitted call if not "anything but 401/403/404")
RULES: dict[str, tuple[Rule, Build | None, set[int] | None]] = {
    # cases
    "listCases": (case_worker, lambda t, s: ("GET", f"/cases?unit_id={t.unit[s]}", None), None),
    "registerCase": (case_worker, register_body, {201}),
    "getCase": (case_worker, lambda t, s: ("GET", f"/cases/{t.case[s]}", None), {200}),
    "getInbox": (case_worker, lambda t, s: ("GET", f"/units/{t.unit[s]}/inbox", None), {200}),
    "getInboxUnread": (case_worker, lambda t, s: ("GET", f"/units/{t.unit[s]}/inbox/unread", None), {200}),
    "searchPatients": (case_worker, lambda t, s: ("POST", "/patients/search", {"query": "Te", "unit_id": t.unit[s]}),
                       {200}),
    # any signed-in caller may ask; each viewer in the body is authorised alone (a made-up token: 401 for it, and
    # nothing of the case in the answer)
    "showCaseToViewers": (anyone, lambda t, s: ("POST", f"/cases/{t.case[s]}/views",
                                                {"unit_id": t.unit[s], "viewers": [{"token": "not-a-token"}]}), {200}),
    "exportReserveListPdf": (case_worker, lambda t, s: ("GET", f"/units/{t.unit[s]}/reserve-list/pdf", None), {200}),
    "exportReserveListCsv": (case_worker, lambda t, s: ("GET", f"/units/{t.unit[s]}/reserve-list/csv", None), {200}),
    "exportCaseSheet": (case_worker, lambda t, s: ("GET", f"/cases/{t.case[s]}/sheet", None), {200}),
    "listUnitStaff": (case_worker, lambda t, s: ("GET", f"/units/{t.unit[s]}/staff", None), {200}),
    "listUnitEvents": (case_worker, lambda t, s: ("GET", f"/units/{t.unit[s]}/events", None), {200}),
    # planning edits guarded per field: the own case is the ward's draft, so a permitted caller reaches the domain,
    # which refuses planning before the admission notice (422); nothing changes
    "changePlanningFields": (case_worker, lambda t, s: ("POST", f"/cases/{t.case[s]}/planning/fields", {
        "fields": {"notes": {"value": "x", "expected_revision": STALE}}}), {422}),
    "changePlanningField": (case_worker, lambda t, s: ("POST", f"/cases/{t.case[s]}/planning/fields/notes", {
        "value": "x", "expected_revision": STALE}), {422}),
    # directory: staff and units are not patient data
    "getMe": (anyone, lambda t, s: ("GET", "/me", None), {200}),
    "listUnits": (anyone, lambda t, s: ("GET", f"/units?organisation_id={t.organisation[s]}", None), {200}),
    "getUnit": (anyone, lambda t, s: ("GET", f"/units/{t.unit[s]}", None), {200}),
    # the routing rule's answer names units only (the registration form's preview)
    "previewRouting": (anyone, lambda t, s: ("GET", "/routing?municipality_code=0184", None), {200}),
    # answers everyone, but names only the staff the caller works with: test_people_names_only_staff_one_works_with
    "listPeople": (anyone, lambda t, s: ("GET", f"/people?id={t.user[s]}", None), {200}),
    # signing out revokes the very token the matrix goes on with: covered by tests/server/test_auth_hardening.py
    "logout": (anyone, None, None),
    "getPaymentPolicy": (anyone, lambda t, s: ("GET", "/payment/policy", None), {200}),
    # e-mail notices: one's own settings (no target: the same for both sides); counts per unit for administrators
    "getMyNotificationSettings": (anyone, lambda t, s: ("GET", "/me/notification-settings", None), {200}),
    "putMyNotificationSettings": (anyone, lambda t, s: ("PUT", "/me/notification-settings", {}), {200}),
    "adminMailHealth": (any_administrator, lambda t, s: ("GET", "/admin/mail-health", None), {200}),
    "setPaymentAmount": (central, lambda t, s: ("PUT", "/payment/amounts/2099", {"amount_sek": 9999}), {200}),
    # administration
    "adminListOrganisations": (any_administrator, lambda t, s: ("GET", "/admin/organisations", None), {200}),
    "adminConnectOrganisation": (central, lambda t, s: ("POST", "/admin/organisations", {
        "principal_id": stable_id("principal", "region-stockholm"), "name": "Utan avtal", "kind": "care_provider",
        "care_agreement": False}), {422}),
    "adminGetOrganisation": (organisation_viewer,
                             lambda t, s: ("GET", f"/admin/organisations/{t.organisation[s]}", None), {200}),
    "adminChangeOrganisation": (central, lambda t, s: ("PATCH", f"/admin/organisations/{t.organisation[s]}", {}),
                                {200}),
    "adminListUnits": (organisation_viewer,
                       lambda t, s: ("GET", f"/admin/organisations/{t.organisation[s]}/units", None), {200}),
    "adminCreateUnit": (unit_administrator, lambda t, s: ("POST", f"/admin/organisations/{t.organisation[s]}/units",
                        {"name": "Fel", "kind": "somatic_ward", "hsa_id": "SE2321000016-MXBAD",
                         "routing_role": "intake"}), {422}),
    "adminChangeUnit": (unit_administrator, lambda t, s: ("PATCH", f"/admin/units/{t.unit[s]}", {}), {200}),
    "adminDeactivateUnit": (unit_administrator, lambda t, s: ("POST", f"/admin/units/{t.unit[s]}/deactivation",
                                                              None), {409}),
    "adminListUsers": (user_administrator,
                       lambda t, s: ("GET", f"/admin/organisations/{t.organisation[s]}/users", None), {200}),
    "adminCreateUser": (user_administrator, lambda t, s: ("POST", f"/admin/organisations/{t.organisation[s]}/users",
                        {"username": "ward.nurse", "hsa_id": "SE2321000016-MXDUP", "display_name": "Dubblett"}),
                        {409}),
    "adminGetUser": (user_administrator, lambda t, s: ("GET", f"/admin/users/{t.user[s]}", None), {200}),
    "adminChangeUser": (user_administrator, lambda t, s: ("PATCH", f"/admin/users/{t.user[s]}", {}), {200}),
    "adminAddAssignment": (user_administrator, lambda t, s: ("POST", f"/admin/users/{t.user[s]}/assignments",
                           {"unit_id": WARD if s == OWN else SOLNA_INTAKE, "role": "user"}), {409}),
    "adminChangeAssignment": (user_administrator, lambda t, s: (
        "PATCH", f"/admin/users/{t.user[s]}/assignments/{t.assignment[OTHER if s == OWN else OWN]}",
        {"protected_identity_access": True}), {404}),
    "adminRemoveAssignment": (user_administrator, lambda t, s: (
        "DELETE", f"/admin/users/{t.user[s]}/assignments/{t.assignment[OTHER if s == OWN else OWN]}", None), {404}),
    "adminClearProtectedIdentity": (protected_identity_administrator, lambda t, s: (
        "DELETE", f"/admin/patients/{t.patient[s]}/protected-identity", None), {200}),
    # the first permitted call merges (200), the next find it merged (409)
    "adminMergePatientIdentity": (identity_merger, lambda t, s: ("POST", "/admin/patient-identity-merges", {
        "reserve_number": t.reserve[s], "identity": new_identity()}), {200, 409}),
    "adminListChanges": (organisation_viewer,
                         lambda t, s: ("GET", f"/admin/organisations/{t.organisation[s]}/changes", None), {200}),
    # the access log
    "searchAccessLog": (log_reader, lambda t, s: ("GET", f"/audit/access-log?unit_id={t.unit[s]}", None), {200}),
    "searchAccessLogByBody": (log_reader, lambda t, s: ("POST", "/audit/access-log/search", {"unit_id": t.unit[s]}),
                              {200}),
    "verifyAccessLog": (log_verifier, lambda t, s: ("GET", "/audit/access-log/verification", None), {200}),
    "createLogReview": (log_reader, lambda t, s: ("POST", "/audit/reviews", {"unit_id": t.unit[s], **period(),
                                                                             "sample_size": 2}), {201}),
    "listLogReviews": (log_reader, lambda t, s: ("GET", f"/audit/reviews?unit_id={t.unit[s]}", None), {200}),
    "getLogReview": (log_reader, lambda t, s: ("GET", f"/audit/reviews/{t.review[s]}", None), {200}),
    "recordLogReviewEntry": (log_reader, lambda t, s: (
        "PUT", f"/audit/reviews/{t.review[s]}/entries/{t.review_seq[s]}", {"finding": "no_remark"}), {200}),
    "concludeLogReview": (log_reader, lambda t, s: ("PUT", f"/audit/reviews/{t.review[s]}/outcome",
                                                    {"finding": "no_remark", "comment": "ok"}), {200}),
    "exportLogReview": (log_reader, lambda t, s: ("GET", f"/audit/reviews/{t.review[s]}/export", None), {200}),
    # SIP: handing a plan over (the other SIP routes get their rules from the OpenAPI document, below). The own
    # plan is the ward's (the matrix users work there), so a permitted caller reaches the version check: 409.
    "handOverSipPlan": (case_worker, lambda t, s: ("POST", f"/sip-plans/{t.plan[s]}/ownership", {
        "expected_version": STALE, "unit_id": t.unit[OTHER if s == OWN else OWN]}), {409}),
    # the event stream: not an HTTP route; covered by test_stream_feeds_follow_the_same_rule
    "event_stream": (case_worker, None, None),
}
# Routes outside /api/v1 that need no token.
PUBLIC_PREFIXES = ("/health", "/ready", "/metrics", "/schema", "/dev-idp")


def api_routes(app: Litestar) -> dict[str, tuple[str, str]]:
    """operation id (or websocket name) -> (method, path template) of every route under /api/v1."""
    found: dict[str, tuple[str, str]] = {}
    for route in app.routes:
        if not route.path.startswith("/api/v1"):
            assert route.path.startswith(PUBLIC_PREFIXES), f"unexpected route outside /api/v1: {route.path}"
            continue
        handlers = route.route_handlers if isinstance(route, HTTPRoute) else [getattr(route, "route_handler", None)]
        assert isinstance(route, HTTPRoute | WebSocketRoute), f"unknown kind of route: {route.path}"
        for handler in handlers:
            if isinstance(handler, WebsocketRouteHandler):
                found[str(handler.name)] = ("WEBSOCKET", route.path)
            elif isinstance(handler, HTTPRouteHandler):
                for method in handler.http_methods:
                    if method in ("HEAD", "OPTIONS"):
                        continue
                    found[str(handler.operation_id)] = (method, route.path)
    return found


def command_rules(app: Litestar) -> None:
    """Case actions are many and alike: each POST /cases/{id}/<action> gets the case rule and a stale body."""
    for operation_id, (method, path) in api_routes(app).items():
        prefix = "/api/v1/cases/{case_id:str}/"
        if method == "POST" and path.startswith(prefix) and operation_id not in RULES:
            RULES[operation_id] = (case_worker, case_action(operation_id, path[len(prefix):]), {409})


# ----- SIP plans: rules for their many routes built from the OpenAPI document ----------------------------------
# A plan is visible through a unit that takes part in it, like a case. Bodies are generated from the documented
# schema (required fields only; versions and revisions stale), ids not given are made up: a permitted caller may
# then get 404/409/422, so for these routes "permitted" means "not refused as 401/403" (weaker than the case
# routes' check); refusals must still be 403/404, and no answer may carry the other side's plan or person.
SIP_PREFIX = "/api/v1/sip-plans"
NOT_REFUSED = set(range(200, 500)) - {401, 403}
SIP_IDS = {"plan_id": None, "number": "1", "item_id": "00000000-0000-4000-8000-000000000000",
           "meeting_id": "00000000-0000-4000-8000-000000000000"}


def _example(schema: dict[str, Any], doc: dict[str, Any], name: str = "") -> Any:
    if "$ref" in schema:
        return _example(doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]], doc, name)
    for key in ("oneOf", "anyOf"):
        if key in schema:
            options = [o for o in schema[key] if o.get("type") != "null"]
            return _example({**options[0], **{k: v for k, v in schema.items() if k != key}}, doc, name)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        return {k: _example(v, doc, k) for k, v in schema.get("properties", {}).items()
                if k in schema.get("required", [])}
    if kind == "array":
        return []
    if kind == "integer":
        return STALE if name.startswith("expected_") else max(1, int(schema.get("minimum", 1)))
    if kind == "boolean":
        return False
    if schema.get("format") == "date-time":
        return iso(now_utc())
    if schema.get("format") == "date":
        return now_utc().date().isoformat()
    if "pattern" in schema and "0-9a-f" in schema["pattern"]:
        return str(uuid.uuid4())
    return "x" * max(1, int(schema.get("minLength", 1)))


def sip_rules(app: Litestar) -> None:
    doc = app.openapi_schema.to_schema()
    for path, operations in doc["paths"].items():
        if not path.startswith(SIP_PREFIX):
            continue
        for method, operation in operations.items():
            if operation["operationId"] in RULES:
                continue
            body_schema = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            params = {p["name"]: _example(p.get("schema", {}), doc) for p in operation.get("parameters", [])
                      if p["in"] == "path"}
            query = {p["name"]: _example(p.get("schema", {}), doc) for p in operation.get("parameters", [])
                     if p["in"] == "query" and (p.get("required") or p["name"] == "unit_id")}

            def build(t: Targets, side: str, path: str = path, method: str = method, params: dict[str, Any] = params,
                      query: dict[str, Any] = query, body_schema: dict[str, Any] | None = body_schema,
                      doc: dict[str, Any] = doc) -> Request:
                values = {**params, **{k: v for k, v in SIP_IDS.items() if v}, "plan_id": t.plan[side]}
                filled = path[len("/api/v1"):].format(**{k: values.get(k, "x") for k in params})
                if query:
                    filled += "?" + urlencode({**query, **({"unit_id": t.unit[side]} if "unit_id" in query else {})})
                if operation_needs_owner(path, method):
                    return (method.upper(), filled, {"owner_unit_id": t.unit[side], "person": patient(new_identity())})
                return (method.upper(), filled, _example(body_schema, doc) if body_schema else None)

            RULES[operation["operationId"]] = (case_worker, build, NOT_REFUSED)


def operation_needs_owner(path: str, method: str) -> bool:
    return path == SIP_PREFIX and method == "post"


def all_rules(app: Litestar) -> None:
    command_rules(app)
    sip_rules(app)


def test_every_route_has_a_rule(app: Litestar) -> None:
    all_rules(app)
    routes = api_routes(app)
    assert len(routes) > 50
    missing = sorted(set(routes) - set(RULES))
    assert not missing, f"routes without an authorisation rule in this matrix: {missing}"
    stale = sorted(set(RULES) - set(routes))
    assert not stale, f"rules for routes that no longer exist: {stale}"


async def _targets(client: httpx.AsyncClient, auth: Callable[[str], dict[str, str]],
                   signing_key: DevSigningKey) -> Targets:
    own_case = await register(client, auth("ward.nurse"))
    other_headers = headers_for(signing_key, OTHER_WARD_USER)
    other_case = await register(client, other_headers, ward_unit_id=OTHER_WARD, receiving_unit_ids=[STOCKHOLM_INTAKE],
                                patient=patient(new_identity(), municipality_code="0180", listed_unit_id=None))
    reviews: dict[str, str] = {}
    seqs: dict[str, int] = {}
    for side, who, unit_id in ((OWN, auth("auditor"), WARD), (OTHER, headers_for(signing_key, OTHER_AUDITOR),
                                                               OTHER_WARD)):
        response = await client.post("/api/v1/audit/reviews", json={"unit_id": unit_id, **period(),
                                                                     "sample_size": 3}, headers=who)
        assert response.status_code == 201, response.text
        reviews[side] = response.json()["id"]
        seqs[side] = response.json()["entries"][0]["seq"]
    nurse = await client.get(f"/api/v1/admin/users/{stable_id('user', 'ward.nurse')}", headers=auth("central.admin"))
    assessor = await client.get(f"/api/v1/admin/users/{stable_id('user', 'needs.assessor')}",
                                headers=auth("central.admin"))
    solna = stable_id("organisation", "solna-stad")
    plans: dict[str, str] = {}
    for side, who, unit_id in ((OWN, auth("ward.nurse"), WARD), (OTHER, other_headers, OTHER_WARD)):
        created = await client.post("/api/v1/sip-plans", headers=who,
                                    json={"owner_unit_id": unit_id, "person": patient(new_identity())})
        plans[side] = created.json()["id"] if created.status_code == 201 else f"no-plan-{side}"
    reserve: dict[str, str] = {}
    for side, who, unit_id in ((OWN, auth("ward.nurse"), WARD), (OTHER, other_headers, OTHER_WARD)):
        reserve[side] = f"99{uuid.uuid4().int % 10**10:010d}"
        await register(client, who, ward_unit_id=unit_id, receiving_unit_ids=[STOCKHOLM_INTAKE],
                       patient=patient(reserve[side], municipality_code="0180", listed_unit_id=None))
    return Targets(
        case={OWN: own_case["id"], OTHER: other_case["id"]}, unit={OWN: WARD, OTHER: OTHER_WARD},
        organisation={OWN: KAROLINSKA, OTHER: solna},
        user={OWN: stable_id("user", "ward.nurse"), OTHER: stable_id("user", "needs.assessor")},
        assignment={OWN: nurse.json()["assignments"][0]["id"], OTHER: assessor.json()["assignments"][0]["id"]},
        review=reviews, review_seq=seqs, plan=plans,
        patient={OWN: own_case["patient"]["id"], OTHER: other_case["patient"]["id"]}, reserve=reserve,
        secrets=frozenset({other_case["id"], other_case["patient"]["id"], reviews[OTHER], plans[OTHER]}))


async def test_every_role_on_every_route_in_own_and_other_organisation(
        backend: Backend, app: Litestar, client: httpx.AsyncClient, auth: Callable[[str], dict[str, str]],
        signing_key: DevSigningKey) -> None:
    await ensure_users(backend)
    all_rules(app)
    targets = await _targets(client, auth, signing_key)
    wrong: list[str] = []
    calls = 0
    for operation_id, (rule, build, permitted) in sorted(RULES.items()):
        if build is None:
            continue
        for role, user in MATRIX.items():
            headers = headers_for(signing_key, user)
            for side in (OWN, OTHER):
                method, path, body = build(targets, side)
                response = await client.request(method, f"/api/v1{path}", json=body, headers=headers)
                calls += 1
                allowed = rule(role, side)
                status = response.status_code
                label = f"{operation_id} as {role.value} on {side}: {method} {path} -> {status}"
                if status >= 500 or status == 401:
                    wrong.append(f"{label} (unexpected) {response.text[:200]}")
                elif allowed and (status in (403, 404) if permitted is None else status not in permitted):
                    wrong.append(f"{label} (should be permitted) {response.text[:200]}")
                elif not allowed and status not in (403, 404):
                    wrong.append(f"{label} (should be refused)")
                leaked = [s for s in targets.secrets if s in response.text]
                if leaked:
                    wrong.append(f"{label} leaks the other organisation's data {leaked}")
    assert calls > 700
    assert not wrong, f"{len(wrong)} of {calls} calls wrong:\n" + "\n".join(wrong)


def _stream_session(app: Litestar, headers: list[dict[str, str]], foreign_feed: str) -> list[tuple[list[str], bool]]:
    """Per user: the feeds the stream offers, and whether subscribing to a foreign feed was refused."""
    results = []
    with TestClient(app) as test_client:
        for header in headers:
            with test_client.websocket_connect("/api/v1/events") as socket:
                socket.send_text(msgspec.json.encode({"op": "auth", "token": header["Authorization"][7:]}).decode())
                hello = msgspec.json.decode(socket.receive_text())
                assert hello["op"] == "authenticated", hello
                socket.send_text(msgspec.json.encode({"op": "subscribe", "feeds": {foreign_feed: None}}).decode())
                refused = msgspec.json.decode(socket.receive_text())
                results.append((hello["feeds"], refused.get("code") == "forbidden_feed"))
    return results


async def test_stream_feeds_follow_the_same_rule(backend: Backend, signing_key: DevSigningKey) -> None:
    """The event stream offers a role exactly its own case units' feeds; another unit's feed is refused."""
    await ensure_users(backend)
    app = create_app(settings_for(backend))
    roles = list(MATRIX)
    foreign = f"unit:{OTHER_WARD}"
    results = await asyncio.to_thread(_stream_session, app, [headers_for(signing_key, MATRIX[r]) for r in roles],
                                      foreign)
    for role, (feeds, refused) in zip(roles, results, strict=True):
        assert feeds == ([f"unit:{WARD}"] if role in CASE_ROLES else []), role
        assert refused, role


async def test_people_names_only_staff_one_works_with(
        client: httpx.AsyncClient, auth: Callable[[str], dict[str, str]], signing_key: DevSigningKey,
        backend: Backend) -> None:
    """`GET /people` names the caller's own organisation's staff, and staff of units that share a case (or SIP plan)
    with a unit where the caller works with patients; nobody else. Regression: it named any user to any user, a
    statistics reader included."""
    await ensure_users(backend)
    colleague = stable_id("user", "ward.nurse")  # Karolinska, like every matrix user
    partner = stable_id("user", "needs.assessor")  # Solna's intake: shares the case registered below with the ward
    stranger = stable_id("user", "stockholm.assessor")  # Södermalm's intake: shares nothing with the ward
    case = await register(client, auth("ward.nurse"))  # a Solna patient: the notice makes it the intake's too
    sent = await client.post(f"/api/v1/cases/{case['id']}/admission-notice", headers=auth("ward.nurse"),
                             json={"expected_version": case["version"]})
    assert sent.status_code == 200, sent.text
    query = urlencode([("id", colleague), ("id", partner), ("id", stranger), ("id", "no-such-user")])
    for role, user in MATRIX.items():
        response = await client.get(f"/api/v1/people?{query}", headers=headers_for(signing_key, user))
        assert response.status_code == 200, response.text
        named = {p["id"] for p in response.json()}
        assert named == ({colleague, partner} if role in CASE_ROLES else {colleague}), role
    # Solna's statistics reader: Solna's own staff only, not the hospital's.
    statistics = await client.get(f"/api/v1/people?{query}", headers=auth("statistics"))
    assert {p["id"] for p in statistics.json()} == {partner}
    # The partnership works both ways: Solna's assessor may name the ward's nurse, not Södermalm's assessor.
    assessor = await client.get(f"/api/v1/people?{query}", headers=auth("needs.assessor"))
    assert {p["id"] for p in assessor.json()} == {colleague, partner}


@pytest.mark.parametrize("role", [Role.USER, Role.SUPER_USER])
async def test_protected_identity_is_masked_for_case_workers(
        client: httpx.AsyncClient, auth: Callable[[str], dict[str, str]], signing_key: DevSigningKey,
        backend: Backend, role: Role) -> None:
    """Name and address of a patient with protected identity never reach a case worker's screen."""
    await ensure_users(backend)
    name = f"Hemlig {uuid.uuid4().hex[:6]}"
    case = await register(client, auth("ward.nurse"), patient=patient(new_identity(), name=name,
                                                                        address="Dold gata 1",
                                                                        protected_identity=True))
    headers = headers_for(signing_key, MATRIX[role])
    for path in (f"/api/v1/cases/{case['id']}", f"/api/v1/cases?unit_id={WARD}", f"/api/v1/units/{WARD}/inbox"):
        response = await client.get(path, headers=headers)
        assert response.status_code == 200, response.text
        assert name not in response.text
        assert "Dold gata" not in response.text
    detail = (await client.get(f"/api/v1/cases/{case['id']}", headers=headers)).json()
    assert detail["patient"]["protected_identity"] is True
    assert detail["patient"]["name"] == "Skyddad identitet"
