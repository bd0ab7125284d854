"""Who may administer what: organisations, units, users and assignments, and who may read the access log.

Pure policies over a user's grants (role, unit, the unit's organisation). The server resolves the grants
and enforces these rules in one place (`server/authorization.py`) for every route and for the event stream.

The rules (process.md section 6):
- An organisation connects only with a care agreement with the region; central administration connects it.
- A local access administrator (*lokal behörighetsadministratör*) manages users and assignments inside their
  own organisation only; a central administrator manages them everywhere (and is who does it for
  organisations without local administration).
- The unit tree is kept by central administration, and inside an organisation by its local object
  specialist (*lokal objektspecialist*).
- The access log of an organisation's units is read (searched, sampled, reviewed) by its auditors and its
  local access administrators. Only auditors and central administration check the log's integrity.
- Nobody grants a role they could not themselves be granted by: only central administrators grant the
  central-administrator role, and assignments are only made at units of the user's own organisation.
"""

from __future__ import annotations

import random
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from domain.discharge_case import Part, part_of_kind
from domain.errors import InvalidValue
from domain.organisation import Role, UnitKind

MIN_LOG_RETENTION_DAYS = 5 * 365 + 2  # "at least 5 years" (HSLF-FS 2016:40), leap days included
ROUTING_ROLES = ("intake",)  # a municipal unit that receives the municipality's (or a district's) notices
T = TypeVar("T")


@dataclass(frozen=True)
class Grant:
    """One assignment of the acting user, with the organisation its unit belongs to."""

    role: Role
    unit_id: str
    organisation_id: str


@dataclass(frozen=True)
class Grants:
    items: tuple[Grant, ...]

    def organisations(self, *roles: Role) -> frozenset[str]:
        return frozenset(g.organisation_id for g in self.items if g.role in roles)

    def units(self, *roles: Role) -> frozenset[str]:
        return frozenset(g.unit_id for g in self.items if g.role in roles)

    def has(self, role: Role) -> bool:
        return any(g.role is role for g in self.items)

    @property
    def is_central(self) -> bool:
        return self.has(Role.CENTRAL_ADMINISTRATOR)


# ----- who may do what -----------------------------------------------------------------------------------------

def may_connect_organisations(grants: Grants) -> bool:
    return grants.is_central


def may_manage_units(grants: Grants, organisation_id: str) -> bool:
    return grants.is_central or organisation_id in grants.organisations(Role.LOCAL_OBJECT_SPECIALIST)


def may_manage_users(grants: Grants, organisation_id: str) -> bool:
    return grants.is_central or organisation_id in grants.organisations(Role.LOCAL_ACCESS_ADMINISTRATOR)


def user_admin_organisations(grants: Grants) -> frozenset[str] | None:
    """Organisations whose users the actor manages; None means every organisation."""
    return None if grants.is_central else grants.organisations(Role.LOCAL_ACCESS_ADMINISTRATOR)


def may_administer_anything(grants: Grants) -> bool:
    return grants.is_central or bool(grants.organisations(Role.LOCAL_ACCESS_ADMINISTRATOR,
                                                          Role.LOCAL_OBJECT_SPECIALIST))


def log_reader_organisations(grants: Grants) -> frozenset[str]:
    """Organisations whose access log the actor may search, sample and review."""
    return grants.organisations(Role.AUDITOR, Role.LOCAL_ACCESS_ADMINISTRATOR)


def may_merge_identities(grants: Grants) -> bool:
    """Merging a reserve number (*reservnummer*) into the person's real identity is administration of patient
    identities: central administrators, and local access administrators (for persons whose cases or plans their
    organisation's units take part in: `server/services/patient_merge.py` checks that per person)."""
    return grants.is_central or bool(grants.organisations(Role.LOCAL_ACCESS_ADMINISTRATOR))


def may_verify_log(grants: Grants) -> bool:
    return grants.is_central or grants.has(Role.AUDITOR)


def grantable_roles(grants: Grants) -> tuple[Role, ...]:
    """The roles the actor may give in an assignment (somewhere): none unless they manage users; the central
    administrator role only by a central administrator (`assignment_refusal`)."""
    if not grants.is_central and not grants.organisations(Role.LOCAL_ACCESS_ADMINISTRATOR):
        return ()
    return tuple(r for r in Role if grants.is_central or r is not Role.CENTRAL_ADMINISTRATOR)


@dataclass(frozen=True)
class Capabilities:
    """What a user may do, from their grants and their units' kinds: for a client to offer only what the server
    allows (the server checks the same rules on every request). Units are those of the user's assignments."""

    case_unit_ids: tuple[str, ...]  # where they work with patient cases (boards, cases, SIP, the event stream)
    unit_parts: dict[str, Part]  # the part each of those units takes in a discharge case
    register_case_unit_ids: tuple[str, ...]  # the active wards among them: where they register admissions
    inbox_unit_ids: tuple[str, ...]  # the receiving units among them: those have an inbox of notices
    administer: bool  # any administration at all (users, units or organisations)
    manage_users: bool  # users and assignments of at least one organisation
    manage_units: bool  # the unit tree of at least one organisation
    connect_organisations: bool
    review_logs: bool  # search, sample and review the access log of at least one organisation
    verify_log: bool  # check the access log's integrity
    grantable_roles: tuple[Role, ...]
    case_roles: tuple[Role, ...]  # the roles that work with patient cases (only they carry protected-identity access)
    statistics_unit_ids: tuple[str, ...] = ()  # where they read statistics (aggregates, no patient data)
    merge_identities: bool = False  # merge a reserve number into a person's real identity (`may_merge_identities`)
    enter_payment_amounts: bool = False  # Socialstyrelsen's amount per day per year (central administration)


def capabilities(grants: Grants, unit_kinds: Mapping[str, UnitKind], active_unit_ids: Collection[str]) -> Capabilities:
    """The user's capabilities; `unit_kinds` names the kind of each of their units (a unit missing from it is
    left out)."""
    case_roles = tuple(r for r in Role if r.works_with_cases)
    case_units = tuple(dict.fromkeys(g.unit_id for g in grants.items
                                     if g.role.works_with_cases and g.unit_id in unit_kinds))
    parts = {u: part_of_kind(unit_kinds[u]) for u in case_units}
    return Capabilities(
        case_unit_ids=case_units, unit_parts=parts,
        register_case_unit_ids=tuple(u for u in case_units if parts[u] is Part.WARD and u in active_unit_ids),
        inbox_unit_ids=tuple(u for u in case_units if parts[u] is not Part.WARD),
        administer=may_administer_anything(grants),
        manage_users=grants.is_central or bool(grants.organisations(Role.LOCAL_ACCESS_ADMINISTRATOR)),
        manage_units=grants.is_central or bool(grants.organisations(Role.LOCAL_OBJECT_SPECIALIST)),
        connect_organisations=may_connect_organisations(grants),
        review_logs=bool(log_reader_organisations(grants)), verify_log=may_verify_log(grants),
        grantable_roles=grantable_roles(grants), case_roles=case_roles,
        statistics_unit_ids=tuple(dict.fromkeys(g.unit_id for g in grants.items if g.role is Role.STATISTICS_READER
                                                and g.unit_id in unit_kinds)),
        merge_identities=may_merge_identities(grants), enter_payment_amounts=grants.is_central)


def assignment_refusal(grants: Grants, *, user_organisation_id: str, unit_organisation_id: str,
                       role: Role) -> str | None:
    """Why the actor may not give (or take away) this assignment, or None if they may."""
    if not may_manage_users(grants, user_organisation_id):
        return "you do not administer this user's organisation"
    if unit_organisation_id != user_organisation_id:
        return "assignments are made only at units of the user's own organisation"
    if role is Role.CENTRAL_ADMINISTRATOR and not grants.is_central:
        return "only a central administrator grants the central administrator role"
    return None


# ----- the tree ------------------------------------------------------------------------------------------------

def check_connection(*, care_agreement: bool) -> None:
    """An organisation connects only with a care agreement with the region."""
    if not care_agreement:
        raise InvalidValue("an organisation connects only with a care agreement with Region Stockholm",
                           field="care_agreement")


def check_unit(*, kind: UnitKind, routing_role: str | None, district: str | None,
               municipality_code: str | None) -> None:
    """Routing rules: only municipal units take notices as an intake unit, and they need a municipality."""
    if routing_role is not None and routing_role not in ROUTING_ROLES:
        raise InvalidValue(f"unknown routing role {routing_role!r}", field="routing_role")
    if routing_role == "intake" and kind is not UnitKind.MUNICIPAL:
        raise InvalidValue("only a municipal unit can be an intake unit", field="routing_role")
    if routing_role == "intake" and not municipality_code:
        raise InvalidValue("an intake unit needs the municipality whose notices it takes", field="municipality_code")
    if district is not None and routing_role != "intake":
        raise InvalidValue("a routing district belongs to a municipal intake unit", field="district")
    if kind is UnitKind.MUNICIPAL and not municipality_code:
        raise InvalidValue("a municipal unit needs its municipality code", field="municipality_code")


def municipality_refusal(*, routing_role: str | None, municipality_code: str | None,
                         organisation_municipality: str | None) -> str | None:
    """Routing integrity: why a unit's municipality code (and with it its district) is not its organisation's, or None.

    A unit of a municipality's organisation carries that municipality's code; an intake unit routes the patients
    of its code (and district), so its organisation's principal must be that municipality. Otherwise one
    municipality could route another's patients to itself. Exceptions need a cross-municipal agreement, recorded
    by a central administrator (the caller checks that)."""
    if municipality_code is None:
        return None
    if organisation_municipality is not None:
        if municipality_code == organisation_municipality:
            return None
        return (f"municipality code {municipality_code} is not the organisation's municipality "
                f"({organisation_municipality})")
    if routing_role == "intake":
        return "an intake unit routes the patients of a municipality, and this organisation is not a municipality's"
    return None


def check_parent(unit_id: str, parent_id: str | None, parents: dict[str, str | None]) -> None:
    """The unit tree stays a tree: a unit cannot sit under itself or under one of its own sub-units."""
    seen = {unit_id}
    current = parent_id
    while current is not None:
        if current in seen:
            raise InvalidValue("a unit cannot be placed under itself or one of its sub-units", field="parent_unit_id")
        seen.add(current)
        current = parents.get(current)


def deactivation_refusal(open_case_count: int) -> str | None:
    """A unit closes only once its open cases are forwarded: a deactivated unit gets no new notices."""
    if open_case_count:
        return f"the unit takes part in {open_case_count} open case(s); forward or close them first"
    return None


# ----- the access log -------------------------------------------------------------------------------------------

def check_retention(days: int) -> int:
    if days < MIN_LOG_RETENTION_DAYS:
        raise InvalidValue(f"the access log is kept at least 5 years ({MIN_LOG_RETENTION_DAYS} days)",
                           field="retention_days")
    return days


def purge_cutoff(now: datetime, retention_days: int) -> datetime:
    return now - timedelta(days=check_retention(retention_days))


def draw_sample(population: Sequence[T], size: int, seed: int) -> list[T]:
    """A reproducible random sample (*stickprov*): the same population and seed give the same entries."""
    if size < 1:
        raise InvalidValue("a sample has at least one entry", field="size")
    rng = random.Random(seed)  # noqa: S311 - reproducibility, not secrecy, is the point
    chosen = sorted(rng.sample(range(len(population)), min(size, len(population))))
    return [population[i] for i in chosen]


FINDINGS = ("no_remark", "justified", "unjustified", "needs_follow_up")


def check_finding(finding: str, field: str = "finding") -> str:
    if finding not in FINDINGS:
        raise InvalidValue(f"finding must be one of {', '.join(FINDINGS)}", field=field)
    return finding


def summarise(findings: Iterable[str | None]) -> dict[str, int]:
    counts = dict.fromkeys((*FINDINGS, "unreviewed"), 0)
    for f in findings:
        counts[f or "unreviewed"] += 1
    return counts
