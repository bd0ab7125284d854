"""Errors of the application layer, mapped to problem details by the API."""

from __future__ import annotations


class ApplicationError(Exception):
    """`code` names the problem for clients (the `code` of the problem details); a call may give a more specific
    one than its class's, e.g. `Conflict(..., code="username_taken")`."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if code is not None:
            self.code = code


class NotVisible(ApplicationError):
    """Not found, or not visible to this user (the two are not told apart)."""

    status = 404
    code = "not_found"


class Forbidden(ApplicationError):
    status = 403
    code = "forbidden"


class Unauthenticated(ApplicationError):
    status = 401
    code = "unauthenticated"


class Invalid(ApplicationError):
    status = 422
    code = "invalid"


class Conflict(ApplicationError):
    status = 409
    code = "conflict"


class VersionConflict(Conflict):
    """The case changed since the client read it; `current` is the case as it is now."""

    code = "version_conflict"

    def __init__(self, message: str, current: object) -> None:
        super().__init__(message, field="expected_version")
        self.current = current


class Unavailable(ApplicationError):
    """A check the request needs cannot be made now (e.g. the token deny-list's Redis does not answer)."""

    status = 503
    code = "unavailable"
