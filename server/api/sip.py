"""Routes of SIP plans (`/api/v1/sip-plans`): start, read, list, per-field and per-item edits, structural
commands, agreed versions with their diff, and exports (PDF, FHIR R4 CarePlan).

Controllers only parse, build one command and call one use case (`server.services.sip`). Content edits are
guarded by the field's or item's revision (409 `field_conflict` with the current value and revision);
structural commands by the plan's version (409 `version_conflict` with the current plan). (No `from __future__
import annotations` here: the command routes are built by a factory and Litestar reads their annotations.)
"""

from collections.abc import Callable
from datetime import date
from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.handlers import HTTPRouteHandler
from litestar.params import Parameter

from domain.organisation import PrincipalKind
from domain.sip import (
    GoalContent,
    ItemContent,
    ItemList,
    MeasureContent,
    NeedContent,
    PlanField,
    PlanState,
    Refusal,
    ServiceContent,
    UnitRef,
)
from domain.sip import commands as cmd
from domain.sip.contents import FieldValue
from server.api.cases import ActingUnitHeader, IdempotencyHeader
from server.api.dependencies import Sip
from server.api.openapi import PROBLEMS
from server.errors import Invalid
from server.exports.sip_fhir import FHIR_MEDIA_TYPE, render_fhir
from server.exports.sip_pdf import render_pdf
from server.idempotency import CommandResult, IdempotencyKey
from server.principal import CurrentUser
from server.schemas.sip import (
    AddItemInput,
    AddNamedParticipantInput,
    AddUnitInput,
    AnswerInvitationInput,
    ApproveInput,
    ChangeItemInput,
    ClosePlanInput,
    CreateSipPlan,
    FieldEditInput,
    FollowUpInput,
    GiveConsentInput,
    HandOverInput,
    ItemContentInput,
    PlanVersionOnly,
    RemoveItemInput,
    RemoveParticipantInput,
    RescheduleMeetingInput,
    ScheduleMeetingInput,
    SipDiffOut,
    SipPlanDetail,
    SipPlanPage,
    VersionOut,
    WithdrawConsentInput,
)

PlanId = Annotated[str, Parameter(max_length=64, description="The plan id.")]
VersionNumber = Annotated[int, Parameter(ge=1, le=100_000, description="An agreed version's number (from 1).")]
TAGS = ["sip"]
ACTION_TAGS = ["sip actions"]


def _json(result: CommandResult) -> Response[SipPlanDetail]:
    return Response(result.body, status_code=result.status, media_type="application/json")  # type: ignore[arg-type]


async def _idem(request: Request[Any, Any, Any], key: str | None) -> IdempotencyKey | None:
    return IdempotencyKey.from_request(key, "POST", request.url.path, await request.body())


# ----- start, read, list ---------------------------------------------------------------------------------------

@post("/sip-plans", operation_id="createSipPlan", summary="Start a SIP",
      description="Anyone who sees the need starts a plan at their unit (the owner), with the units they expect. "
                  "With `case_id` the plan is opened from the discharge case (after the SIP invitation step; the "
                  "case then has a SIP, and the plan's first meeting invitation is the case's SIP invitation). "
                  "Without it, give the person. The plan is the owner's draft until the person's consent names "
                  "the other units.",
      status_code=201, responses=PROBLEMS, tags=TAGS)
async def create_sip_plan(current_user: CurrentUser, sip: Sip, data: CreateSipPlan,
                          request: Request[Any, Any, Any],
                          idempotency_key: IdempotencyHeader = None) -> Response[SipPlanDetail]:
    return _json(await sip.create(current_user, data, await _idem(request, idempotency_key)))


@get("/sip-plans", operation_id="listSipPlans", summary="List the SIPs of my units",
     description="The plans the units you work at (or one of them) see, soonest follow-up first. Filter by state "
                 "and by a follow-up date on or before a day, or ask for the plan opened from one discharge case "
                 "(`case_id`); page with limit and offset.",
     responses=PROBLEMS, tags=TAGS)
async def list_sip_plans(
    current_user: CurrentUser, sip: Sip,
    unit_id: Annotated[str | None, Parameter(query="unit_id", required=False, max_length=64)] = None,
    states: Annotated[list[PlanState] | None, Parameter(query="state", required=False)] = None,
    follow_up_before: Annotated[date | None, Parameter(query="follow_up_before", required=False)] = None,
    case_id: Annotated[str | None, Parameter(query="case_id", required=False, max_length=64)] = None,
    limit: Annotated[int, Parameter(ge=1, le=500)] = 100,
    offset: Annotated[int, Parameter(ge=0, le=1_000_000)] = 0,
) -> SipPlanPage:
    return await sip.list_plans(current_user, unit_id=unit_id, states=states, follow_up_before=follow_up_before,
                                limit=limit, offset=offset, case_id=case_id)


@get("/sip-plans/{plan_id:str}", operation_id="getSipPlan", summary="Read one SIP",
     description="The whole plan: participants, consent, contents with each field's and item's revision, "
                 "approvals, what is missing for agreement, agreed versions, meetings, follow-ups, deadlines. "
                 "Every read is written to the access log.",
     responses=PROBLEMS, tags=TAGS)
async def get_sip_plan(current_user: CurrentUser, sip: Sip, plan_id: PlanId,
                       acting_unit: ActingUnitHeader = None) -> SipPlanDetail:
    return await sip.get(current_user, plan_id, acting_unit)


@get("/sip-plans/{plan_id:str}/versions", operation_id="listSipVersions", summary="The agreed versions",
     description="Every agreed version of the plan with its contents and approvals, oldest first.",
     responses=PROBLEMS, tags=TAGS)
async def list_sip_versions(current_user: CurrentUser, sip: Sip, plan_id: PlanId,
                            acting_unit: ActingUnitHeader = None) -> list[VersionOut]:
    return await sip.versions(current_user, plan_id, acting_unit)


@get("/sip-plans/{plan_id:str}/diff", operation_id="diffSipVersions", summary="What changed between versions",
     description="The changes from agreed version `from` to agreed version `to` (or, without `to`, to the "
                 "working contents): fields with before and after, items added, changed or removed.",
     responses=PROBLEMS, tags=TAGS)
async def diff_sip_versions(
    current_user: CurrentUser, sip: Sip, plan_id: PlanId,
    from_version: Annotated[int, Parameter(query="from", ge=1, le=100_000)],
    to_version: Annotated[int | None, Parameter(query="to", required=False, ge=1, le=100_000)] = None,
    acting_unit: ActingUnitHeader = None,
) -> SipDiffOut:
    return await sip.diff(current_user, plan_id, from_version, to_version, acting_unit)


@get("/sip-plans/{plan_id:str}/versions/{number:int}/pdf", operation_id="exportSipPdf",
     summary="An agreed version as PDF", media_type="application/pdf",
     description="The agreed version as a PDF in Swedish: for the person, and printed as the fallback routine "
                 "when the system is unavailable. An export is a read of patient data (access-logged).",
     responses=PROBLEMS, tags=TAGS)
async def export_sip_pdf(current_user: CurrentUser, sip: Sip, plan_id: PlanId, number: VersionNumber,
                         acting_unit: ActingUnitHeader = None) -> Response[bytes]:
    content = await sip.export(current_user, plan_id, number, acting_unit, render_pdf,
                                                "export_sip_pdf")
    return Response(content, media_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="sip-{number}.pdf"'})


@get("/sip-plans/{plan_id:str}/versions/{number:int}/fhir", operation_id="exportSipFhir",
     summary="An agreed version as FHIR R4 CarePlan", media_type=FHIR_MEDIA_TYPE,
     description="The agreed version as an HL7 FHIR R4 `CarePlan` with contained `CareTeam` (the units taking "
                 "part) and `Consent`. An export is a read of patient data (access-logged).",
     responses=PROBLEMS, tags=TAGS)
async def export_sip_fhir(current_user: CurrentUser, sip: Sip, plan_id: PlanId, number: VersionNumber,
                          acting_unit: ActingUnitHeader = None) -> Response[bytes]:
    content = await sip.export(current_user, plan_id, number, acting_unit, render_fhir,
                                                "export_sip_fhir")
    return Response(content, media_type=FHIR_MEDIA_TYPE)


# ----- commands --------------------------------------------------------------------------------------------------

MeetingId = Annotated[str, Parameter(max_length=64, description="The meeting id.")]
ItemId = Annotated[str, Parameter(max_length=64, description="The item id.")]


async def _run(current_user: CurrentUser, sip: Sip, command: cmd.SipCommand, request: Request[Any, Any, Any],
               idempotency_key: str | None, acting_unit: str | None) -> Response[SipPlanDetail]:
    return _json(await sip.execute(current_user, command, acting_unit,
                                                    await _idem(request, idempotency_key)))


def sip_route(path: str, body: type[Any], build: Callable[..., cmd.SipCommand], *, operation_id: str, summary: str,
              description: str) -> HTTPRouteHandler:
    """One POST route that turns its body (and the meeting id in its path, if any) into a command; answers with
    the plan."""
    if "{meeting_id:str}" in path:
        async def handler(current_user: CurrentUser, sip: Sip, plan_id: PlanId, meeting_id: MeetingId,
                          data: Any, request: Request[Any, Any, Any], idempotency_key: IdempotencyHeader = None,
                          acting_unit: ActingUnitHeader = None) -> Response[SipPlanDetail]:
            return await _run(current_user, sip, build(plan_id, data, meeting_id), request, idempotency_key,
                              acting_unit)
    else:
        async def handler(current_user: CurrentUser, sip: Sip, plan_id: PlanId,  # type: ignore[misc]
                          data: Any, request: Request[Any, Any, Any], idempotency_key: IdempotencyHeader = None,
                          acting_unit: ActingUnitHeader = None) -> Response[SipPlanDetail]:
            return await _run(current_user, sip, build(plan_id, data), request, idempotency_key, acting_unit)

    handler.__annotations__["data"] = body
    handler.__name__ = operation_id
    return post(f"/sip-plans/{{plan_id:str}}/{path}", operation_id=operation_id, summary=summary,
                description=description, status_code=200, responses=PROBLEMS, tags=ACTION_TAGS)(handler)


def field_value(name: PlanField, value: str | None) -> FieldValue:
    if name is PlanField.NEXT_FOLLOW_UP_ON and value is not None:
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise Invalid("the follow-up is a date (YYYY-MM-DD)", field="value",
                          code=Refusal.FOLLOW_UP_NOT_A_DATE) from None
    if name is PlanField.OWN_CONTRIBUTION:
        return value or ""
    return value


def item_content(name: ItemList, data: ItemContentInput) -> ItemContent:
    """The content of an item of list `name`; fields that belong to other lists are refused."""
    allowed = {ItemList.NEEDS: set(), ItemList.GOALS: set(),
               ItemList.SERVICES: {"principal_id", "responsible_unit_id", "contact_person", "when"},
               ItemList.MEASURES: {"by_whom", "participant_id", "when"}}[name]
    for extra in ("principal_id", "responsible_unit_id", "contact_person", "when", "by_whom", "participant_id"):
        if extra not in allowed and getattr(data, extra):
            raise Invalid(f"{extra} is not a field of {name}", field=f"content.{extra}", code="not_a_field_of_list")
    if name is ItemList.NEEDS:
        return NeedContent(data.description)
    if name is ItemList.GOALS:
        return GoalContent(data.description)
    if name is ItemList.SERVICES:
        return ServiceContent(data.description, principal_id=data.principal_id,
                              responsible_unit_id=data.responsible_unit_id, contact_person=data.contact_person,
                              when=data.when)
    return MeasureContent(data.description, by_whom=data.by_whom, participant_id=data.participant_id, when=data.when)


@post("/sip-plans/{plan_id:str}/fields/{field:str}", operation_id="changeSipField", summary="Edit one field",
      description="Set a field (`own_contribution`, `overall_responsibility`: a principal id, `next_follow_up_on`: "
                  "an ISO date) from the revision you read. If someone else changed it meanwhile: 409 "
                  "`field_conflict` with `current_value` and `current_revision`, nothing written. Edits of other "
                  "fields and items never conflict.",
      status_code=200, responses=PROBLEMS, tags=ACTION_TAGS)
async def change_sip_field(current_user: CurrentUser, sip: Sip, plan_id: PlanId, field: PlanField,
                           data: FieldEditInput, request: Request[Any, Any, Any],
                           idempotency_key: IdempotencyHeader = None,
                           acting_unit: ActingUnitHeader = None) -> Response[SipPlanDetail]:
    command = cmd.ChangeSipField(plan_id=plan_id, field=field, value=field_value(field, data.value),
                                 expected_revision=data.expected_revision)
    return await _run(current_user, sip, command, request, idempotency_key, acting_unit)


@post("/sip-plans/{plan_id:str}/items/{list_name:str}", operation_id="addSipItem", summary="Add an item",
      description="Add an item to `needs`, `services`, `measures` or `goals`. Adding never conflicts; a "
                  "client-chosen `item_id` lets a retry find its item.",
      status_code=200, responses=PROBLEMS, tags=ACTION_TAGS)
async def add_sip_item(current_user: CurrentUser, sip: Sip, plan_id: PlanId, list_name: ItemList,
                       data: AddItemInput, request: Request[Any, Any, Any], idempotency_key: IdempotencyHeader = None,
                       acting_unit: ActingUnitHeader = None) -> Response[SipPlanDetail]:
    command = cmd.AddSipItem(plan_id=plan_id, list_name=list_name, content=item_content(list_name, data.content),
                             item_id=data.item_id)
    return await _run(current_user, sip, command, request, idempotency_key, acting_unit)


@post("/sip-plans/{plan_id:str}/items/{list_name:str}/{item_id:str}", operation_id="changeSipItem",
      summary="Change an item",
      description="Replace the item's content from the revision you read (409 `field_conflict` with the current "
                  "content and revision if someone changed it meanwhile).",
      status_code=200, responses=PROBLEMS, tags=ACTION_TAGS)
async def change_sip_item(current_user: CurrentUser, sip: Sip, plan_id: PlanId, list_name: ItemList,
                          item_id: ItemId, data: ChangeItemInput, request: Request[Any, Any, Any],
                          idempotency_key: IdempotencyHeader = None,
                          acting_unit: ActingUnitHeader = None) -> Response[SipPlanDetail]:
    command = cmd.ChangeSipItem(plan_id=plan_id, list_name=list_name, item_id=item_id,
                                content=item_content(list_name, data.content), expected_revision=data.expected_revision)
    return await _run(current_user, sip, command, request, idempotency_key, acting_unit)


@post("/sip-plans/{plan_id:str}/items/{list_name:str}/{item_id:str}/removal", operation_id="removeSipItem",
      summary="Remove an item", description="Remove the item, if it is still at the revision you read.",
      status_code=200, responses=PROBLEMS, tags=ACTION_TAGS)
async def remove_sip_item(current_user: CurrentUser, sip: Sip, plan_id: PlanId, list_name: ItemList,
                          item_id: ItemId, data: RemoveItemInput, request: Request[Any, Any, Any],
                          idempotency_key: IdempotencyHeader = None,
                          acting_unit: ActingUnitHeader = None) -> Response[SipPlanDetail]:
    command = cmd.RemoveSipItem(plan_id=plan_id, list_name=list_name, item_id=item_id,
                                expected_revision=data.expected_revision)
    return await _run(current_user, sip, command, request, idempotency_key, acting_unit)


def _unit(unit_id: str) -> UnitRef:
    return UnitRef(unit_id, "", PrincipalKind.REGION)  # the service resolves the principal from the tree


STRUCTURE_ROUTES = [
    sip_route("units", AddUnitInput,
              lambda p, d: cmd.AddSipUnit(plan_id=p, expected_version=d.expected_version, unit=_unit(d.unit_id)),
              operation_id="addSipUnit", summary="Add a unit",
              description="The unit takes part for its principal; it sees the plan once the consent names it."),
    sip_route("named-participants", AddNamedParticipantInput,
              lambda p, d: cmd.AddSipNamedParticipant(plan_id=p, expected_version=d.expected_version, kind=d.kind,
                                                      name=d.name, organisation=d.organisation, role=d.role,
                                                      participant_id=d.participant_id),
              operation_id="addSipNamedParticipant", summary="Add next of kin or another actor",
              description="Next of kin (if the person does not object), a legal representative or another actor."),
    sip_route("participant-removal", RemoveParticipantInput,
              lambda p, d: cmd.RemoveSipParticipant(plan_id=p, expected_version=d.expected_version,
                                                    participant_id=d.participant_id),
              operation_id="removeSipParticipant", summary="Remove a participant",
              description="A unit (never the owner) or a named participant."),
    sip_route("consent", GiveConsentInput,
              lambda p, d: cmd.GiveSipConsent(plan_id=p, expected_version=d.expected_version, given_by=d.given_by,
                                              form=d.form, scope_unit_ids=tuple(d.scope_unit_ids),
                                              given_at=d.given_at,
                                              next_of_kin_may_take_part=d.next_of_kin_may_take_part,
                                              patient_portal=d.patient_portal),
              operation_id="giveSipConsent", summary="Record the person's consent",
              description="Who gave it, when, how and its scope: the units it names see the plan."),
    sip_route("consent-withdrawal", WithdrawConsentInput,
              lambda p, d: cmd.WithdrawSipConsent(plan_id=p, withdrawn_at=d.withdrawn_at),
              operation_id="withdrawSipConsent", summary="Record a withdrawal of consent",
              description="Sharing ends: every unit but the owner loses sight of the plan (they are told by "
                          "`SipConsentWithdrawn` and hear nothing after), upcoming meetings are cancelled."),
    sip_route("meetings", ScheduleMeetingInput,
              lambda p, d: cmd.ScheduleSipMeeting(
                  plan_id=p, starts_at=d.starts_at, ends_at=d.ends_at, place=d.place, video_link=d.video_link,
                  invite_unit_ids=tuple(d.invite_unit_ids) if d.invite_unit_ids is not None else None,
                  invite_person=d.invite_person,
                  invite_participant_ids=tuple(d.invite_participant_ids) if d.invite_participant_ids is not None
                  else None, meeting_id=d.meeting_id),
              operation_id="scheduleSipMeeting", summary="Schedule a meeting (kallelse)",
              description="Sends the invitations. The plan's first invitation of a plan opened from a case is the "
                          "case's SIP invitation, recorded on the case in the same transaction."),
    sip_route("meetings/{meeting_id:str}/rescheduling", RescheduleMeetingInput,
              lambda p, d, m: cmd.RescheduleSipMeeting(plan_id=p, expected_version=d.expected_version, meeting_id=m,
                                                       starts_at=d.starts_at, ends_at=d.ends_at, place=d.place,
                                                       video_link=d.video_link),
              operation_id="rescheduleSipMeeting", summary="Reschedule a meeting",
              description="Every answer goes back to pending."),
    sip_route("meetings/{meeting_id:str}/cancellation", PlanVersionOnly,
              lambda p, d, m: cmd.CancelSipMeeting(plan_id=p, expected_version=d.expected_version, meeting_id=m),
              operation_id="cancelSipMeeting", summary="Cancel a meeting",
              description="The meeting takes no more answers."),
    sip_route("meetings/{meeting_id:str}/answers", AnswerInvitationInput,
              lambda p, d, m: cmd.AnswerSipInvitation(plan_id=p, meeting_id=m, answer=d.answer,
                                                      invitee_kind=d.invitee_kind, invitee_ref=d.invitee_ref),
              operation_id="answerSipInvitation", summary="Answer an invitation",
              description="A unit answers for itself, or records the person's or a named participant's answer."),
    sip_route("approvals", ApproveInput,
              lambda p, d: cmd.ApproveSipVersion(plan_id=p, content_revision=d.content_revision),
              operation_id="approveSipVersion", summary="Approve the contents (justera)",
              description="Your principal approves the contents at `content_revision` (409 `content_changed` if "
                          "they changed; 422 `missing_contents` with `missing` if they cannot be agreed yet). When "
                          "every principal has approved, the contents become the next agreed version."),
    sip_route("follow-ups", FollowUpInput,
              lambda p, d: cmd.RecordSipFollowUp(plan_id=p, expected_version=d.expected_version, held_at=d.held_at,
                                                 notes=d.notes),
              operation_id="recordSipFollowUp", summary="Record the follow-up",
              description="The version in force was followed up (by the owner or the principal responsible)."),
    sip_route("closure", ClosePlanInput,
              lambda p, d: cmd.CloseSipPlan(plan_id=p, expected_version=d.expected_version, reason=d.reason),
              operation_id="closeSipPlan", summary="Close the plan",
              description="Avslut, by the owner or the principal with the overall responsibility."),
    sip_route("ownership", HandOverInput,
              lambda p, d: cmd.HandOverSipPlan(plan_id=p, expected_version=d.expected_version, to_unit_id=d.unit_id),
              operation_id="handOverSipPlan", summary="Hand the plan over to another unit",
              description="The owner unit passes the plan to another unit that takes part and sees it (one of "
                          "`hand_over_unit_ids`); that unit is the owner from now on, the former owner stays a "
                          "participant. Event `SipPlanHandedOver`."),
]

CONTENT_ROUTES = [change_sip_field, add_sip_item, change_sip_item, remove_sip_item]

SIP_ROUTES = [create_sip_plan, list_sip_plans, get_sip_plan, list_sip_versions, diff_sip_versions, export_sip_pdf,
              export_sip_fhir, *CONTENT_ROUTES, *STRUCTURE_ROUTES]
