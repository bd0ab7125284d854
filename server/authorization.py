"""Authorisation: the one place that decides what a user may see and do, for every route and the event stream.

Patient data: a user sees a case through a unit that takes part in it where they hold a case role (user,
super user). Administration and the access log: the policies of `domain/administration.py`, applied to the
user's grants (each assignment with its unit's organisation). Refusals are 403 problems; things the user may
not even know about are 404 (`NotVisible`), decided by the callers that look them up.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from domain import administration
from domain.administration import (
    Capabilities,
    Grant,
    Grants,
    assignment_refusal,
    log_reader_organisations,
    may_administer_anything,
    may_connect_organisations,
    may_manage_units,
    may_manage_users,
    may_merge_identities,
    may_verify_log,
)
from domain.organisation import Role, UnitKind
from realtime.feeds import unit_feed
from server.errors import Forbidden, Invalid, NotVisible
from server.persistence.models import UnitRow
from server.persistence.repositories import DirectoryRepository
from server.principal import CurrentUser

# ----- patient data ---------------------------------------------------------------------------------------------


def case_units(user: CurrentUser) -> frozenset[str]:
    """Units through which the user works with patient cases (REST and the event stream alike)."""
    return frozenset(a.unit_id for a in user.assignments if a.role.works_with_cases)


def require_case_units(user: CurrentUser) -> frozenset[str]:
    units = case_units(user)
    if not units:
        raise Forbidden("your roles do not give access to patient cases")
    return units


def require_unit_access(user: CurrentUser, unit_id: str) -> None:
    if unit_id not in require_case_units(user):
        raise Forbidden("you do not work at this unit", field="unit_id")


def listing_units(user: CurrentUser, unit_id: str | None) -> frozenset[str]:
    """The units whose cases or plans a list shows: the user's case units, or the one asked for (one of them)."""
    units = require_case_units(user)
    if unit_id is None:
        return units
    require_unit_access(user, unit_id)
    return frozenset({unit_id})


def seen_through(units: frozenset[str], visible_unit_ids: Iterable[str]) -> str:
    """The unit a list row is seen through (its protected-identity rule and its access-log row): the first of the
    listing units that sees the case or plan."""
    return min(units & set(visible_unit_ids))


def require_own_unit(user: CurrentUser, unit_id: str, field: str) -> None:
    """A case or plan is registered at (acted for by) a unit where the user works with cases: 403 `not_your_unit`."""
    if unit_id not in require_case_units(user):
        raise Forbidden("you do not work at this unit", field=field, code="not_your_unit")


def acting_unit(user: CurrentUser, visible_unit_ids: Iterable[str] | None, requested: str | None, what: str) -> str:
    """The one rule for the unit a user acts for on a case or plan (`what`) seen by `visible_unit_ids` (None: there
    is no such thing): one of their case units among them. None of theirs: 404, as if it did not exist. The one
    asked for (`X-Acting-Unit`) if it is among them, else 403 `acting_unit_not_allowed`; without one, the only
    one, else 422 `acting_unit_required`."""
    candidates = sorted(require_case_units(user) & set(visible_unit_ids or ()))
    if not candidates:
        raise NotVisible(f"no such {what}")
    if requested is not None:
        if requested not in candidates:
            raise Forbidden(f"you cannot act for this unit on this {what}", field="X-Acting-Unit",
                            code="acting_unit_not_allowed")
        return requested
    if len(candidates) > 1:
        raise Invalid("you take part through several units: choose one", field="X-Acting-Unit",
                      code="acting_unit_required")
    return candidates[0]


def reveals_protected_identity(user: CurrentUser, unit_id: str | None) -> bool:
    """Protected identity (*skyddad identitet*): a person's name and address are shown only when the user's
    assignment at the unit they act for carries the explicit need (`protected_identity_access`, set by the
    administrator who manages the user). Masked for everyone else, also through their other units. A read that
    reveals is access-logged like any other; the log row has no field that says the name was shown (docs/api.md,
    "Protected identity")."""
    return unit_id is not None and any(
        a.unit_id == unit_id and a.role.works_with_cases and a.protected_identity_access for a in user.assignments)


def protected_identity_unit(user: CurrentUser) -> str:
    """Clearing a person's protected identity (the flag any registration may set, docs/adr/0002-patient-identity.md):
    only an administrator of users and access (central, or local access administrator) who also holds the explicit
    need (`reveals_protected_identity` at one of their units). The unit of that need, which the access log names."""
    administers = any(a.role in (Role.CENTRAL_ADMINISTRATOR, Role.LOCAL_ACCESS_ADMINISTRATOR)
                      for a in user.assignments)
    needs = sorted(a.unit_id for a in user.assignments if reveals_protected_identity(user, a.unit_id))
    if not administers or not needs:
        raise Forbidden("only an administrator with the explicit need to see protected identities clears one",
                        code="not_protected_identity_administrator")
    return needs[0]


def identity_merge_unit(g: Grants, organisations_concerned: Iterable[str]) -> str:
    """Merging a reserve number into the person's real identity: a central administrator (any person), or a local
    access administrator of an organisation whose units take part in the person's cases or plans
    (`organisations_concerned`); to anyone else such a person does not exist (404). The unit of the administering
    assignment, which the access log and the case's timeline name."""
    if not may_merge_identities(g):
        raise Forbidden("only central administrators and local access administrators merge identities",
                        code="not_identity_administrator")
    concerned = set(organisations_concerned)
    units = sorted(x.unit_id for x in g.items if x.role is Role.CENTRAL_ADMINISTRATOR or (
        x.role is Role.LOCAL_ACCESS_ADMINISTRATOR and x.organisation_id in concerned))
    if not units:
        raise NotVisible("no such reserve number")
    return units[0]


def stream_feeds(user: CurrentUser) -> dict[str, str]:
    """The feeds the user may follow on the event stream: those of their case units (feed -> unit)."""
    return {unit_feed(u): u for u in case_units(user)}


def presence_units(user: CurrentUser, visible_unit_ids: set[str] | frozenset[str]) -> list[str]:
    """The user's units that see a case (presence on a case needs access to it)."""
    return sorted(set(visible_unit_ids) & case_units(user))


# ----- administration -------------------------------------------------------------------------------------------


async def grants(directory: DirectoryRepository, user: CurrentUser) -> Grants:
    return grants_of(user, await directory.units(a.unit_id for a in user.assignments))


def grants_of(user: CurrentUser, units: Mapping[str, UnitRow]) -> Grants:
    """The user's grants, given (at least) the units of their assignments."""
    return Grants(tuple(Grant(a.role, a.unit_id, units[a.unit_id].organisation_id)
                        for a in user.assignments if a.unit_id in units))


def capabilities(user: CurrentUser, units: Mapping[str, UnitRow]) -> Capabilities:
    """What the user may do (`GET /me`): the domain's rules over their grants and their units' kinds."""
    return administration.capabilities(grants_of(user, units), {u: UnitKind(r.kind) for u, r in units.items()},
                                       {u for u, r in units.items() if r.active})


def require_central(user: CurrentUser, what: str) -> None:
    if not user.has_role(Role.CENTRAL_ADMINISTRATOR):
        raise Forbidden(f"only a central administrator {what}")


def require_administrator(g: Grants) -> None:
    if not may_administer_anything(g):
        raise Forbidden("your roles do not include administration")


def require_connect(g: Grants) -> None:
    if not may_connect_organisations(g):
        raise Forbidden("only a central administrator connects and changes organisations")


def require_unit_admin(g: Grants, organisation_id: str) -> None:
    if not may_manage_units(g, organisation_id):
        raise Forbidden("you do not maintain this organisation's units")


def require_user_admin(g: Grants, organisation_id: str) -> None:
    if not may_manage_users(g, organisation_id):
        raise Forbidden("you do not administer this organisation's users")


def may_see_organisation(g: Grants, organisation_id: str) -> bool:
    return may_manage_users(g, organisation_id) or may_manage_units(g, organisation_id)


def require_assignment(g: Grants, *, user_organisation_id: str, unit_organisation_id: str, role: Role) -> None:
    reason = assignment_refusal(g, user_organisation_id=user_organisation_id,
                                unit_organisation_id=unit_organisation_id, role=role)
    if reason:
        raise Forbidden(reason, field="unit_id" if "unit" in reason else "role")


# ----- the access log -------------------------------------------------------------------------------------------


def log_organisations(g: Grants) -> frozenset[str]:
    orgs = log_reader_organisations(g)
    if not orgs:
        raise Forbidden("only auditors and local access administrators read the access log")
    return orgs


def require_log_reader(g: Grants, organisation_id: str) -> None:
    if organisation_id not in log_organisations(g):
        raise Forbidden("you do not review this organisation's access log", field="unit_id")


def require_log_verifier(g: Grants) -> None:
    if not may_verify_log(g):
        raise Forbidden("only auditors and central administrators check the access log's integrity")


def reveals_logged_patients(g: Grants) -> bool:
    """The log review shows a patient's full identity number and name to auditors (*logggranskare*) only, whose
    task is to judge each access; a local access administrator reads the log too, with the number masked and no
    name. Either reading is itself access-logged."""
    return g.has(Role.AUDITOR)


def log_unit(g: Grants) -> str:
    """The unit an auditor's reading of the log is recorded under (their own first log-reading assignment)."""
    units = sorted(x.unit_id for x in g.items if x.role in (Role.AUDITOR, Role.LOCAL_ACCESS_ADMINISTRATOR))
    return units[0] if units else sorted(x.unit_id for x in g.items)[0]
