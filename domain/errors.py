"""Domain errors: every refusal of the domain carries a clear, machine-readable reason."""

from __future__ import annotations

from datetime import datetime


class DomainError(Exception):
    """Base of all domain errors. `code` is stable for clients; `field` names the offending input.

    A refusal may carry a more specific `code` than its class's (the class still says what kind of refusal it is
    and so its HTTP status), e.g. `InvalidTransition(..., code="plan_closed")`: the SIP's codes are
    `domain.sip.refusals.Refusal`. A discharge case's refusals keep their class's `code` and say why in `reason`
    (`domain.case_refusals.CaseRefusal`)."""

    code = "domain_error"

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None,
                 reason: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.reason = str(reason) if reason is not None else None
        if code is not None:
            self.code = str(code)


class InvalidTransition(DomainError):
    """The action is not allowed in the case's current state."""

    code = "invalid_transition"


class NotAllowedForPart(DomainError):
    """The acting unit's part in the case does not allow this action."""

    code = "not_allowed_for_part"


class InvalidValue(DomainError):
    """A value breaks a domain rule (e.g. a discharge time before admission)."""

    code = "invalid_value"


class OutOfRange(InvalidValue):
    """A time lies outside the window the domain finds plausible relative to now (`domain.time_limits`), or
    outside the calendar. An input error like a malformed value: the API answers 400 with the field."""

    code = "time_out_of_range"


class NotFound(DomainError):
    """A referenced thing does not exist (or is not visible)."""

    code = "not_found"


class FieldConflict(DomainError):
    """Someone else changed the field (or item) since the editor read it: nothing was written.

    Carries what the editor needs to resolve it: the current value and revision. `field` names the field (for a
    SIP: the scalar field or the list); `item_id` a SIP list item (None for a field). Edits guarded per field (a
    SIP's contents, a case's planning form) raise it instead of comparing the aggregate's version. When one edit
    touched several fields, `conflicts` lists every field that clashed (this one first).
    """

    code = "field_conflict"

    def __init__(self, message: str, *, field: str, item_id: str | None, current_value: object,
                 current_revision: int, conflicts: tuple[FieldConflict, ...] = ()) -> None:
        super().__init__(message, field=field)
        self.item_id = item_id
        self.current_value = current_value
        self.current_revision = current_revision
        self.conflicts = conflicts


def require_aware(value: datetime, field_name: str) -> None:
    """A time from outside must say its time zone (a naive time is ambiguous across summer and winter time)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidValue("the time must include a time zone", field=field_name)
