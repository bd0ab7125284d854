"""Domain errors: every refusal of the domain carries a clear, machine-readable reason."""

from __future__ import annotations

from datetime import datetime


class DomainError(Exception):
    """Base of all domain errors. `code` is stable for clients; `field` names the offending input."""

    code = "domain_error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidTransition(DomainError):
    """The action is not allowed in the case's current state."""

    code = "invalid_transition"


class NotAllowedForPart(DomainError):
    """The acting unit's part in the case does not allow this action."""

    code = "not_allowed_for_part"


class InvalidValue(DomainError):
    """A value breaks a domain rule (e.g. a discharge time before admission)."""

    code = "invalid_value"


class NotFound(DomainError):
    """A referenced thing does not exist (or is not visible)."""

    code = "not_found"


def require_aware(value: datetime, field_name: str) -> None:
    """A time from outside must say its time zone (a naive time is ambiguous across summer and winter time)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidValue("the time must include a time zone", field=field_name)
