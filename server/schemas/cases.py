"""Request and response bodies of the REST API (msgspec: validation and OpenAPI in one place)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

import msgspec
from msgspec import Meta

from domain.case_refusals import CaseAction
from domain.discharge_case import InterruptionReason, Part, RejectionReason
from domain.discharge_notice import MAX_CONTACT_NAME, MAX_CONTACTS, MAX_DETAIL, MAX_PHONE, Destination, MedicationList
from domain.planning import Need, PlanningField
from realtime.envelope import AggregateType

Text200 = Annotated[str, Meta(min_length=1, max_length=200)]
FreeText = Annotated[str, Meta(max_length=4000)]
Id = Annotated[str, Meta(min_length=1, max_length=64)]
Version = Annotated[int, Meta(ge=1, le=2_147_483_647, description="The version of the case you last read.")]
AwareTime = Annotated[datetime, Meta(tz=True, description="ISO 8601 with a time-zone offset.")]
MunicipalityCode = Annotated[str, Meta(pattern=r"^[0-9]{4}$", description="Kommunkod, four digits.")]
CaseActionName = Annotated[CaseAction, Meta(description="An action on the case the acting unit may take now.")]


class Problem(msgspec.Struct, kw_only=True):
    """RFC 9457 problem details. `errors` names each failing field."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    code: str
    errors: list[FieldError] = []


class FieldError(msgspec.Struct):
    field: str
    message: str


# ----- requests ---------------------------------------------------------------------------------------------

class PatientInput(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    identity: Annotated[str, Meta(min_length=10, max_length=13, description="Personnummer, samordningsnummer "
                                  "or Region Stockholm reservnummer.")]
    name: Text200
    address: Annotated[str, Meta(max_length=300)] = ""
    municipality_code: MunicipalityCode
    district: Annotated[str, Meta(max_length=100)] | None = None
    listed_unit_id: Id | None = None
    protected_identity: bool = False


class RegisterCase(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    ward_unit_id: Id
    patient: PatientInput
    admitted_at: AwareTime
    needs_identified_at: AwareTime | None = None
    estimated_discharge_at: AwareTime | None = None
    receiving_unit_ids: Annotated[list[Id], Meta(max_length=10)] | None = None
    # why the ward chose the receivers by hand instead of the routing rule's (`GET /routing`)
    routing_reason: Annotated[str, Meta(max_length=300)] | None = None


class VersionOnly(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    expected_version: Version


class NeedsIdentifiedInput(VersionOnly, kw_only=True, forbid_unknown_fields=True):
    at: AwareTime


class AcknowledgeInput(VersionOnly, kw_only=True, forbid_unknown_fields=True):
    notice_ids: Annotated[list[Id], Meta(max_length=100)] | None = None


class ForwardInput(VersionOnly, kw_only=True, forbid_unknown_fields=True):
    to_unit_id: Id


class RejectInput(VersionOnly, kw_only=True, forbid_unknown_fields=True):
    reason: RejectionReason


class AddParticipantInput(VersionOnly, kw_only=True, forbid_unknown_fields=True):
    unit_id: Id


class RemoveParticipantInput(VersionOnly, kw_only=True, forbid_unknown_fields=True):
    unit_id: Id


class NamedCareContactInput(VersionOnly, kw_only=True, forbid_unknown_fields=True):
    contact_user_id: Id


class EstimatedDischargeInput(VersionOnly, kw_only=True, forbid_unknown_fields=True):
    estimated_discharge_at: AwareTime


class PlanningInput(VersionOnly, kw_only=True, forbid_unknown_fields=True):
    """The whole planning form at once, guarded by the case's version (every field not given is emptied)."""

    current_services: FreeText = ""
    expected_needs: Annotated[list[Need], Meta(max_length=20)] = []
    aids: FreeText = ""
    medication_handover: FreeText = ""
    adl: FreeText = ""
    notes: FreeText = ""


FieldRevision = Annotated[int, Meta(ge=0, le=2_147_483_647,
                                    description="The revision of the field you last read (0: never changed).")]
NeedList = Annotated[list[Need], Meta(max_length=20)]


class PlanningFieldEdit(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """One planning field from the revision you read: text for a text field, a list of needs for
    `expected_needs` (any other type is a malformed body: 400)."""

    value: FreeText | NeedList
    expected_revision: FieldRevision


def planning_value_error(name: PlanningField, value: str | list[Need]) -> str | None:
    """Why `value` has the wrong type for field `name`, or None. `PlanningFieldEdit.value` lets text and need
    lists through for every field (the field is named by the path or the key), so the API checks the pair."""
    if name is PlanningField.EXPECTED_NEEDS:
        return None if isinstance(value, list) else "Expected `array` of needs, got `str`"
    return None if isinstance(value, str) else "Expected `str`, got `array`"


class PlanningFieldsInput(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Fields of your unit's planning form, each from the revision you read; all or nothing."""

    fields: Annotated[dict[PlanningField, PlanningFieldEdit], Meta(min_length=1, max_length=6)]


class SipAppliesInput(VersionOnly, kw_only=True, forbid_unknown_fields=True):
    applies: bool
    consent: bool | None = None  # the person's consent to a SIP; None: not asked yet


class LiabilityFactsInput(VersionOnly, kw_only=True, forbid_unknown_fields=True):
    patient_refused_services: bool
    outpatient_services_missing: bool


class HomeReadinessInput(VersionOnly, kw_only=True, forbid_unknown_fields=True):
    medicines_secured: bool = False
    aids_in_place: bool = False
    patient_informed: bool = False
    next_provider_informed: bool = False


class AfterDischargeContactInput(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Whom the receivers contact after the discharge: a person, a function or a unit, and a phone number."""

    name: Annotated[str, Meta(min_length=1, max_length=MAX_CONTACT_NAME)]
    phone: Annotated[str, Meta(max_length=MAX_PHONE, pattern=r"^[0-9+() -]*$",
                               description="Digits, spaces, +, - and parentheses.")] = ""


class DischargeNoticeInput(VersionOnly, kw_only=True, forbid_unknown_fields=True):
    """The discharge notice: the time the patient left (not later than now) and what the receivers need. The
    domain refuses invalid combinations with a `reason` (docs/api.md, "Case refusals")."""

    discharged_at: Annotated[datetime, Meta(tz=True, description="When the patient left the ward (ISO 8601 with an "
                                            "offset); never later than now: a planned time is the estimate.")]
    destination: Destination
    destination_detail: Annotated[str, Meta(max_length=MAX_DETAIL, description=(
        "Which ward, unit or place; required for `other_unit` and `other`."))] = ""
    contacts: Annotated[list[AfterDischargeContactInput], Meta(max_length=MAX_CONTACTS, description=(
        "At least one unless the patient is deceased (then none)."))] = []
    handover: FreeText = ""
    medication_list: Annotated[MedicationList | None, Meta(description=(
        "`attached` (with `medication_list_text`) or `sent_in_record`; required unless the patient is "
        "deceased."))] = None
    medication_list_text: FreeText = ""


class InterruptInput(VersionOnly, kw_only=True, forbid_unknown_fields=True):
    reason: InterruptionReason


class PaymentAmountInput(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    amount_sek: Annotated[int, Meta(ge=1, le=1_000_000)]


# ----- responses --------------------------------------------------------------------------------------------

class UnitOut(msgspec.Struct, kw_only=True):
    id: str
    name: str
    kind: str
    hsa_id: str
    organisation_id: str
    municipality_code: str | None
    district: str | None
    routing_role: str | None
    phone: str | None = None  # the number the other parties of a case call


class RoutedUnitOut(msgspec.Struct, kw_only=True):
    unit_id: str
    unit_name: str
    part: Part


class RoutingOut(msgspec.Struct, kw_only=True):
    """The units a new case's admission notice would reach by the routing rule."""

    receivers: list[RoutedUnitOut]


class AssignmentOut(msgspec.Struct, kw_only=True):
    unit_id: str
    unit_name: str
    role: str


class CapabilitiesOut(msgspec.Struct, kw_only=True):
    """What you may do, computed by the domain from your assignments (docs/api.md, "What you may do"): offer only
    this; the server checks the same rules on every request."""

    case_unit_ids: list[str]  # units where you work with patient cases (boards, cases, SIP, the event stream)
    unit_parts: dict[str, Part]  # the part each of those units takes in a discharge case
    register_case_unit_ids: list[str]  # active wards among them: where you register admissions
    inbox_unit_ids: list[str]  # receiving units among them: those have an inbox
    administer: bool  # any administration (users, units or organisations)
    manage_users: bool
    manage_units: bool
    connect_organisations: bool
    review_logs: bool  # the access log of at least one organisation
    verify_log: bool  # the access log's integrity
    grantable_roles: list[str]  # the roles you may give in assignments
    case_roles: list[str]  # the roles that work with patient cases (only they carry protected-identity access)
    statistics_unit_ids: list[str] = msgspec.field(default_factory=list)  # where you read statistics
    merge_identities: bool = False  # merge a reserve number into a person's real identity
    enter_payment_amounts: bool = False  # Socialstyrelsen's amount per day per year (`setPaymentAmount`)


class MeOut(msgspec.Struct, kw_only=True):
    id: str
    username: str
    hsa_id: str
    display_name: str
    organisation_id: str
    assignments: list[AssignmentOut]
    capabilities: CapabilitiesOut


class PatientOut(msgspec.Struct, kw_only=True):
    id: str
    identity_kind: str
    identity: str
    name: str
    address: str
    municipality_code: str
    protected_identity: bool
    birth_date: date | None
    # True when name and address are withheld from you: the person has protected identity and your assignment at
    # the unit you act for does not carry the explicit need to see them (`name` then says "Skyddad identitet").
    masked: bool = False


class ParticipantOut(msgspec.Struct, kw_only=True):
    unit_id: str
    unit_name: str
    part: Part
    status: str
    added_at: datetime
    forwarded_to: str | None


class AcknowledgementOut(msgspec.Struct, kw_only=True):
    unit_id: str
    user_id: str
    at: datetime


class NoticeOut(msgspec.Struct, kw_only=True):
    id: str
    kind: str
    sent_at: datetime
    sent_by_user_id: str
    sent_by_unit_id: str
    recipient_unit_ids: list[str]
    acknowledgements: list[AcknowledgementOut]
    cancelled: bool


class DeadlineOut(msgspec.Struct, kw_only=True):
    kind: str
    due_at: datetime
    met_at: datetime | None
    state: str
    responsible_part: Part | None = None  # the part of the case that must act before it (null: a SIP plan's)
    responsible_unit_ids: list[str] = []  # the case's units that take that part (the ward; the active receivers)
    # due at the estimated discharge while the patient is still admitted: an estimate, at most `at_risk`
    estimated: bool = False


class PaymentOut(msgspec.Struct, kw_only=True):
    policy: str
    liable: bool
    reasons_not_liable: list[str]  # conditions failed for good (never one that can still be met in time)
    day_zero: date | None
    liability_starts_on: date | None
    days_ready: int
    liable_days: int
    amount_sek: int | None
    missing_amount_years: list[int]
    # not_ready, not_yet_liable, liable, was_liable, not_liable, ended_without_liability (docs/api.md, "Payment")
    stage: str = "not_ready"
    reasons_pending: list[str] = []  # conditions not met yet that can still be met in time
    liability_ends_on: date | None = None  # the last charged date so far


class AfterDischargeContactOut(msgspec.Struct, kw_only=True):
    name: str
    phone: str


class DischargeInformationOut(msgspec.Struct, kw_only=True):
    """What the discharge notice carried besides the time (`discharged_at`)."""

    destination: str  # home, short_term_stay, special_housing, other_unit, deceased, other
    destination_detail: str
    contacts: list[AfterDischargeContactOut]
    handover: str
    medication_list: str | None  # attached, sent_in_record; null: deceased
    medication_list_text: str


class TimelineOut(msgspec.Struct, kw_only=True):
    at: datetime
    action: str
    user_id: str
    unit_id: str
    detail: str | None


class PlanningOut(msgspec.Struct, kw_only=True):
    unit_id: str
    current_services: str
    expected_needs: list[str]
    aids: str
    medication_handover: str
    adl: str
    notes: str
    updated_at: datetime | None
    updated_by_user_id: str | None
    # Every field's revision (0: never changed): send it back as `expected_revision` when you change the field.
    revisions: dict[str, int] = {}


class UnitRefOut(msgspec.Struct, kw_only=True):
    id: str
    name: str
    phone: str | None = None  # the unit's phone for the other parties (wards: the receivers call it)


class CaseContextOut(msgspec.Struct, kw_only=True):
    """Who is who on a case, by name (receivers need to know where the patient is and whom to call)."""

    hospital: str  # the sending ward's organisation (the hospital or care provider)
    ward: UnitRefOut
    municipality: str | None  # the patient's registered municipality by name (never its code); null: unknown
    municipal_units: list[UnitRefOut]  # the active participating units of each receiving part
    primary_care_units: list[UnitRefOut]
    named_care_contact: str | None  # name (and title) of the named care contact (*fast vårdkontakt*), once appointed


class AckStatusOut(msgspec.Struct, kw_only=True):
    unit_id: str
    unacknowledged: int


class CaseSummary(msgspec.Struct, kw_only=True):
    """One row of a board or inbox."""

    id: str
    version: int
    state: str
    open: bool  # admitted, planning or ready for discharge: the server decides what is open (the board shows these)
    care_type: str
    patient: PatientOut
    ward_unit_id: str
    admitted_at: datetime
    estimated_discharge_at: datetime | None
    ready_for_discharge_at: datetime | None
    discharged_at: datetime | None  # the actual time the patient left (from the discharge notice)
    # the discharge notice's content; null before the discharge, and on cases discharged with a bare time (before
    # the notice carried its content)
    discharge_information: DischargeInformationOut | None
    deadlines: list[DeadlineOut]
    deadline_state: str | None
    acknowledgement_status: list[AckStatusOut]
    on_leave: bool
    acting_unit_id: str  # the unit this answer is for: `allowed_actions` are that unit's
    allowed_actions: list[CaseActionName]  # what the acting unit may do now (docs/api.md, "Case actions")
    refused_actions: dict[str, str]  # every other action -> why its command would be refused now (a reason code)
    inbox_unit_ids: list[str]  # the receiving units that have the case in their inbox now
    context: CaseContextOut | None = None  # names of the hospital, ward, municipality, units and named care contact
    # a deadline still unmet after the escalation time: its unit's coordinator / local admin was told (board chip)
    escalated: bool = False


class CaseDetail(CaseSummary, kw_only=True):
    participants: list[ParticipantOut]
    notices: list[NoticeOut]
    needs_identified_at: datetime | None
    admission_notice_sent_at: datetime | None
    named_care_contact_user_id: str | None
    sip_applies: bool
    sip_consent: bool | None = None  # the person's consent to a SIP: True, False (refused), None (not asked yet)
    sip_plan_id: str | None = None  # the SIP plan whose first meeting invitation was the case's SIP invitation
    sip_invitation_sent_at: datetime | None
    discharge_notice_sent_at: datetime | None
    patient_refused_services: bool
    outpatient_services_missing: bool
    home_readiness: dict[str, bool]
    interruption_reason: str | None
    closed_at: datetime | None
    planning: list[PlanningOut]
    timeline: list[TimelineOut]
    payment: PaymentOut


class CasePage(msgspec.Struct, kw_only=True):
    items: list[CaseSummary]
    total: int  # every case the filter matches (counted in SQL, no rows loaded)
    limit: int
    offset: int
    overdue: int = 0  # of `total`, the cases whose most urgent unmet deadline is overdue now
    at_risk: int = 0  # of `total`, the cases whose most urgent unmet deadline is at risk now


class UnitPage(msgspec.Struct, kw_only=True):
    items: list[UnitOut]
    limit: int
    offset: int


class EventOut(msgspec.Struct, kw_only=True):
    event_id: str
    type: str
    feed: str
    position: int
    aggregate_type: AggregateType
    aggregate_id: str
    aggregate_version: int
    occurred_at: datetime
    unit_ids: list[str]
    data: dict[str, Any]


class EventPage(msgspec.Struct, kw_only=True):
    feed: str
    head: int
    items: list[EventOut]


class PaymentAmountOut(msgspec.Struct, kw_only=True):
    year: int
    amount_sek: int


class PaymentPolicyOut(msgspec.Struct, kw_only=True):
    name: str
    model: str
    first_liable_day_somatic: int
    first_liable_day_psychiatric: int
    day0_cutoff_hour: int
    day_counting: str
    discharge_day_charged: bool
    average_threshold_days: float | None
    switch_to_individual_after_days: int | None
    amounts: list[PaymentAmountOut]


class Health(msgspec.Struct):
    status: str


MAX_VIEWERS = 500  # viewers in one live update (`POST /cases/{id}/views`)


class ViewerIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    token: Annotated[str, Meta(min_length=1, max_length=8192, description="The viewer's own access token.")]


class CaseViewsInput(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    unit_id: Annotated[str, Meta(min_length=1, max_length=64, description="The unit whose open views show the "
                                 "case (every viewer acts for it).")]
    viewers: Annotated[list[ViewerIn], Meta(min_length=1, max_length=MAX_VIEWERS)]


class ViewerOut(msgspec.Struct, kw_only=True):
    variant: int | None  # index into `variants`; None: this viewer gets nothing (see `status`)
    status: int  # 200, or what a read of the case with the viewer's token alone would have answered
    code: str | None = None


class CaseViewsOut(msgspec.Struct, kw_only=True):
    # Nothing of the case outside `variants` (not even its id): a call whose viewers are all refused returns none
    variants: list[CaseDetail]  # at most two: masked and unmasked protected identity
    viewers: list[ViewerOut]  # in the order of the request's viewers


class PatientSearch(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """`POST /patients/search`: a personnummer (exact; any written form) or the beginning of a name."""

    query: Annotated[str, msgspec.Meta(min_length=2, max_length=100)]
    unit_id: Annotated[str, msgspec.Meta(max_length=64)] | None = None
    limit: Annotated[int, msgspec.Meta(ge=1, le=50)] = 20


class PatientHitOut(msgspec.Struct, kw_only=True):
    """A case whose patient matches, as the unit it is seen through shows it (no document decoded)."""

    case_id: str
    unit_id: str
    state: str
    open: bool
    admitted_at: datetime
    patient: PatientOut


class PatientSearchOut(msgspec.Struct, kw_only=True):
    by: str  # "identity" (the query was a personnummer) or "name" (a name prefix)
    items: list[PatientHitOut]
