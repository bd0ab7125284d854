"""The UI's client of the REST API: httpx with the user's token; problem details become Swedish messages.

One `ApiClient` per UI process (one connection pool). Every call takes the user's bearer token and, where the
user takes part through several units, the acting unit (`X-Acting-Unit`). Answers are plain JSON objects
(`Json`); the shapes are those of `docs/api.md`. Errors raise `ApiError` with a Swedish `message` for the user,
the problem's `code`, for a stale write (409 `version_conflict`) the case as it is now in `current`, and the whole
problem body in `problem` (a 409 `field_conflict` names the field with its current value and revision there).

An API instance that dies or restarts must not show the user an error, nor apply a change twice. A call that fails
on the way (no connection, a connection cut, or the proxy's 502/503/504 when the instance it picked went away) is
sent again after a short, growing, jittered pause (`RETRY_DELAYS`, about 3 s in all) when sending it twice cannot
change anything twice: reads, PUT and DELETE, and commands with an `Idempotency-Key` (every case and SIP command
carries one; the API answers a repeated key with the first answer, docs/api.md). Other writes are sent again only
when the request cannot have left (the connection was never made).
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import Mapping
from typing import Any

import httpx

Json = dict[str, Any]
log = logging.getLogger("samplan.ui.api")

FIELD_LABELS = {
    "expected_version": "ärendets version",
    "estimated_discharge_at": "beräknad utskrivning",
    "discharged_at": "utskrivningstid",
    "destination": "vart patienten skrivs ut",
    "destination_detail": "avdelning, enhet eller plats",
    "contacts": "kontakter efter utskrivning",
    "handover": "överrapportering",
    "medication_list": "läkemedelslista",
    "medication_list_text": "läkemedelslistan",
    "to_unit_id": "mottagande enhet",
    "unit_id": "enhet",
    "contact_user_id": "fast vårdkontakt",
    "reason": "orsak",
    "X-Acting-Unit": "enhet du arbetar för",
    "notice_ids": "meddelanden",
    "current_services": "nuvarande insatser",
    "expected_needs": "förväntade behov",
    "aids": "hjälpmedel",
    "medication_handover": "läkemedelsöverlämning",
    "adl": "ADL",
    "notes": "övrigt",
    "at": "tidpunkt",
}

MESSAGES_BY_CODE = {
    "version_conflict": "Någon annan har ändrat ärendet. Här är det nya läget – det du skrev finns kvar.",
    "conflict": "Ärendet ändrades samtidigt av någon annan. Läs in det igen och försök på nytt.",
    "not_allowed_for_part": "Din enhet kan inte göra detta i ärendet.",
    "forbidden": "Du har inte behörighet att göra detta.",
    "invalid_transition": "Åtgärden går inte att göra i ärendets nuvarande läge.",
    "not_found": "Ärendet finns inte, eller så är det inte synligt för dig.",
    "unauthenticated": "Du är inte inloggad längre. Logga in igen.",
    "validation_failed": "Uppgifterna är inte fullständiga eller har fel format.",
    "field_conflict": "Någon annan har ändrat samma uppgift medan du skrev. Din text finns kvar.",
    "time_out_of_range": "Tidpunkten ligger för långt bakåt eller framåt i tiden.",
}

# Why the API refuses a case action: the problem's `reason`, also the values of a case's `refused_actions`
# (docs/api.md, "Case actions"; the domain's codes are `domain.case_refusals.CaseRefusal`).
REFUSAL_MESSAGES = {
    # the acting unit's part
    "case_not_visible": "Ärendet är inte synligt för din enhet.",
    "ward_only": "Bara vårdavdelningen kan göra detta.",
    "receiving_unit_only": "Bara kommunen och primärvården kan göra detta.",
    "primary_care_only": "Bara primärvården kan göra detta.",
    # the case's state
    "admission_notice_not_sent": "Inskrivningsmeddelandet är inte skickat än.",
    "admission_notice_already_sent": "Inskrivningsmeddelandet är redan skickat.",
    "no_receiving_unit": "Ärendet har ingen mottagande enhet. Lägg till en enhet först.",
    "already_ready_for_discharge": "Patienten är redan utskrivningsklar.",
    "not_ready_for_discharge": "Patienten är inte utskrivningsklar.",
    "already_discharged": "Patienten är redan utskriven.",
    "case_not_ended": "Ärendet kan avslutas först när patienten är utskriven eller ärendet har avbrutits.",
    "case_closed": "Ärendet är avslutat.",
    "case_interrupted": "Ärendet är avbrutet.",
    "case_cancelled": "Ärendet är makulerat.",
    "sip_invitation_already_sent": "Kallelsen till SIP är redan skickad.",
    "already_on_leave": "Patienten har redan permission.",
    "not_on_leave": "Patienten har inte permission.",
    "not_yet_discharged": "Utskrivningstiden har inte passerat än: ärendet kan avslutas när patienten har lämnat "
                          "avdelningen.",
    # the discharge notice's time and content (shown next to the field)
    "discharge_time_in_future": "Utskrivningstiden ligger i framtiden. Skicka meddelandet när patienten har lämnat "
                                "avdelningen (en planerad tid är en beräknad utskrivning).",
    "destination_detail_required": "Ange vilken avdelning, enhet eller plats patienten skrivs ut till.",
    "contact_required": "Ange minst en kontakt efter utskrivningen.",
    "medication_list_required": "Bifoga läkemedelslistan eller ange att den skickats via journalen.",
    "medication_list_text_required": "Den bifogade läkemedelslistan är tom.",
    "medication_list_in_record": "En läkemedelslista som skickats via journalen ska inte också skrivas här.",
    "not_applicable_when_deceased": "För en avliden patient anges ingen läkemedelslista och inga kontakter.",
}

MESSAGES_BY_STATUS = {
    400: "Uppgifterna är inte fullständiga eller har fel format.",
    401: "Du är inte inloggad längre. Logga in igen.",
    403: "Du har inte behörighet att göra detta.",
    404: "Ärendet finns inte, eller så är det inte synligt för dig.",
    409: "Ärendet har ändrats av någon annan.",
    422: "Åtgärden går inte att göra just nu.",
    429: "För många förfrågningar just nu. Försök igen om en stund.",
}
UNAVAILABLE = "Samplan-servern svarar inte just nu. Försök igen om en stund."

# Pauses before the 1st, 2nd, ... retry of a call that failed on the way (each jittered to 50-100 %). An instance
# killed mid-request costs one short retry (the proxy sends it to another instance); a restarting one, a few.
RETRY_DELAYS = (0.05, 0.1, 0.2, 0.4, 0.8, 1.6)
RETRY_STATUSES = frozenset({502, 503, 504})  # the proxy's answers for an instance that is gone or not ready
REPEATABLE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})  # RFC 9110 9.2.2: idempotent
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)  # the request never left


class RequestKey:
    """The `Idempotency-Key` of a form that creates something: kept across retries of the same body (a save retried
    after a lost answer replays the first answer), new when the body changed since the last try or once the API
    has answered (a key is only ever sent again with the same body)."""

    def __init__(self) -> None:
        self.key = str(uuid.uuid4())
        self.sent: Any = None  # the body last sent with `key`

    def for_body(self, body: Any) -> str:
        if self.sent is not None and body != self.sent:
            self.key = str(uuid.uuid4())  # the form changed since the last try: a new request
        self.sent = body
        return self.key

    def answered(self, error: ApiError | None = None) -> None:
        """The API answered (`error`: with a refusal); no answer at all (503) keeps the key for a replay."""
        if error is None or error.status != 503:
            self.key, self.sent = str(uuid.uuid4()), None


class ApiError(Exception):
    """A failed API call, with a message fit to show the user (Swedish)."""

    def __init__(self, status: int, code: str, message: str, *, detail: str = "", current: Json | None = None,
                 fields: tuple[str, ...] = (), problem: Mapping[str, Any] | None = None) -> None:
        super().__init__(f"{status} {code}")
        self.status = status
        self.code = code
        self.message = message
        self.detail = detail
        self.current = current
        self.fields = fields
        self.problem: Mapping[str, Any] = problem or {}

    @property
    def stale(self) -> bool:
        return self.status == 409 and self.current is not None


def problem_message(status: int, problem: Mapping[str, Any]) -> str:
    """A Swedish sentence for a problem-details body (never the server's English detail alone)."""
    code = str(problem.get("code", ""))
    message = (REFUSAL_MESSAGES.get(str(problem.get("reason"))) or MESSAGES_BY_CODE.get(code)
               or MESSAGES_BY_STATUS.get(status) or UNAVAILABLE)
    if code == "invalid" or (status == 422 and code not in MESSAGES_BY_CODE):
        names = [FIELD_LABELS.get(str(e.get("field")), "") for e in problem.get("errors", []) if isinstance(e, dict)]
        names = [n for n in names if n]
        message = "Uppgiften godtogs inte" + (f" ({', '.join(names)})." if names else ".")
    elif code == "validation_failed":
        names = [FIELD_LABELS.get(str(e.get("field")), "") for e in problem.get("errors", []) if isinstance(e, dict)]
        names = [n for n in names if n]
        if names:
            message = f"Kontrollera: {', '.join(names)}."
    elif code == "time_out_of_range":
        names = [FIELD_LABELS.get(str(e.get("field")), "") for e in problem.get("errors", []) if isinstance(e, dict)]
        names = [n for n in names if n]
        if names:
            message = f"{message[:-1]} ({', '.join(names)})."
    return message


def error_from_response(response: httpx.Response) -> ApiError:
    try:
        body = response.json()
    except ValueError:
        body = {}
    problem: Mapping[str, Any] = body if isinstance(body, dict) else {}
    current = problem.get("current")
    fields = tuple(str(e.get("field")) for e in problem.get("errors", []) if isinstance(e, dict))
    return ApiError(response.status_code, str(problem.get("code", "http_error")),
                    problem_message(response.status_code, problem), detail=str(problem.get("detail", "")),
                    current=current if isinstance(current, dict) else None, fields=fields, problem=problem)


NEXT_CURSOR = "X-Next-Cursor"  # the next page's cursor of a keyset-paged list (server/api/admin.py)


def _headers(token: str, acting_unit: str | None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {token}"}
    if acting_unit:
        headers["X-Acting-Unit"] = acting_unit
    return headers


class ApiClient:
    """Calls `/api/v1` for one user at a time (the token is an argument of every call)."""

    def __init__(self, base_url: str, *, timeout: float = 10.0,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._timeout = timeout
        self._transport = transport
        self._http: httpx.AsyncClient | None = None
        self.retries = 0  # calls sent again after a failure on the way (since the start)

    def _client(self) -> httpx.AsyncClient:
        if self._http is None or self._http.is_closed:
            limits = httpx.Limits(max_connections=100, max_keepalive_connections=50)
            self._http = httpx.AsyncClient(base_url=f"{self.base_url}/api/v1", timeout=self._timeout, limits=limits,
                                           transport=self._transport, trust_env=False)
        return self._http

    async def close(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def request(self, method: str, path: str, token: str, *, acting_unit: str | None = None,
                      params: Mapping[str, Any] | None = None, json: Any = None,
                      idempotency_key: str | None = None, safe: bool = False) -> Any:
        """`safe`: a POST that changes nothing twice when sent again (a read with a body), retried like a GET."""
        headers = _headers(token, acting_unit)
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        response = await self._send(method, path, headers, params=params, json=json, safe=safe)
        if response.status_code >= 400:
            raise error_from_response(response)
        return response.json()

    async def page(self, path: str, token: str, *, params: Mapping[str, Any] | None = None) -> tuple[Any, str | None]:
        """A list answer and the cursor of its next page (the `X-Next-Cursor` header; None on the last page)."""
        response = await self._send("GET", path, _headers(token, None), params=params)
        if response.status_code >= 400:
            raise error_from_response(response)
        return response.json(), response.headers.get(NEXT_CURSOR)

    async def every_page(self, path: str, token: str, *, params: Mapping[str, Any] | None = None) -> list[Json]:
        """Every item of a list paged by `X-Next-Cursor` (a directory list: an organisation's units)."""
        items: list[Json] = []
        cursor: str | None = None
        while True:
            page, cursor = await self.page(path, token, params=dict(params or {}) | (
                {"cursor": cursor} if cursor else {}))
            items.extend(page)
            if cursor is None:
                return items

    async def download(self, path: str, token: str, *, acting_unit: str | None = None) -> bytes:
        """A file answer (a CSV, PDF or FHIR export) as bytes, with the token in the header (never in a URL)."""
        response = await self._send("GET", path, _headers(token, acting_unit))
        if response.status_code >= 400:
            raise error_from_response(response)
        return response.content

    async def _send(self, method: str, path: str, headers: dict[str, str], *,
                    params: Mapping[str, Any] | None = None, json: Any = None, safe: bool = False) -> httpx.Response:
        """One call, sent again after a failure on the way when that is safe (see the module's doc)."""
        repeatable = safe or method in REPEATABLE_METHODS or "Idempotency-Key" in headers
        what = path.split("/")[1] if "/" in path else path  # the resource kind, never an id
        for delay in (*RETRY_DELAYS, None):
            try:
                response = await self._client().request(method, path, headers=headers, params=params, json=json)
            except httpx.TransportError as exc:
                if delay is None or not (repeatable or isinstance(exc, NOT_SENT)):
                    log.warning("api call %s %s failed: %s", method, what, type(exc).__name__)
                    raise ApiError(503, "unavailable", UNAVAILABLE) from None
                reason = type(exc).__name__
            except httpx.HTTPError as exc:
                log.warning("api call %s %s failed: %s", method, what, type(exc).__name__)
                raise ApiError(503, "unavailable", UNAVAILABLE) from None
            else:
                if delay is None or not repeatable or response.status_code not in RETRY_STATUSES:
                    return response
                reason = str(response.status_code)
            self.retries += 1
            log.info("api call %s %s failed (%s); sending it again", method, what, reason)
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))  # noqa: S311 - jitter, not a secret
        raise AssertionError("not reached")  # the last round returns or raises

    # ----- reads ------------------------------------------------------------------------------------------------

    async def me(self, token: str) -> Json:
        result: Json = await self.request("GET", "/me", token)
        return result

    async def unit(self, token: str, unit_id: str) -> Json:
        result: Json = await self.request("GET", f"/units/{unit_id}", token)
        return result

    async def units(self, token: str, *, kind: str | None = None, municipality_code: str | None = None,
                    organisation_id: str | None = None, receiving: bool | None = None,
                    forward_from: str | None = None, limit: int = 500) -> list[Json]:
        params: dict[str, Any] = {"limit": limit}
        if forward_from:
            params["forward_from"] = forward_from
        if kind:
            params["kind"] = kind
        if receiving is not None:
            params["receiving"] = "true" if receiving else "false"
        if municipality_code:
            params["municipality_code"] = municipality_code
        if organisation_id:
            params["organisation_id"] = organisation_id
        page: Json = await self.request("GET", "/units", token, params=params)
        items: list[Json] = page["items"]
        return items

    async def list_cases(self, token: str, unit_id: str, *, states: list[str] | None = None,
                         limit: int = 500) -> list[Json]:
        params: dict[str, Any] = {"unit_id": unit_id, "limit": limit}
        if states:
            params["state"] = states
        page: Json = await self.request("GET", "/cases", token, params=params)
        items: list[Json] = page["items"]
        return items

    async def list_open_cases(self, token: str, unit_id: str, *, page_size: int = 500) -> list[Json]:
        """Every open case of the unit (the server decides what is open; newest admission first), page by page:
        what a board shows."""
        items: list[Json] = []
        while True:
            params: dict[str, Any] = {"unit_id": unit_id, "open": "true", "limit": page_size, "offset": len(items)}
            page: Json = await self.request("GET", "/cases", token, params=params)
            items.extend(page["items"])
            if not page["items"] or len(items) >= page["total"]:
                return items

    async def get_case(self, token: str, case_id: str, acting_unit: str | None) -> Json:
        result: Json = await self.request("GET", f"/cases/{case_id}", token, acting_unit=acting_unit)
        return result

    async def case_views(self, token: str, case_id: str, unit_id: str, viewer_tokens: list[str]) -> Json:
        """A changed case read once for every viewer (`POST /cases/{id}/views`, docs/api.md): each viewer's own
        token in the body; the answer says which variant (masked or not) each gets, or why none. The call is
        authenticated with `token` (any viewer's). Sent again after a failure on the way like a read."""
        result: Json = await self.request("POST", f"/cases/{case_id}/views", token, safe=True,
                                          json={"unit_id": unit_id, "viewers": [{"token": t} for t in viewer_tokens]})
        return result

    async def ended_cases(self, token: str, unit_id: str, *, offset: int, limit: int = 50) -> Json:
        """A page of the unit's ended cases, newest admission first (`total` counts them all): the board's history."""
        params: dict[str, Any] = {"unit_id": unit_id, "open": "false", "limit": limit, "offset": offset}
        page: Json = await self.request("GET", "/cases", token, params=params)
        return page

    async def inbox(self, token: str, unit_id: str, *, after: str | None = None, limit: int = 50) -> Json:
        """A page of the unit's inbox; `next` in the answer asks for the following one."""
        params: dict[str, Any] = {"limit": limit, **({"after": after} if after else {})}
        result: Json = await self.request("GET", f"/units/{unit_id}/inbox", token, params=params)
        return result

    async def inbox_unread(self, token: str, unit_id: str) -> Json:
        """The unit's unread counter (`{"unit_id", "unread"}`), counted by the server without rows."""
        result: Json = await self.request("GET", f"/units/{unit_id}/inbox/unread", token)
        return result

    async def search_patients(self, token: str, query: str, unit_id: str | None) -> Json:
        """"Sök patient": an exact personnummer or a name prefix, in the body (never the URL)."""
        body: dict[str, Any] = {"query": query, **({"unit_id": unit_id} if unit_id else {})}
        result: Json = await self.request("POST", "/patients/search", token, json=body)
        return result

    async def staff(self, token: str, unit_id: str) -> list[Json]:
        result: list[Json] = await self.request("GET", f"/units/{unit_id}/staff", token)
        return result

    # ----- commands ---------------------------------------------------------------------------------------------

    async def action(self, token: str, case_id: str, path: str, body: Mapping[str, Any], *,
                     acting_unit: str | None) -> Json:
        """One action of the process (`POST /cases/{id}/{path}`), idempotent across a retry of this call."""
        result: Json = await self.request("POST", f"/cases/{case_id}/{path}", token, acting_unit=acting_unit,
                                          json=dict(body), idempotency_key=str(uuid.uuid4()))
        return result

    async def register_case(self, token: str, body: Mapping[str, Any], *, idempotency_key: str) -> Json:
        """Register an admission (`POST /cases`). The caller keeps `idempotency_key` across retries of the same
        registration: a retry after a lost answer replays the first answer instead of creating a second case."""
        result: Json = await self.request("POST", "/cases", token, json=dict(body), idempotency_key=idempotency_key)
        return result
