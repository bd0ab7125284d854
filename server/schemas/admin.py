"""Bodies of the administration and log-review routes (msgspec: validation and OpenAPI in one place)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from domain.organisation import Role, UnitKind

Text200 = Annotated[str, Meta(min_length=1, max_length=200)]
Id = Annotated[str, Meta(min_length=1, max_length=64)]
HsaId = Annotated[str, Meta(pattern=r"^SE[0-9]{10}-[A-Za-z0-9]{1,40}$", description="HSA-id, e.g. SE2321000016-ABC1")]
MunicipalityCode = Annotated[str, Meta(pattern=r"^[0-9]{4}$", description="Kommunkod, four digits.")]
AwareTime = Annotated[datetime, Meta(tz=True, description="ISO 8601 with a time-zone offset.")]
Comment = Annotated[str, Meta(max_length=4000)]
Cursor = Annotated[str, Meta(min_length=1, max_length=1000, description=(
    "Opaque: the `next_cursor` of the page before (keyset pagination; a cursor not given out by the list is 400)."))]
Finding = Literal["no_remark", "justified", "unjustified", "needs_follow_up"]
OrganisationKind = Literal["hospital", "care_provider", "municipality", "federation"]
RoutingRole = Literal["intake"]


# ----- organisations and units ------------------------------------------------------------------------------

class ConnectOrganisation(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    principal_id: Id
    name: Text200
    kind: OrganisationKind
    care_agreement: bool
    has_local_administration: bool = False


class ChangeOrganisation(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Text200 | None = None
    has_local_administration: bool | None = None


class OrganisationOut(msgspec.Struct, kw_only=True):
    id: str
    principal_id: str
    name: str
    kind: str
    care_agreement: bool
    has_local_administration: bool
    active: bool


Phone = Annotated[str, Meta(min_length=3, max_length=40, pattern=r"^\+?[0-9][0-9 ()-]*[0-9]$")]


class NewUnit(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Text200
    kind: UnitKind
    hsa_id: HsaId
    parent_unit_id: Id | None = None
    municipality_code: MunicipalityCode | None = None
    district: Annotated[str, Meta(min_length=1, max_length=100)] | None = None
    routing_role: RoutingRole | None = None
    # A municipal unit outside its organisation's municipality (or an intake unit of an organisation that is not
    # a municipality's) needs the reference of a cross-municipal agreement; only a central administrator sets it.
    cross_municipal_agreement: Annotated[str, Meta(min_length=1, max_length=200)] | None = None
    phone: Phone | None = None  # the number the other parties of a case call (shown to the receivers)


class ChangeUnit(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Only the fields sent change; send `null` to clear parent, district or routing role."""

    name: Text200 | None = None
    parent_unit_id: Id | msgspec.UnsetType | None = msgspec.UNSET
    municipality_code: MunicipalityCode | msgspec.UnsetType | None = msgspec.UNSET
    district: Annotated[str, Meta(min_length=1, max_length=100)] | msgspec.UnsetType | None = msgspec.UNSET
    routing_role: RoutingRole | msgspec.UnsetType | None = msgspec.UNSET
    cross_municipal_agreement: Annotated[str, Meta(min_length=1, max_length=200)] | msgspec.UnsetType | None = (
        msgspec.UNSET)
    phone: Phone | msgspec.UnsetType | None = msgspec.UNSET


class AdminUnitOut(msgspec.Struct, kw_only=True):
    id: str
    organisation_id: str
    name: str
    kind: str
    hsa_id: str
    parent_unit_id: str | None
    municipality_code: str | None
    district: str | None
    routing_role: str | None
    active: bool
    deactivated_at: datetime | None
    cross_municipal_agreement: str | None = None
    phone: str | None = None


# ----- users and assignments ----------------------------------------------------------------------------------

class NewUser(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    username: Annotated[str, Meta(pattern=r"^[a-z0-9][a-z0-9._-]{1,99}$")]
    hsa_id: HsaId
    display_name: Text200
    title: Annotated[str, Meta(max_length=100)] = ""


class ChangeUser(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    display_name: Text200 | None = None
    title: Annotated[str, Meta(max_length=100)] | None = None
    active: bool | None = None
    # A corrected HSA-id: unique among users (409 `hsa_id_taken`). The user signs in by it (OIDC_USER_CLAIM), so
    # tokens issued for the old one stop working.
    hsa_id: HsaId | None = None


# The explicit need to see the name and address of a person with protected identity (skyddad identitet) when
# acting for the assignment's unit; only for roles that work with cases (user, super user).
ProtectedIdentityAccess = Annotated[bool, Meta(description=(
    "Behörighet att se skyddade personuppgifter: name and address of a person with protected identity are shown "
    "when the user acts for this unit. Only for the roles user and super_user."))]


class NewAssignment(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    unit_id: Id
    role: Role
    protected_identity_access: ProtectedIdentityAccess = False


class ChangeAssignment(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    protected_identity_access: ProtectedIdentityAccess


class ProtectedIdentityOut(msgspec.Struct, kw_only=True):
    """A person's protection after an administrator cleared it (no personal data: the patient id only)."""

    patient_id: str
    protected_identity: bool


IdentityText = Annotated[str, Meta(min_length=10, max_length=13)]


class IdentityMerge(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A reserve number (*reservnummer*) to merge into the person's real identity, in the body: identity numbers
    never belong in a URL."""

    reserve_number: IdentityText
    identity: IdentityText  # the personnummer or samordningsnummer the person turned out to have


class IdentityMergeOut(msgspec.Struct, kw_only=True):
    """What moved (ids and counts only)."""

    from_patient_id: str
    to_patient_id: str
    identity_kind: str  # of the real identity: personnummer or samordningsnummer
    case_ids: list[str]
    sip_plan_ids: list[str]
    protected_identity: bool


class AdminAssignmentOut(msgspec.Struct, kw_only=True):
    id: int
    unit_id: str
    role: str
    protected_identity_access: bool


class AdminUserOut(msgspec.Struct, kw_only=True):
    id: str
    username: str
    hsa_id: str
    display_name: str
    title: str
    organisation_id: str
    active: bool
    assignments: list[AdminAssignmentOut]


class AdminChangeOut(msgspec.Struct, kw_only=True):
    at: datetime
    actor_user_id: str
    actor_hsa_id: str
    action: str
    target_type: str
    target_id: str
    detail: dict[str, Any]


class AdminChangePage(msgspec.Struct, kw_only=True):
    """Newest first; `next_cursor`: pass it as `cursor` for the next page (null on the last)."""

    items: list[AdminChangeOut]
    limit: int
    next_cursor: str | None


# ----- the access log and log review --------------------------------------------------------------------------

class LoggedPatientOut(msgspec.Struct, kw_only=True):
    """The patient of a log row as the reader may see them: the full identity number and the name only for an
    auditor (the reading is itself access-logged); others get the masked number (`19121212-****`) and no name. A
    protected person's name is `Skyddad identitet` for everyone."""

    identity: str
    identity_kind: str
    name: str | None
    protected_identity: bool


class LoggedCaseOut(msgspec.Struct, kw_only=True):
    """The discharge case of a log row, as a reader recognises it: ward, care type, admission."""

    id: str
    ward_unit_id: str
    ward_name: str
    care_type: str
    admitted_at: datetime


class AccessLogEntryOut(msgspec.Struct, kw_only=True):
    seq: int | None  # the row's place in the hash chain; null until the sealer has chained it (about a second)
    at: datetime
    action: str  # a code of docs/api.md "Access-log actions and purposes" (domain/audit_terms.py)
    purpose: str
    user_id: str
    user_hsa_id: str  # the HSA-id the user had then
    unit_id: str | None
    patient_id: str
    case_id: str | None
    # Readable: the user's name and title and the unit's name now; the patient and the case (null when unknown).
    user_name: str | None = None
    user_title: str | None = None
    unit_name: str | None = None
    patient: LoggedPatientOut | None = None
    case: LoggedCaseOut | None = None


class AccessLogPage(msgspec.Struct, kw_only=True):
    """A page of the access log, newest first. `next_cursor`: pass it as `cursor` for the next page (null on the
    last). `total` is counted on the first page only (null on later pages), up to 1 000: `total_capped` true means
    more than that ("fler än 1 000")."""

    items: list[AccessLogEntryOut]
    total: int | None
    total_capped: bool
    limit: int
    next_cursor: str | None


class AccessLogQuery(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A search of the access log in a body, so a patient's identity number never travels in a URL."""

    patient_identity: Annotated[str, Meta(min_length=10, max_length=13)] | None = None
    patient_id: Id | None = None
    user_id: Id | None = None
    # The user's HSA-id, as auditors know them: rows logged under it, and rows of the user who holds it now.
    user_hsa_id: HsaId | None = None
    unit_id: Id | None = None
    action: Annotated[str, Meta(max_length=60)] | None = None  # a code of domain/audit_terms.py ACTIONS
    period_from: AwareTime | None = None
    period_to: AwareTime | None = None
    limit: Annotated[int, Meta(ge=1, le=500)] = 100
    cursor: Cursor | None = None  # the `next_cursor` of the page before


class ChainProblemOut(msgspec.Struct, kw_only=True):
    seq: int | None
    problem: str


class VerificationOut(msgspec.Struct, kw_only=True):
    ok: bool
    rows_checked: int
    first_seq: int | None
    last_seq: int | None
    checkpoint_seq: int | None
    problems: list[ChainProblemOut]
    unsealed: int  # rows not yet in the chain (normal: the last second's)
    unsealed_too_long: int  # of them, older than the grace period: the sealer is not running
    oldest_unsealed_at: datetime | None
    warnings: list[str]  # about unsealed rows; `ok` says only whether the sealed chain is intact


class NewReview(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    unit_id: Id
    period_from: AwareTime
    period_to: AwareTime
    sample_size: Annotated[int, Meta(ge=1, le=500)] = 20
    seed: Annotated[int, Meta(ge=0, le=2**53)] | None = None


class Outcome(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    finding: Finding
    comment: Comment = ""


class ReviewEntryOut(msgspec.Struct, kw_only=True):
    entry: AccessLogEntryOut | None  # None once the row is past retention and purged
    seq: int
    finding: str | None
    comment: str
    reviewed_by_user_id: str | None
    reviewed_at: datetime | None


class ReviewOut(msgspec.Struct, kw_only=True):
    id: str
    organisation_id: str
    unit_id: str
    period_from: datetime
    period_to: datetime
    seed: int
    sample_size: int
    population: int
    created_by_user_id: str
    created_at: datetime
    finding: str | None
    comment: str
    concluded_by_user_id: str | None
    concluded_at: datetime | None
    summary: dict[str, int]
    entries: list[ReviewEntryOut]


class ReviewSummaryOut(msgspec.Struct, kw_only=True):
    id: str
    unit_id: str
    period_from: datetime
    period_to: datetime
    sample_size: int
    created_at: datetime
    finding: str | None


class ReviewPage(msgspec.Struct, kw_only=True):
    items: list[ReviewSummaryOut]
    limit: int
    offset: int
