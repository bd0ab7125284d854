"""Read models of a SIP plan: what the API shows, with deadlines computed live and protected identity masked.

What the acting unit may do (`allowed_actions`) is the domain's rule (`SipPlan.allowed_actions`), the same one
every command checks, so a client offers exactly what would go through.

Protected identity (*skyddad identitet*): the person's name and address are masked as for a case
(`server.views.cases.patient_out`), and so are the names of next of kin taking part (they would point to the person),
unless `reveal`: the user's assignment at the acting unit carries the explicit need
(`authorization.reveals_protected_identity`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from datetime import date, datetime
from typing import Any

from domain.organisation import PrincipalKind
from domain.sip import (
    AgreedVersion,
    Approval,
    Consent,
    Item,
    ItemContent,
    NamedParticipantKind,
    PlanContents,
    PlanDiff,
    PlanField,
    Revised,
    SipAction,
    SipPlan,
    plan_deadlines,
)
from server.persistence.models import Person, PrincipalRow, UnitRow
from server.persistence.read_models import listing_follow_up
from server.schemas.cases import DeadlineOut
from server.schemas.sip import (
    ApprovalOut,
    ConsentOut,
    ContentsOut,
    FieldChangeOut,
    FieldOut,
    FollowUpOut,
    InvitationOut,
    ItemChangeOut,
    ItemContentOut,
    ItemOut,
    MeetingOut,
    NamedParticipantOut,
    ResponsiblePrincipalOut,
    SipDiffOut,
    SipPlanDetail,
    SipPlanSummary,
    SipUnitOut,
    VersionOut,
    VersionSummaryOut,
)
from server.views.cases import PROTECTED_NAME, patient_out


def field_text(value: object) -> str | None:
    """A field's value as the API shows it: text, an ISO date, or None."""
    if value is None:
        return None
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def content_out(content: ItemContent) -> ItemContentOut:
    data: dict[str, Any] = asdict(content)
    return ItemContentOut(**data)


def _field(value: Revised[Any]) -> FieldOut:
    return FieldOut(value=field_text(value.value), revision=value.revision, changed_at=value.changed_at,
                    changed_by_user_id=value.changed_by_user_id, changed_by_unit_id=value.changed_by_unit_id)


def _item(item: Item[Any]) -> ItemOut:
    return ItemOut(id=item.id, revision=item.revision, content=content_out(item.content), changed_at=item.changed_at,
                   changed_by_user_id=item.changed_by_user_id, changed_by_unit_id=item.changed_by_unit_id)


def contents_out(contents: PlanContents) -> ContentsOut:
    return ContentsOut(
        needs=[_item(i) for i in contents.needs], services=[_item(i) for i in contents.services],
        measures=[_item(i) for i in contents.measures], goals=[_item(i) for i in contents.goals],
        own_contribution=_field(contents.field(PlanField.OWN_CONTRIBUTION)),
        overall_responsibility=_field(contents.field(PlanField.OVERALL_RESPONSIBILITY)),
        next_follow_up_on=_field(contents.field(PlanField.NEXT_FOLLOW_UP_ON)))


def _approval(a: Approval) -> ApprovalOut:
    return ApprovalOut(principal_id=a.principal_id, content_revision=a.content_revision, user_id=a.user_id,
                       unit_id=a.unit_id, at=a.at)


def _consent(c: Consent) -> ConsentOut:
    return ConsentOut(id=c.id, given_by=str(c.given_by), form=str(c.form), scope_unit_ids=list(c.scope.unit_ids),
                      next_of_kin_may_take_part=c.scope.next_of_kin_may_take_part,
                      patient_portal=c.scope.patient_portal, given_at=c.given_at, recorded_at=c.recorded_at,
                      recorded_by_unit_id=c.recorded_by_unit_id, withdrawn_at=c.withdrawn_at,
                      superseded_at=c.superseded_at, active=c.active)


def version_summary(v: AgreedVersion) -> VersionSummaryOut:
    return VersionSummaryOut(number=v.number, content_revision=v.content_revision, agreed_at=v.agreed_at,
                             approvals=[_approval(a) for a in v.approvals])


def version_out(v: AgreedVersion) -> VersionOut:
    return VersionOut(number=v.number, content_revision=v.content_revision, agreed_at=v.agreed_at,
                      approvals=[_approval(a) for a in v.approvals], contents=contents_out(v.contents))


def summary(plan: SipPlan, patient: Person, now: datetime, *, reveal: bool = False) -> SipPlanSummary:
    current = plan.current_version
    return SipPlanSummary(
        id=plan.id, version=plan.version, state=str(plan.state), case_id=plan.case_id,
        owner_unit_id=plan.owner_unit_id, person=patient_out(patient, reveal=reveal), created_at=plan.created_at,
        next_follow_up_on=listing_follow_up(plan), current_version_number=current.number if current else None,
        sharing_ended=plan.sharing_ended, visible_unit_ids=list(plan.visible_unit_ids()),
        deadlines=[DeadlineOut(kind=str(d.kind), due_at=d.due_at, met_at=d.met_at, state=str(d.state))
                   for d in plan_deadlines(plan, now)])


def responsible_out(plan: SipPlan, principals: Mapping[str, PrincipalRow]) -> ResponsiblePrincipalOut | None:
    """The principal with the overall responsibility: per the version in force, else per the working contents."""
    principal_id = plan.responsible_principal_id
    if principal_id is None:
        return None
    row = principals.get(principal_id)
    kind = next((str(u.principal_kind) for u in plan.units if u.principal_id == principal_id),
                row.kind if row is not None else str(PrincipalKind.REGION))
    current = plan.current_version
    return ResponsiblePrincipalOut(id=principal_id, name=row.name if row is not None else principal_id, kind=kind,
                                   version_number=current.number if current else None)


def detail(plan: SipPlan, patient: Person, units: Mapping[str, UnitRow], now: datetime, *,
           acting_unit_id: str, principals: Mapping[str, PrincipalRow], reveal: bool = False) -> SipPlanDetail:
    """The whole plan as the acting unit sees it (`principals`: at least the one with the overall
    responsibility)."""
    base = summary(plan, patient, now, reveal=reveal)
    refusals = {action: plan.refusal(action, acting_unit_id) for action in SipAction}
    visible = set(plan.visible_unit_ids())
    protected = base.person.masked
    return SipPlanDetail(
        **{f: getattr(base, f) for f in base.__struct_fields__},
        created_by_user_id=plan.created_by_user_id, acting_unit_id=acting_unit_id,
        allowed_actions=[a for a, r in refusals.items() if r is None],
        refused_actions={str(a): r.code for a, r in refusals.items() if r is not None},
        responsible_principal=responsible_out(plan, principals),
        hand_over_unit_ids=list(plan.hand_over_unit_ids()),
        units=[SipUnitOut(unit_id=u.unit_id, unit_name=units[u.unit_id].name if u.unit_id in units else u.unit_id,
                          principal_id=u.principal_id, principal_kind=str(u.principal_kind), active=u.active,
                          sees_plan=u.active and u.unit_id in visible, added_at=u.added_at) for u in plan.units],
        named_participants=[NamedParticipantOut(
            id=p.id, kind=str(p.kind),
            name=PROTECTED_NAME if protected and p.kind is NamedParticipantKind.NEXT_OF_KIN else p.name,
            organisation=p.organisation, role=p.role, active=p.active) for p in plan.named_participants],
        consent=_consent(plan.consent) if plan.consent else None,
        consents=[_consent(c) for c in plan.consents],
        contents=contents_out(plan.contents), content_revision=plan.content_revision,
        principal_ids=list(plan.principal_ids()), approvals=[_approval(a) for a in plan.approvals.values()],
        missing_for_agreement=[str(r) for r in plan.missing_for_agreement()],
        has_unagreed_changes=plan.has_unagreed_changes,
        versions=[version_summary(v) for v in plan.versions],
        meetings=[MeetingOut(id=m.id, starts_at=m.starts_at, ends_at=m.ends_at, place=m.place, video_link=m.video_link,
                             invitations=[InvitationOut(kind=str(i.kind), ref=i.ref, answer=str(i.answer),
                                                        answered_at=i.answered_at) for i in m.invitations],
                             scheduled_at=m.scheduled_at, scheduled_by_unit_id=m.scheduled_by_unit_id,
                             rescheduled_at=m.rescheduled_at, cancelled_at=m.cancelled_at) for m in plan.meetings],
        first_invitation_sent_at=plan.first_invitation_sent_at,
        follow_ups=[FollowUpOut(id=f.id, version_number=f.version_number, held_at=f.held_at,
                                recorded_by_unit_id=f.recorded_by_unit_id, notes=f.notes) for f in plan.follow_ups],
        closed_at=plan.closed_at, close_reason=str(plan.close_reason) if plan.close_reason else None)


def diff_out(plan_id: str, from_version: int, to_version: int | None, diff: PlanDiff) -> SipDiffOut:
    return SipDiffOut(
        plan_id=plan_id, from_version=from_version, to_version=to_version,
        fields=[FieldChangeOut(field=str(c.field), before=field_text(c.before), after=field_text(c.after))
                for c in diff.fields],
        items=[ItemChangeOut(list_name=str(c.list_name), item_id=c.item_id, kind=str(c.kind),
                             before=content_out(c.before) if c.before is not None else None,
                             after=content_out(c.after) if c.after is not None else None) for c in diff.items])
