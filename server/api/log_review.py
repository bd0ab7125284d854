"""Routes of the access log and log review (loggkontroll) under /audit.

Auditors and local access administrators search the log of their organisation's units, draw reproducible
random samples, document the outcome per entry and for the review, and export it as CSV. Every reading of
the log is itself logged. Auditors and central administrators check the log's hash chain.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from litestar import Response, get, post, put
from litestar.params import Parameter

from server.api.dependencies import Audit
from server.api.openapi import PROBLEMS
from server.principal import CurrentUser
from server.schemas.admin import (
    AccessLogPage,
    AccessLogQuery,
    NewReview,
    Outcome,
    ReviewOut,
    ReviewPage,
    VerificationOut,
)

ReviewId = Annotated[str, Parameter(max_length=64, description="The review id.")]
IdQuery = Annotated[str | None, Parameter(required=False, max_length=64)]
TAGS = ["access log"]


@get("/audit/access-log", operation_id="searchAccessLog", summary="Search the access log",
     description="Entries of your organisation's units, newest first (by time, then entry): filter by user, unit, "
                 "action, period [from, to) and, for auditors only, patient. Keyset pages: pass the answer's "
                 "`next_cursor` as `cursor` (400 with field `cursor` for one the list did not give out). `total` on "
                 "the first page, counted up to 1 000 (`total_capped`). The search is itself logged.",
     responses=PROBLEMS, tags=TAGS)
async def search_access_log(
    current_user: CurrentUser, audit: Audit,
    patient_id: IdQuery = None, user_id: IdQuery = None, unit_id: IdQuery = None,
    action: Annotated[str | None, Parameter(required=False, max_length=60)] = None,
    period_from: Annotated[datetime | None, Parameter(query="from", required=False)] = None,
    period_to: Annotated[datetime | None, Parameter(query="to", required=False)] = None,
    limit: Annotated[int, Parameter(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Parameter(required=False, min_length=1, max_length=1000)] = None,
) -> AccessLogPage:
    audit.check_period(**{"from": period_from, "to": period_to})
    return await audit.search(current_user, patient_id=patient_id, user_id=user_id, unit_id=unit_id, action=action,
                              period_from=period_from, period_to=period_to, limit=limit, cursor=cursor)


@post("/audit/access-log/search", operation_id="searchAccessLogByBody", summary="Search the access log (body)",
      description="The same search with the filters in the body; it also takes the patient's identity number "
                  "(personnummer, samordningsnummer, reservnummer) and the user's HSA-id (`user_hsa_id`: rows "
                  "logged under it and rows of the user who holds it now), which never belong in a URL.",
      status_code=200, responses=PROBLEMS, tags=TAGS)
async def search_access_log_by_body(current_user: CurrentUser, audit: Audit, data: AccessLogQuery) -> AccessLogPage:
    audit.check_period(period_from=data.period_from, period_to=data.period_to)
    return await audit.search(
        current_user, patient_id=data.patient_id, user_id=data.user_id, unit_id=data.unit_id,
        action=data.action, period_from=data.period_from, period_to=data.period_to, limit=data.limit,
        cursor=data.cursor, patient_identity=data.patient_identity, user_hsa_id=data.user_hsa_id)


@get("/audit/access-log/verification", operation_id="verifyAccessLog", summary="Check the access log's integrity",
     description="Walks the hash chain from the last purge checkpoint: every changed, missing or reordered row is "
                 "reported by its sequence number (`ok` false). Rows not yet sealed into the chain are counted; "
                 "those older than the grace period (SAMPLAN_ACCESS_LOG_UNSEALED_WARNING_SECONDS) give a warning: "
                 "the sealer is not running.", responses=PROBLEMS, tags=TAGS)
async def verify_access_log(current_user: CurrentUser, audit: Audit) -> VerificationOut:
    return await audit.verify(current_user)


@post("/audit/reviews", operation_id="createLogReview", summary="Start a log review",
      description="Draws a random sample of the unit's access log for the period. The seed is stored with the "
                  "review: the same seed over the same period gives the same sample.",
      status_code=201, responses=PROBLEMS, tags=TAGS)
async def create_review(current_user: CurrentUser, audit: Audit, data: NewReview) -> ReviewOut:
    audit.check_period(period_from=data.period_from, period_to=data.period_to)
    return await audit.create_review(current_user, data)


@get("/audit/reviews", operation_id="listLogReviews", summary="Log reviews", responses=PROBLEMS, tags=TAGS,
     description="Reviews of your organisation's units, newest first.")
async def list_reviews(current_user: CurrentUser, audit: Audit, unit_id: IdQuery = None,
                       limit: Annotated[int, Parameter(ge=1, le=500)] = 100,
                       offset: Annotated[int, Parameter(ge=0, le=1_000_000)] = 0) -> ReviewPage:
    return await audit.list_reviews(current_user, unit_id, limit, offset)


@get("/audit/reviews/{review_id:str}", operation_id="getLogReview", summary="Read a log review",
     description="The review with its sampled entries and their outcomes.", responses=PROBLEMS, tags=TAGS)
async def get_review(current_user: CurrentUser, audit: Audit, review_id: ReviewId) -> ReviewOut:
    return await audit.review(current_user, review_id)


@put("/audit/reviews/{review_id:str}/entries/{seq:int}", operation_id="recordLogReviewEntry",
     summary="Document one sampled entry", description="The finding and a comment; the reviewer and time are "
     "recorded.", responses=PROBLEMS, tags=TAGS)
async def record_entry(current_user: CurrentUser, audit: Audit, review_id: ReviewId,
                       seq: Annotated[int, Parameter(ge=1, le=2**53)], data: Outcome) -> ReviewOut:
    return await audit.record_entry_outcome(current_user, review_id, seq, data)


@put("/audit/reviews/{review_id:str}/outcome", operation_id="concludeLogReview", summary="Conclude the review",
     description="The review's overall finding and comment.", responses=PROBLEMS, tags=TAGS)
async def conclude_review(current_user: CurrentUser, audit: Audit, review_id: ReviewId,
                          data: Outcome) -> ReviewOut:
    return await audit.conclude(current_user, review_id, data)


@get("/audit/reviews/{review_id:str}/export", operation_id="exportLogReview", summary="Export a review as CSV",
     description="The review, its sample and the outcomes as CSV (UTF-8). Exporting is logged.",
     media_type="text/csv", responses=PROBLEMS, tags=TAGS)
async def export_review(current_user: CurrentUser, audit: Audit, review_id: ReviewId) -> Response[bytes]:
    body = await audit.export_csv(current_user, review_id)
    return Response(body, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="log-review-{review_id[:36]}.csv"'})


LOG_REVIEW_ROUTES = [search_access_log, search_access_log_by_body, verify_access_log, create_review, list_reviews,
                     get_review, record_entry, conclude_review, export_review]
