"""The contents of a SIP: per-field revisions, list items with stable ids, and the diff between two contents.

`PlanContents` is immutable: every edit builds a new one, so an agreed version is simply the contents object
kept as it was (no copying, no aliasing).

- A **scalar field** (`PlanField`) is a `Revised` value: the value, its own revision (0 = never set) and who
  changed it last.
- A **list** (`ItemList`) holds `Item`s. Each item has a stable id, its own revision (1 when added) and a
  content object of the list's type (`NeedContent`, `ServiceContent`, `MeasureContent`, `GoalContent`).

The four statutory contents (HSL 16 kap. 4 §, SoL 2 kap. 7 §) map to: `needs` (1, which services are needed),
`services` (2, what each principal does: principal, responsible unit, contact person, time), `measures` (3,
what others do: Försäkringskassan, school, next of kin...) and the field `overall_responsibility` (4, the id
of the principal with the overall responsibility). Good practice adds `goals` ("vad är viktigt för dig"),
`own_contribution` (what the person does themselves) and `next_follow_up_on`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Generic, TypeVar

from domain.errors import DomainError, InvalidValue
from domain.errors import FieldConflict as FieldConflict  # raised by SIP edits; defined with the other errors
from domain.sip.refusals import Refusal

T = TypeVar("T")
C = TypeVar("C")

MAX_TEXT = 4000  # characters in one free-text value (a description, the own contribution...)
MAX_SHORT_TEXT = 200  # characters in a short value (a contact person, "when", "by whom")


class PlanField(StrEnum):
    """The scalar fields of a plan; each carries its own revision."""

    OWN_CONTRIBUTION = "own_contribution"  # str: what the person does themselves
    OVERALL_RESPONSIBILITY = "overall_responsibility"  # str | None: the principal id (statutory content 4)
    NEXT_FOLLOW_UP_ON = "next_follow_up_on"  # date | None: the date of the next follow-up


class ItemList(StrEnum):
    """The lists of a plan; each item carries its own id and revision."""

    NEEDS = "needs"  # statutory content 1
    SERVICES = "services"  # statutory content 2
    MEASURES = "measures"  # statutory content 3
    GOALS = "goals"  # "vad är viktigt för dig"


@dataclass(frozen=True)
class NeedContent:
    """A need for services or support (statutory content 1)."""

    description: str


@dataclass(frozen=True)
class ServiceContent:
    """A service (*insats*) one principal is responsible for (statutory content 2).

    `principal_id` and `responsible_unit_id` may be left empty while drafting; a version cannot be agreed until
    every service names both. When the responsible unit takes part in the plan, its principal is filled in.
    """

    description: str
    principal_id: str | None = None
    responsible_unit_id: str | None = None
    contact_person: str = ""
    when: str = ""  # e.g. "från 1 april, morgon och kväll"


@dataclass(frozen=True)
class MeasureContent:
    """A measure taken by someone other than the region or a municipality (statutory content 3)."""

    description: str
    by_whom: str  # e.g. "Försäkringskassan", "skolan", "dottern"
    participant_id: str | None = None  # the named participant who does it, when they take part in the plan
    when: str = ""


@dataclass(frozen=True)
class GoalContent:
    """Something that matters to the person ("vad är viktigt för dig")."""

    description: str


ItemContent = NeedContent | ServiceContent | MeasureContent | GoalContent
FieldValue = str | date | None

CONTENT_TYPES: dict[ItemList, type[Any]] = {
    ItemList.NEEDS: NeedContent,
    ItemList.SERVICES: ServiceContent,
    ItemList.MEASURES: MeasureContent,
    ItemList.GOALS: GoalContent,
}


@dataclass(frozen=True)
class Revised(Generic[T]):
    """A scalar field's value with its own revision and its last change."""

    value: T
    revision: int = 0
    changed_at: datetime | None = None
    changed_by_user_id: str | None = None
    changed_by_unit_id: str | None = None


@dataclass(frozen=True)
class Item(Generic[C]):
    """One list item: a stable id, its own revision and its content."""

    id: str
    content: C
    revision: int
    changed_at: datetime
    changed_by_user_id: str
    changed_by_unit_id: str


@dataclass(frozen=True)
class PlanContents:
    """Everything the parties agree on. Immutable: edits build a new instance."""

    needs: tuple[Item[NeedContent], ...] = ()
    services: tuple[Item[ServiceContent], ...] = ()
    measures: tuple[Item[MeasureContent], ...] = ()
    goals: tuple[Item[GoalContent], ...] = ()
    own_contribution: Revised[str] = Revised("")
    overall_responsibility: Revised[str | None] = Revised(None)
    next_follow_up_on: Revised[date | None] = Revised(None)

    def field(self, name: PlanField) -> Revised[Any]:
        value: Revised[Any] = getattr(self, name.value)
        return value

    def items(self, name: ItemList) -> tuple[Item[Any], ...]:
        value: tuple[Item[Any], ...] = getattr(self, name.value)
        return value

    def item(self, name: ItemList, item_id: str) -> Item[Any] | None:
        return next((i for i in self.items(name) if i.id == item_id), None)

    def with_field(self, name: PlanField, value: Revised[Any]) -> PlanContents:
        changes: dict[str, Any] = {name.value: value}
        return replace(self, **changes)

    def with_items(self, name: ItemList, items: tuple[Item[Any], ...]) -> PlanContents:
        changes: dict[str, Any] = {name.value: items}
        return replace(self, **changes)


# ----- errors ---------------------------------------------------------------------------------------------------


class ContentChanged(DomainError):
    """An approval named a content revision that is no longer the current one: read the plan again."""

    code = "content_changed"

    def __init__(self, message: str, *, current_revision: int) -> None:
        super().__init__(message, field="content_revision")
        self.current_revision = current_revision


# ----- validation -----------------------------------------------------------------------------------------------


def clean_text(value: object, field_name: str, *, required: bool = False, limit: int = MAX_TEXT) -> str:
    if not isinstance(value, str):
        raise InvalidValue("the value must be text", field=field_name, code=Refusal.NOT_TEXT)
    text = value.strip()
    if required and not text:
        raise InvalidValue("the text must not be empty", field=field_name, code=Refusal.TEXT_REQUIRED)
    if len(text) > limit:
        raise InvalidValue(f"the text is longer than {limit} characters", field=field_name,
                           code=Refusal.TEXT_TOO_LONG)
    return text


def clean_optional_id(value: str | None, field_name: str) -> str | None:
    if value is None:
        return None
    text = clean_text(value, field_name, limit=MAX_SHORT_TEXT)
    return text or None


def clean_content(name: ItemList, content: object) -> ItemContent:
    """Check that `content` fits list `name` and normalise its text (trimmed, within limits)."""
    expected = CONTENT_TYPES[name]
    if not isinstance(content, expected):
        raise InvalidValue(f"an item of {name} must be a {expected.__name__}", field=name.value,
                           code=Refusal.WRONG_ITEM_TYPE)
    where = name.value
    if isinstance(content, NeedContent):
        return NeedContent(clean_text(content.description, f"{where}.description", required=True))
    if isinstance(content, GoalContent):
        return GoalContent(clean_text(content.description, f"{where}.description", required=True))
    if isinstance(content, ServiceContent):
        return ServiceContent(
            description=clean_text(content.description, f"{where}.description", required=True),
            principal_id=clean_optional_id(content.principal_id, f"{where}.principal_id"),
            responsible_unit_id=clean_optional_id(content.responsible_unit_id, f"{where}.responsible_unit_id"),
            contact_person=clean_text(content.contact_person, f"{where}.contact_person", limit=MAX_SHORT_TEXT),
            when=clean_text(content.when, f"{where}.when", limit=MAX_SHORT_TEXT))
    assert isinstance(content, MeasureContent)
    return MeasureContent(
        description=clean_text(content.description, f"{where}.description", required=True),
        by_whom=clean_text(content.by_whom, f"{where}.by_whom", required=True, limit=MAX_SHORT_TEXT),
        participant_id=clean_optional_id(content.participant_id, f"{where}.participant_id"),
        when=clean_text(content.when, f"{where}.when", limit=MAX_SHORT_TEXT))


# ----- diff -----------------------------------------------------------------------------------------------------


class ChangeKind(StrEnum):
    ADDED = "added"
    REMOVED = "removed"
    CHANGED = "changed"


@dataclass(frozen=True)
class FieldChange:
    field: PlanField
    before: FieldValue
    after: FieldValue


@dataclass(frozen=True)
class ItemChange:
    list_name: ItemList
    item_id: str
    kind: ChangeKind
    before: ItemContent | None  # None when added
    after: ItemContent | None  # None when removed


@dataclass(frozen=True)
class PlanDiff:
    """What differs between two contents, by value: revisions and who-changed-when are not compared.

    An item edited and edited back shows no change; a removed item shows as removed even if an item with the
    same text was added (ids are the identity of items).
    """

    fields: tuple[FieldChange, ...] = ()
    items: tuple[ItemChange, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.fields and not self.items

    def changed_fields(self) -> frozenset[PlanField]:
        return frozenset(c.field for c in self.fields)


def diff_contents(old: PlanContents, new: PlanContents) -> PlanDiff:
    """Field changes in `PlanField` order; item changes per list, removed items first (in old order), then
    added and changed items in new order."""
    field_changes = tuple(FieldChange(f, old.field(f).value, new.field(f).value)
                          for f in PlanField if old.field(f).value != new.field(f).value)
    item_changes: list[ItemChange] = []
    for name in ItemList:
        before = {i.id: i.content for i in old.items(name)}
        after = {i.id: i.content for i in new.items(name)}
        item_changes += [ItemChange(name, i, ChangeKind.REMOVED, c, None) for i, c in before.items() if i not in after]
        for item_id, content in after.items():
            if item_id not in before:
                item_changes.append(ItemChange(name, item_id, ChangeKind.ADDED, None, content))
            elif before[item_id] != content:
                item_changes.append(ItemChange(name, item_id, ChangeKind.CHANGED, before[item_id], content))
    return PlanDiff(field_changes, tuple(item_changes))


def same_contents(a: PlanContents, b: PlanContents) -> bool:
    """Equal by value (ignoring revisions and change metadata): the diff is empty."""
    return diff_contents(a, b).empty
