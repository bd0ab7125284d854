"""Routes of discharge cases: list, register, read, and one POST per notice or action of the process.

Controllers only parse, call one use case and return its answer. (No `from __future__ import annotations`
here: the command routes are built by a factory and Litestar reads their annotations at runtime.)
"""

from collections.abc import Callable
from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.exceptions import ValidationException
from litestar.handlers import HTTPRouteHandler
from litestar.params import Parameter

from domain import commands as cmd
from domain.deadlines import DeadlineState
from domain.discharge_case import CaseState
from domain.discharge_notice import AfterDischargeContact, DischargeInformation
from domain.planning import HomeReadiness, PlanningEdit, PlanningField, PlanningForm
from server.api.dependencies import Cases, Reads, authenticate_viewers
from server.api.openapi import PROBLEMS
from server.idempotency import CommandResult, IdempotencyKey
from server.principal import CurrentUser
from server.queries.cases import CaseOrder
from server.runtime import Runtime
from server.schemas import cases as s
from server.views.cases import InboxOut, PersonOut, UnreadOut

IdempotencyHeader = Annotated[str | None, Parameter(
    header="Idempotency-Key", required=False, max_length=200,
    description="Any unique string; a retried request with the same key gets the first answer.")]
ActingUnitHeader = Annotated[str | None, Parameter(
    header="X-Acting-Unit", required=False, max_length=64,
    description="The unit you act for, when you take part in the case through several units.")]
CaseId = Annotated[str, Parameter(max_length=64, description="The case id.")]


def _json(result: CommandResult) -> Response[s.CaseDetail]:
    return Response(result.body, status_code=result.status, media_type="application/json")  # type: ignore[arg-type]


@get("/cases", operation_id="listCases", summary="List cases of my units",
     description="The cases of the units you work at (or one of them), with live deadlines, newest admission "
                 "first (order=admitted_at: oldest first). Filter by open/ended, by state and by the most urgent open "
                 "deadline state; page with limit and offset (total, overdue and at_risk count every matching "
                 "case).",
     responses=PROBLEMS, tags=["cases"])
async def list_cases(
    current_user: CurrentUser, queries: Reads,
    unit_id: Annotated[str | None, Parameter(query="unit_id", required=False, max_length=64)] = None,
    states: Annotated[list[CaseState] | None, Parameter(query="state", required=False)] = None,
    deadline_state: Annotated[DeadlineState | None, Parameter(query="deadline_state", required=False)] = None,
    order: Annotated[CaseOrder, Parameter(query="order", required=False)] = CaseOrder.NEWEST,
    open_: Annotated[bool | None, Parameter(
        query="open", required=False,
        description="true: only open cases (admitted, planning, ready for discharge; what the board shows); "
                    "false: only ended ones (the board's history)")] = None,
    limit: Annotated[int, Parameter(ge=1, le=500)] = 100,
    offset: Annotated[int, Parameter(ge=0, le=1_000_000)] = 0,
) -> s.CasePage:
    return await queries.cases.list_cases(current_user, unit_id=unit_id, states=states, open_=open_,
                                          deadline_state=deadline_state, limit=limit, offset=offset, order=order)


@post("/cases", operation_id="registerCase", summary="Register an admission",
      description="A ward registers an admitted patient. The receiving municipal unit follows the patient's "
                  "registered municipality (and district); the primary care unit follows the listing, unless "
                  "receiving_unit_ids are given. The admission notice is sent with its own action.",
      status_code=201, responses=PROBLEMS, tags=["cases"])
async def register_case(current_user: CurrentUser, cases: Cases, data: s.RegisterCase,
                        request: Request[Any, Any, Any],
                        idempotency_key: IdempotencyHeader = None) -> Response[s.CaseDetail]:
    idem = IdempotencyKey.from_request(idempotency_key, "POST", request.url.path, await request.body())
    return _json(await cases.register(current_user, data, idem))


@get("/cases/{case_id:str}", operation_id="getCase", summary="Read one case",
     description="The whole case: participants, notices with acknowledgements, deadlines, payment liability, "
                 "planning and timeline. Every read is written to the access log.",
     responses=PROBLEMS, tags=["cases"])
async def get_case(current_user: CurrentUser, cases: Cases, case_id: CaseId,
                   acting_unit: ActingUnitHeader = None) -> s.CaseDetail:
    return await cases.get(current_user, case_id, acting_unit)


@post("/cases/{case_id:str}/views", operation_id="showCaseToViewers", summary="Read a changed case for its viewers",
      description="A live update: the UI process reads a changed case once for every user whose open view shows it "
                  "(acting for `unit_id`), with each viewer's own access token in the body. Each viewer is "
                  "authenticated and authorised on their own: one whose token is invalid, expired or revoked gets "
                  "401, one who no longer sees the case through the unit 404/403, and nothing of the case; the "
                  "others are not affected. `variants` holds the case at most twice (protected identity masked and "
                  "shown); each viewer's `variant` says which is theirs. One access-log row per viewer shown the "
                  "case (`live_update`).",
      status_code=200, responses=PROBLEMS, tags=["cases"])
async def show_case_to_viewers(cases: Cases, runtime: Runtime, case_id: CaseId,
                               data: s.CaseViewsInput) -> s.CaseViewsOut:
    viewers = await authenticate_viewers(runtime, [v.token for v in data.viewers])
    return await cases.views(viewers, case_id, data.unit_id)


def command_route(path: str, body: type[s.VersionOnly], build: Callable[[str, Any], cmd.CaseCommand], *,
                  operation_id: str, summary: str, description: str) -> HTTPRouteHandler:
    """One POST route that turns its body into a command and runs it; answers with the changed case."""

    async def handler(current_user: CurrentUser, cases: Cases, case_id: CaseId, data: Any,
                      request: Request[Any, Any, Any], idempotency_key: IdempotencyHeader = None,
                      acting_unit: ActingUnitHeader = None) -> Response[s.CaseDetail]:
        idem = IdempotencyKey.from_request(idempotency_key, "POST", request.url.path, await request.body())
        return _json(await cases.execute(current_user, build(case_id, data), acting_unit, idem))

    handler.__annotations__["data"] = body
    handler.__name__ = operation_id
    return post(f"/cases/{{case_id:str}}/{path}", operation_id=operation_id, summary=summary,
                description=description, status_code=200, responses=PROBLEMS, tags=["case actions"])(handler)


def _v(data: s.VersionOnly) -> int:
    return data.expected_version


def _discharge(data: s.DischargeNoticeInput) -> DischargeInformation:
    return DischargeInformation(
        destination=data.destination, destination_detail=data.destination_detail,
        contacts=tuple(AfterDischargeContact(c.name, c.phone) for c in data.contacts), handover=data.handover,
        medication_list=data.medication_list, medication_list_text=data.medication_list_text)


COMMAND_ROUTES = [
    command_route("admission-notice", s.VersionOnly,
                  lambda c, d: cmd.SendAdmissionNotice(case_id=c, expected_version=_v(d)),
                  operation_id="sendAdmissionNotice", summary="Send the admission notice",
                  description="The ward sends the admission notice (inskrivningsmeddelande) to the receiving units. "
                              "Due within 24 hours of admission or of the judgement that needs may arise."),
    command_route("needs-identified", s.NeedsIdentifiedInput,
                  lambda c, d: cmd.RecordNeedsIdentified(case_id=c, expected_version=_v(d), at=d.at),
                  operation_id="recordNeedsIdentified", summary="Record when needs were identified",
                  description="The doctor judged later that needs may arise: the admission-notice deadline counts "
                              "from this time."),
    command_route("acknowledgements", s.AcknowledgeInput,
                  lambda c, d: cmd.Acknowledge(case_id=c, expected_version=_v(d),
                                               notice_ids=tuple(d.notice_ids) if d.notice_ids is not None else None),
                  operation_id="acknowledgeNotices", summary="Acknowledge notices",
                  description="A receiving unit acknowledges (kvitterar) the given notices, or all it has not yet "
                              "acknowledged."),
    command_route("forwarding", s.ForwardInput,
                  lambda c, d: cmd.Forward(case_id=c, expected_version=_v(d), to_unit_id=d.to_unit_id),
                  operation_id="forwardCase", summary="Forward the case to another unit",
                  description="A receiving unit hands its part to another unit of the same kind."),
    command_route("rejection", s.RejectInput,
                  lambda c, d: cmd.Reject(case_id=c, expected_version=_v(d), reason=d.reason),
                  operation_id="rejectCase", summary="Answer that the case is not ours",
                  description="A receiving unit answers that the case is not theirs (e.g. wrong municipality)."),
    command_route("participants", s.AddParticipantInput,
                  lambda c, d: cmd.AddParticipant(case_id=c, expected_version=_v(d), unit_id=d.unit_id),
                  operation_id="addParticipant", summary="Add a participating unit",
                  description="The ward adds a municipal or primary care unit; it receives the notices so far."),
    command_route("participant-removal", s.RemoveParticipantInput,
                  lambda c, d: cmd.RemoveParticipant(case_id=c, expected_version=_v(d), unit_id=d.unit_id),
                  operation_id="removeParticipant", summary="Remove a participating unit",
                  description="The ward removes a receiving unit from the case."),
    command_route("named-care-contact", s.NamedCareContactInput,
                  lambda c, d: cmd.AppointNamedCareContact(case_id=c, expected_version=_v(d),
                                                           contact_user_id=d.contact_user_id),
                  operation_id="appointNamedCareContact", summary="Appoint the named care contact",
                  description="The primary care unit appoints the named care contact (fast vårdkontakt)."),
    command_route("estimated-discharge", s.EstimatedDischargeInput,
                  lambda c, d: cmd.ChangeEstimatedDischarge(case_id=c, expected_version=_v(d),
                                                            estimated_discharge_at=d.estimated_discharge_at),
                  operation_id="changeEstimatedDischarge", summary="Change the estimated discharge time",
                  description="The ward changes the estimated discharge time; receivers get a notice."),
    command_route("planning", s.PlanningInput,
                  lambda c, d: cmd.UpdatePlanning(case_id=c, expected_version=_v(d), form=PlanningForm(
                      current_services=d.current_services, expected_needs=tuple(d.expected_needs), aids=d.aids,
                      medication_handover=d.medication_handover, adl=d.adl, notes=d.notes)),
                  operation_id="updatePlanning", summary="Write my unit's whole planning form",
                  description="Each participating unit keeps its own structured planning form on the case. This "
                              "writes the whole form at once (fields left out are emptied), guarded by the case's "
                              "`expected_version`: any change to the case in between gives 409. A form equal to the "
                              "stored one is no change: 200 with the case as it is (same version, no event). Kept "
                              "for whole-form writes; editors should use `changePlanningFields`, guarded per field."),
    command_route("ready-for-discharge", s.VersionOnly,
                  lambda c, d: cmd.MarkReadyForDischarge(case_id=c, expected_version=_v(d)),
                  operation_id="markReadyForDischarge", summary="Mark the patient ready for discharge",
                  description="The ward sends the ready-for-discharge notice (utskrivningsklar). The time it is "
                              "sent starts the payment-liability clock."),
    command_route("ready-for-discharge-withdrawal", s.VersionOnly,
                  lambda c, d: cmd.WithdrawReadyForDischarge(case_id=c, expected_version=_v(d)),
                  operation_id="withdrawReadyForDischarge", summary="Withdraw ready for discharge",
                  description="The patient is no longer ready; the clock stops and a later notice starts anew."),
    command_route("sip-applicability", s.SipAppliesInput,
                  lambda c, d: cmd.SetSipApplies(case_id=c, expected_version=_v(d), applies=d.applies,
                                                 consent=d.consent),
                  operation_id="setSipApplies", summary="Decide whether a SIP applies, and the person's consent",
                  description="The patient needs services from both principals (`applies`), and whether they "
                              "consent to a SIP (`consent`: true, false for a refusal, null when not asked yet; "
                              "only with `applies` true, else 422). A refused consent means no SIP invitation is "
                              "due."),
    command_route("sip-invitation", s.VersionOnly,
                  lambda c, d: cmd.SendSipInvitation(case_id=c, expected_version=_v(d)),
                  operation_id="sendSipInvitation", summary="Send the SIP invitation",
                  description="The named care contact's unit calls the SIP meeting; due within 3 days of the "
                              "ready-for-discharge notice."),
    command_route("liability-facts", s.LiabilityFactsInput,
                  lambda c, d: cmd.SetLiabilityFacts(case_id=c, expected_version=_v(d),
                                                     patient_refused_services=d.patient_refused_services,
                                                     outpatient_services_missing=d.outpatient_services_missing),
                  operation_id="setLiabilityFacts", summary="Record payment-liability facts",
                  description="Whether the patient refused the offered services, or region-funded outpatient "
                              "services are missing; both stop the municipality's liability."),
    command_route("home-readiness", s.HomeReadinessInput,
                  lambda c, d: cmd.UpdateHomeReadiness(case_id=c, expected_version=_v(d), readiness=HomeReadiness(
                      medicines_secured=d.medicines_secured, aids_in_place=d.aids_in_place,
                      patient_informed=d.patient_informed, next_provider_informed=d.next_provider_informed)),
                  operation_id="updateHomeReadiness", summary="Update the home-ready checklist",
                  description="Medicines secured, aids in place, patient informed, next provider informed."),
    command_route("leave", s.VersionOnly, lambda c, d: cmd.StartLeave(case_id=c, expected_version=_v(d)),
                  operation_id="startLeave", summary="Start a leave",
                  description="The patient is on leave (permission) from the ward."),
    command_route("leave-end", s.VersionOnly, lambda c, d: cmd.EndLeave(case_id=c, expected_version=_v(d)),
                  operation_id="endLeave", summary="End a leave", description="The patient is back from leave."),
    command_route("discharge-notice", s.DischargeNoticeInput,
                  lambda c, d: cmd.SendDischargeNotice(case_id=c, expected_version=_v(d),
                                                       discharged_at=d.discharged_at, information=_discharge(d)),
                  operation_id="sendDischargeNotice", summary="Send the discharge notice",
                  description="The patient has left: the ward sends the discharge notice (utskrivningsmeddelande, "
                              "information transfer), due no later than the day of discharge, with the actual "
                              "discharge time (never later than now: 400 `time_out_of_range`, reason "
                              "`discharge_time_in_future`; a planned time is the estimated discharge), where the "
                              "patient goes, contacts after discharge, a handover and the medication list "
                              "(attached, or stated as sent in the record). The case is discharged as of that time. "
                              "Invalid combinations: 422 `invalid_value` with the field and a `reason`."),
    command_route("interruption", s.InterruptInput,
                  lambda c, d: cmd.Interrupt(case_id=c, expected_version=_v(d), reason=d.reason),
                  operation_id="interruptCase", summary="Interrupt the process",
                  description="Avbrott: the patient died, moved to another hospital, moved to compulsory "
                              "outpatient care (leaves the normal track) or has no needs after all."),
    command_route("cancellation", s.VersionOnly, lambda c, d: cmd.Cancel(case_id=c, expected_version=_v(d)),
                  operation_id="cancelCase", summary="Cancel a wrongly sent case",
                  description="Felsänt meddelande: every notice on the case is void."),
    command_route("closure", s.VersionOnly, lambda c, d: cmd.Close(case_id=c, expected_version=_v(d)),
                  operation_id="closeCase", summary="Close the case",
                  description="The ward closes a discharged or interrupted case."),
]



def _edits(edits: list[tuple[PlanningField, s.PlanningFieldEdit, str]]) -> tuple[PlanningEdit, ...]:
    """The domain's edits, once each value has the type of its field: text, or a list of needs for
    `expected_needs`. A wrong type is a malformed body like any other (400 `validation_failed`, naming the value
    at `at`), not a rule of the process."""
    errors = [{"key": at, "message": message, "source": "body"} for name, data, at in edits
              if (message := s.planning_value_error(name, data.value)) is not None]
    if errors:
        raise ValidationException(detail=errors[0]["message"], extra=errors)
    return tuple(PlanningEdit(name, tuple(data.value) if isinstance(data.value, list) else data.value,
                              data.expected_revision) for name, data, _ in edits)


@post("/cases/{case_id:str}/planning/fields", operation_id="changePlanningFields",
      summary="Change fields of my unit's planning form",
      description="Set fields of your unit's planning form, each from the `expected_revision` you read (see "
                  "`revisions` in the case's `planning`), all or nothing. Guarded per field, not by the case's "
                  "version: edits of other fields, other units' forms and every other action never conflict. If "
                  "someone else changed one of the fields meanwhile: 409 `field_conflict` with `field`, "
                  "`current_value`, `current_revision` (and `conflicts`: every such field), nothing written. A "
                  "field given the value it already has is no change. Text fields take text, `expected_needs` a "
                  "list of needs; another type is 400 `validation_failed` naming `fields.<field>.value`.",
      status_code=200, responses=PROBLEMS, tags=["case actions"])
async def change_planning_fields(current_user: CurrentUser, cases: Cases, case_id: CaseId,
                                 data: s.PlanningFieldsInput, request: Request[Any, Any, Any],
                                 idempotency_key: IdempotencyHeader = None,
                                 acting_unit: ActingUnitHeader = None) -> Response[s.CaseDetail]:
    idem = IdempotencyKey.from_request(idempotency_key, "POST", request.url.path, await request.body())
    command = cmd.ChangePlanning(case_id=case_id, edits=_edits([(n, e, f"fields.{n}.value")
                                                                for n, e in data.fields.items()]))
    return _json(await cases.execute(current_user, command, acting_unit, idem))


@post("/cases/{case_id:str}/planning/fields/{field:str}", operation_id="changePlanningField",
      summary="Change one field of my unit's planning form",
      description="`{value, expected_revision}` for one field (`current_services`, `expected_needs`: a list of "
                  "needs, `aids`, `medication_handover`, `adl`, `notes`); as `changePlanningFields` (a value of "
                  "the wrong type: 400 naming `value`).",
      status_code=200, responses=PROBLEMS, tags=["case actions"])
async def change_planning_field(current_user: CurrentUser, cases: Cases, case_id: CaseId, field: PlanningField,
                                data: s.PlanningFieldEdit, request: Request[Any, Any, Any],
                                idempotency_key: IdempotencyHeader = None,
                                acting_unit: ActingUnitHeader = None) -> Response[s.CaseDetail]:
    idem = IdempotencyKey.from_request(idempotency_key, "POST", request.url.path, await request.body())
    command = cmd.ChangePlanning(case_id=case_id, edits=_edits([(field, data, "value")]))
    return _json(await cases.execute(current_user, command, acting_unit, idem))


PLANNING_ROUTES = [change_planning_fields, change_planning_field]

@get("/units/{unit_id:str}/inbox", operation_id="getInbox", summary="The inbox of a receiving unit",
     description="The cases a municipal or primary care unit receives notices on (planning, ready for discharge, "
                 "discharged), each with the notices the unit has not acknowledged yet; `unread` counts them over "
                 "the whole inbox. Cases with unread notices come first, newest notice first, then the others, "
                 "newest admission first. Pages of `limit` cases: ask for the next with `after` = the answer's "
                 "`next` (null after the last page).",
     responses=PROBLEMS, tags=["cases"])
async def get_inbox(current_user: CurrentUser, queries: Reads,
                    unit_id: Annotated[str, Parameter(max_length=64)],
                    limit: Annotated[int, Parameter(ge=1, le=200)] = 50,
                    after: Annotated[str | None, Parameter(query="after", required=False, max_length=400)] = None,
                    ) -> InboxOut:
    return await queries.inbox.inbox(current_user, unit_id, limit=limit, after=after)


@get("/units/{unit_id:str}/inbox/unread", operation_id="getInboxUnread", summary="The unread counter of an inbox",
     description="How many notices the unit has not acknowledged, over the cases in its inbox (no patient data).",
     responses=PROBLEMS, tags=["cases"])
async def get_inbox_unread(current_user: CurrentUser, queries: Reads,
                           unit_id: Annotated[str, Parameter(max_length=64)]) -> UnreadOut:
    return await queries.inbox.unread(current_user, unit_id)


@post("/patients/search", operation_id="searchPatients", summary="Find a patient among my units' cases",
      description="An exact personnummer (samordningsnummer, reserve number) or the beginning of a name, in the body "
                  "(never the URL). Answers the cases of the units you work at (or `unit_id`) whose patient matches, "
                  "open ones first, newest admission first. A person with protected identity is found only through "
                  "a unit where your assignment carries the explicit need. Every patient found is access-logged.",
      status_code=200, responses=PROBLEMS, tags=["cases"])
async def search_patients(current_user: CurrentUser, queries: Reads, data: s.PatientSearch) -> s.PatientSearchOut:
    return await queries.search.search(current_user, data)


@get("/units/{unit_id:str}/staff", operation_id="listUnitStaff", summary="Staff of my unit",
     description="The users who work with cases at one of your units: for appointing the named care contact.",
     responses=PROBLEMS, tags=["directory"])
async def list_unit_staff(current_user: CurrentUser, queries: Reads,
                          unit_id: Annotated[str, Parameter(max_length=64)]) -> list[PersonOut]:
    return await queries.staff.unit_staff(current_user, unit_id)


@get("/people", operation_id="listPeople", summary="Names of staff",
     description="Display names and titles of the given users (staff, never patients): for timelines and presence. "
                 "Only staff you work with are named: your own organisation's, and those assigned to a unit that "
                 "shares a case or a SIP plan with a unit where you work with patients. Others are left out "
                 "(as unknown ids are).",
     responses=PROBLEMS, tags=["directory"])
async def list_people(current_user: CurrentUser, queries: Reads,
                      ids: Annotated[list[str], Parameter(query="id", max_items=200)]) -> list[PersonOut]:
    return await queries.staff.people(current_user, ids)


CASE_ROUTES = [list_cases, register_case, get_case, show_case_to_viewers, *COMMAND_ROUTES, *PLANNING_ROUTES,
               get_inbox, get_inbox_unread, search_patients, list_unit_staff, list_people]
