"""Every error as RFC 9457 problem details (application/problem+json), with the failing field named."""

from __future__ import annotations

import logging
import re
import traceback
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, SerializationException, ValidationException

from domain.errors import DomainError, FieldConflict, NotAllowedForPart, NotFound, OutOfRange
from domain.sip import ContentChanged, MissingContents
from server.errors import ApplicationError, VersionConflict
from server.schemas.cases import FieldError, Problem

log = logging.getLogger("samplan.api")
MEDIA_TYPE = "application/problem+json"
TITLES = {400: "Bad request", 401: "Not authenticated", 403: "Forbidden", 404: "Not found", 405: "Method not allowed",
          409: "Conflict", 413: "Request too large", 415: "Unsupported media type", 422: "Unprocessable content",
          429: "Too many requests", 500: "Internal server error", 503: "Service unavailable"}


def problem(status: int, detail: str, code: str, errors: list[FieldError] | None = None,
            extra: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> Response[bytes]:
    body = msgspec.to_builtins(Problem(title=TITLES.get(status, "Error"), status=status, detail=detail, code=code,
                                       errors=errors or []))
    if extra:
        body.update(extra)
    return Response(msgspec.json.encode(body), status_code=status, media_type=MEDIA_TYPE, headers=headers)


def _field_errors(field: str | None, message: str) -> list[FieldError]:
    return [FieldError(field, message)] if field else []


def application_error(_: Request[Any, Any, Any], exc: ApplicationError) -> Response[bytes]:
    extra = None
    if isinstance(exc, VersionConflict):
        extra = {"current": msgspec.to_builtins(exc.current)}
    headers = {"WWW-Authenticate": 'Bearer realm="samplan"'} if exc.status == 401 else None
    return problem(exc.status, exc.message, exc.code, _field_errors(exc.field, exc.message), extra, headers)


def domain_error(_: Request[Any, Any, Any], exc: DomainError) -> Response[bytes]:
    errors = _field_errors(exc.field, exc.message)
    if isinstance(exc, FieldConflict):  # someone else changed the field or item (SIP, planning); show it as it is now
        extra: dict[str, Any] = {
            "field": exc.field, "item_id": exc.item_id, "current_value": msgspec.to_builtins(exc.current_value),
            "current_revision": exc.current_revision}
        if exc.conflicts:  # an edit of several fields: every field that clashed
            extra["conflicts"] = [{"field": c.field, "current_value": msgspec.to_builtins(c.current_value),
                                   "current_revision": c.current_revision} for c in exc.conflicts]
        return problem(409, exc.message, exc.code, errors, extra)
    if isinstance(exc, ContentChanged):
        return problem(409, exc.message, exc.code, errors, {"current_revision": exc.current_revision})
    if isinstance(exc, MissingContents):
        return problem(422, exc.message, exc.code, errors, {"missing": [str(m) for m in exc.missing]})
    # A time outside its plausible window (domain.time_limits) is bad input, like a malformed one: 400.
    status = (403 if isinstance(exc, NotAllowedForPart) else 404 if isinstance(exc, NotFound)
              else 400 if isinstance(exc, OutOfRange) else 422)
    reason = {"reason": exc.reason} if exc.reason else None  # why a case action is refused (`CaseRefusal`)
    return problem(status, exc.message, exc.code, _field_errors(exc.field, exc.message), reason)


_AT = re.compile(r" - at `\$\.?([^`]*)`")
# msgspec names a missing or unknown field in the message, at the path of the object that holds it.
_NAMED_FIELD = re.compile(r"(?:missing required field|unknown field) `([^`]+)`")


def _sent_name(request: Request[Any, Any, Any], key: str) -> str:
    """A handler parameter as the client names it: its query, header or cookie key (`states` is sent as `state`)."""
    signature = getattr(request.scope.get("route_handler"), "parsed_fn_signature", None)
    parameter = signature.parameters.get(key) if signature is not None else None
    definition = getattr(parameter, "kwarg_definition", None)
    alias = next((getattr(definition, a, None) for a in ("query", "header", "cookie") if getattr(definition, a, None)),
                 None)
    return str(alias) if alias else key


def validation_error(request: Request[Any, Any, Any], exc: ValidationException) -> Response[bytes]:
    errors = []
    for item in exc.extra if isinstance(exc.extra, list) else []:
        if not isinstance(item, dict):
            continue
        message = str(item.get("message", "invalid value"))
        key = item.get("key")
        match = _AT.search(message)
        field = match.group(1) if match else (str(key) if key else "")
        if key and message == repr(key):  # Litestar reports a missing body or parameter as its KeyError
            message = "a JSON body is required" if key == "data" else "this field is required"
        if field and item.get("source") != "body":
            field = _sent_name(request, field)
        if field == "data":  # the request body as a whole
            field = ""
        if named := _NAMED_FIELD.search(message):
            field = f"{field}.{named.group(1)}" if field else named.group(1)
        errors.append(FieldError(field or "body", _AT.sub("", message)))
    detail = errors[0].message if len(errors) == 1 else "the request is not valid"
    if not errors:
        detail = str(exc.detail)
    return problem(400, detail, "validation_failed", errors)


def http_error(_: Request[Any, Any, Any], exc: HTTPException) -> Response[bytes]:
    if exc.status_code == 400 and isinstance(exc.__cause__, SerializationException):  # the body is not JSON
        return problem(400, str(exc.detail), "validation_failed", [FieldError("body", str(exc.detail))])
    return problem(exc.status_code, str(exc.detail), "http_error", headers=exc.headers)


def unexpected_error(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    # The exception's message is left out: database errors quote the statement's parameters (personal data).
    handler = getattr(request.scope.get("route_handler"), "operation_id", None) or "unknown"
    log.error("unhandled error in %s: %s", handler, type(exc).__name__,
              extra={"traceback": "".join(traceback.format_tb(exc.__traceback__))})
    return problem(500, "something went wrong on our side; nothing was changed", "internal_error")


EXCEPTION_HANDLERS: dict[type[Exception] | int, Any] = {
    ApplicationError: application_error,
    DomainError: domain_error,
    ValidationException: validation_error,
    HTTPException: http_error,
    Exception: unexpected_error,
}
