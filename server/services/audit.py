"""Use cases of the access log: search it, check its integrity, and run log reviews (loggkontroll).

Auditors and local access administrators read the log of their own organisation's units. Reading the log
shows which patients were accessed, so it is itself logged (action `read_access_log`, purpose `log_review`),
in the same transaction as the read.

A search shows rows the sealer has not chained yet too (their `seq` is null, normally for a second). A review
draws its sample from sealed rows only (they are addressed by `seq`), so it runs a sealing round first.
"""

from __future__ import annotations

import csv
import io
import secrets
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
from sqlalchemy import Select, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from domain.administration import Grants, check_finding, draw_sample, summarise
from domain.audit_terms import ACTIONS, FINDINGS, STOCKHOLM, action_text, period_days, purpose_text
from domain.identity import InvalidIdentity, parse_patient_identity
from domain.time_limits import DEFAULT_LIMITS, TimeLimits, check_times
from server import access_log, access_log_checkpoint_file
from server import authorization as authz
from server.errors import Forbidden, Invalid, NotVisible
from server.persistence.event_log import as_utc
from server.persistence.models import (
    AccessLogRow,
    LogReviewEntryRow,
    LogReviewRow,
    PatientRow,
    UnitRow,
    UserRow,
)
from server.persistence.unit_of_work import UnitOfWork
from server.principal import CurrentUser
from server.queries.log_entries import readable_entries
from server.queries.paging import after, bounded_count, decode_cursor, encode_cursor, keyset_page
from server.schemas.admin import (
    AccessLogEntryOut,
    AccessLogPage,
    ChainProblemOut,
    NewReview,
    Outcome,
    ReviewEntryOut,
    ReviewOut,
    ReviewPage,
    ReviewSummaryOut,
    VerificationOut,
)

MAX_POPULATION = 1_000_000
LOG_REVIEW_PURPOSE = "log_review"  # reviewers' own reading: searchable, but not part of the samples they draw
CSV_COLUMNS = ("seq", "at", "action", "purpose", "user_id", "user_hsa_id", "unit_id", "patient_id", "case_id",
               "finding", "comment", "reviewed_by_user_id", "reviewed_at",
               # readable, in Swedish (domain/audit_terms.py); the patient as the reader may see them
               "action_text", "purpose_text", "user_name", "unit_name", "patient", "patient_name", "case_text",
               "finding_text")


class AuditService:
    def __init__(self, uow: Callable[[], UnitOfWork], clock: Callable[[], datetime], *,
                 seal: Callable[[], Awaitable[int]], keyring: access_log.Keyring,
                 checkpoint_file: Path | None = None, warn_without_checkpoint_file: bool = False,
                 unsealed_grace: timedelta = access_log.UNSEALED_GRACE, limits: TimeLimits = DEFAULT_LIMITS) -> None:
        self._uow = uow
        self._limits = limits  # the audit window of the periods a client asks for
        self._seal = seal  # a sealing round of its own (short transactions, the sealer's), not in a request's
        self._clock = clock
        self._unsealed_grace = unsealed_grace
        self._keyring = keyring
        self._checkpoint_file = checkpoint_file
        self._warn_without_checkpoint_file = warn_without_checkpoint_file

    def check_period(self, **period: datetime | None) -> None:
        """A period's ends must lie in the audit window (domain.time_limits): 400 naming the field otherwise."""
        check_times(self._clock(), self._limits, **period)

    # ----- search -----------------------------------------------------------------------------------------------

    async def search(self, user: CurrentUser, *, patient_id: str | None, user_id: str | None, unit_id: str | None,
                     period_from: datetime | None, period_to: datetime | None, limit: int,
                     cursor: str | None = None, action: str | None = None, patient_identity: str | None = None,
                     user_hsa_id: str | None = None) -> AccessLogPage:
        """A page of the log of the reader's organisations' units, newest first by (at, id), after `cursor`.

        Each filter is the leading column of an index on (filter, at, id) (migration 0012), so a page reads about
        `limit` index entries whatever the log's size; `total` is counted on the first page only, up to 1 000
        (`total_capped`: more than that)."""
        period_from, period_to = _utc(period_from), _utc(period_to)  # SQLite compares times as stored text
        if action is not None and action not in ACTIONS:
            raise Invalid("no such action in the access log", field="action")
        async with self._uow() as uow:
            g = await authz.grants(uow.directory, user)
            orgs = authz.log_organisations(g)
            if (patient_id is not None or patient_identity is not None) and not authz.reveals_logged_patients(g):
                raise Forbidden("only auditors search the access log by patient",
                                field="patient_identity" if patient_identity is not None else "patient_id")
            if patient_identity is not None:
                try:
                    identity = parse_patient_identity(patient_identity, today=self._clock().date())
                except InvalidIdentity as exc:
                    raise Invalid(str(exc), field="patient_identity") from None
                patient = await uow.patients.by_identity(identity.value)
                if patient is None or (patient_id is not None and patient_id != patient.id):
                    return AccessLogPage(items=[], total=0, total_capped=False, limit=limit, next_cursor=None)
                patient_id = patient.id
            if unit_id is not None:
                unit = await uow.directory.unit(unit_id)
                if unit is None:
                    raise NotVisible("no such unit")
                authz.require_log_reader(g, unit.organisation_id)
            if period_from and period_to and period_from >= period_to:
                raise Invalid("the period must end after it starts", field="to")
            in_scope = select(UnitRow.id).where(UnitRow.organisation_id.in_(orgs))
            query = select(AccessLogRow).where(AccessLogRow.unit_id.in_(in_scope))
            if patient_id is not None:  # the person: also under a reserve number merged into them, or the reverse
                query = query.where(AccessLogRow.patient_id.in_(await _same_person(uow.session, patient_id)))
            for column, value in ((AccessLogRow.user_id, user_id), (AccessLogRow.unit_id, unit_id),
                                  (AccessLogRow.action, action)):
                if value is not None:
                    query = query.where(column == value)
            if user_hsa_id is not None:
                # Rows name the HSA-id the user had then; an administrator may have corrected it since. So: rows
                # logged under this HSA-id, and rows of whoever holds it now.
                holder = await uow.session.scalar(select(UserRow.id).where(UserRow.hsa_id == user_hsa_id))
                query = query.where(or_(AccessLogRow.user_hsa_id == user_hsa_id, AccessLogRow.user_id == holder)
                                    if holder is not None else AccessLogRow.user_hsa_id == user_hsa_id)
            if period_from:
                query = query.where(AccessLogRow.at >= period_from)
            if period_to:
                query = query.where(AccessLogRow.at < period_to)
            total, capped = await bounded_count(uow.session, query) if cursor is None else (None, False)
            if unit_id is None and patient_id is None and user_id is None and user_hsa_id is None:
                # The whole organisation: one short index walk per unit (unit_id, at, id), merged. Asked as one
                # IN (units) the planner reads every row of the period and sorts them: work growing with history.
                units = list(await uow.session.scalars(in_scope.order_by(UnitRow.id)))
                rows, next_cursor = await _merged_units_page(uow.session, query, units, limit, cursor)
            else:
                rows, next_cursor = await keyset_page(
                    uow.session, query, (AccessLogRow.at, AccessLogRow.id), limit=limit, cursor=cursor,
                    shape=tuple[datetime, int], descending=True, key=lambda r: (as_utc(r.at), r.id))
            items = await readable_entries(uow.session, rows, reveal_patients=authz.reveals_logged_patients(g))
            await self._log_reading(uow.session, user, g, rows)
            await uow.commit()
            return AccessLogPage(items=items, total=total, total_capped=capped, limit=limit, next_cursor=next_cursor)

    async def verify(self, user: CurrentUser) -> VerificationOut:
        async with self._uow() as uow:
            authz.require_log_verifier(await authz.grants(uow.directory, user))
            result = await access_log_checkpoint_file.verify(
                uow.session, self._keyring, self._checkpoint_file, warn_without=self._warn_without_checkpoint_file,
                now=self._clock(), unsealed_grace=self._unsealed_grace)
            return VerificationOut(ok=result.ok, rows_checked=result.rows_checked, first_seq=result.first_seq,
                                   last_seq=result.last_seq, checkpoint_seq=result.checkpoint_seq,
                                   problems=[ChainProblemOut(seq=s, problem=p) for s, p in result.problems],
                                   unsealed=result.unsealed, unsealed_too_long=result.unsealed_too_long,
                                   oldest_unsealed_at=result.oldest_unsealed_at, warnings=result.warnings)

    # ----- reviews ----------------------------------------------------------------------------------------------

    async def create_review(self, user: CurrentUser, data: NewReview) -> ReviewOut:
        if data.period_from >= data.period_to:
            raise Invalid("the period must end after it starts", field="period_to")
        # Stored and compared in UTC: SQLite keeps a time as text without its offset, so a period entered in Swedish
        # time was an hour or two off there (a review of 1–7 Dec read back as ending 8 Dec 01:00).
        data = msgspec.structs.replace(data, period_from=data.period_from.astimezone(UTC),
                                       period_to=data.period_to.astimezone(UTC))
        await self._seal()  # the sample is drawn from sealed rows: the period's last second too
        async with self._uow() as uow:
            g = await authz.grants(uow.directory, user)
            authz.log_organisations(g)
            unit = await uow.directory.unit(data.unit_id)
            if unit is None:
                raise Invalid("no such unit", field="unit_id")
            authz.require_log_reader(g, unit.organisation_id)
            population = [seq for seq in await uow.session.scalars(
                select(AccessLogRow.seq).where(AccessLogRow.unit_id == unit.id, AccessLogRow.at >= data.period_from,
                                               AccessLogRow.at < data.period_to, AccessLogRow.seq.is_not(None),
                                               AccessLogRow.purpose != LOG_REVIEW_PURPOSE)
                .order_by(AccessLogRow.seq).limit(MAX_POPULATION)) if seq is not None]
            if not population:
                raise Invalid("the unit's access log has no entries in this period", field="period_from")
            seed = data.seed if data.seed is not None else secrets.randbelow(2**53)
            sample = draw_sample(population, data.sample_size, seed)
            review = LogReviewRow(id=str(uuid.uuid4()), organisation_id=unit.organisation_id, unit_id=unit.id,
                                  period_from=data.period_from, period_to=data.period_to, seed=seed,
                                  sample_size=len(sample), population=len(population),
                                  created_by_user_id=user.id, created_at=self._clock(), comment="")
            uow.session.add(review)
            await uow.session.flush()
            uow.session.add_all([LogReviewEntryRow(review_id=review.id, log_seq=s, comment="") for s in sample])
            await uow.session.flush()
            out = await self._review_out(uow.session, review, g)
            await self._log_reading(uow.session, user, g, await self._rows(uow.session, sample))
            await uow.commit()
            return out

    async def list_reviews(self, user: CurrentUser, unit_id: str | None, limit: int, offset: int) -> ReviewPage:
        async with self._uow() as uow:
            g = await authz.grants(uow.directory, user)
            orgs = authz.log_organisations(g)
            query = select(LogReviewRow).where(LogReviewRow.organisation_id.in_(orgs))
            if unit_id is not None:
                unit = await uow.directory.unit(unit_id)
                if unit is None:
                    raise NotVisible("no such unit")
                authz.require_log_reader(g, unit.organisation_id)
                query = query.where(LogReviewRow.unit_id == unit_id)
            rows = await uow.session.scalars(query.order_by(LogReviewRow.created_at.desc(), LogReviewRow.id)
                                             .limit(limit).offset(offset))
            return ReviewPage(items=[ReviewSummaryOut(
                id=r.id, unit_id=r.unit_id, period_from=as_utc(r.period_from), period_to=as_utc(r.period_to),
                sample_size=r.sample_size, created_at=as_utc(r.created_at), finding=r.finding) for r in rows],
                limit=limit, offset=offset)

    async def review(self, user: CurrentUser, review_id: str) -> ReviewOut:
        async with self._uow() as uow:
            g, review = await self._open_review(uow, user, review_id)
            out = await self._review_out(uow.session, review, g)
            await self._log_reading(uow.session, user, g, await self._rows(uow.session, [e.seq for e in out.entries]))
            await uow.commit()
            return out

    async def record_entry_outcome(self, user: CurrentUser, review_id: str, seq: int, data: Outcome) -> ReviewOut:
        check_finding(data.finding)
        async with self._uow() as uow:
            g, review = await self._open_review(uow, user, review_id)
            entry = await uow.session.get(LogReviewEntryRow, (review.id, seq))
            if entry is None:
                raise NotVisible("the entry is not in this review's sample")
            entry.finding, entry.comment = data.finding, data.comment
            entry.reviewed_by_user_id, entry.reviewed_at = user.id, self._clock()
            await uow.session.flush()
            out = await self._review_out(uow.session, review, g)
            await self._log_reading(uow.session, user, g, await self._rows(uow.session, [seq]))
            await uow.commit()
            return out

    async def conclude(self, user: CurrentUser, review_id: str, data: Outcome) -> ReviewOut:
        check_finding(data.finding)
        async with self._uow() as uow:
            g, review = await self._open_review(uow, user, review_id)
            review.finding, review.comment = data.finding, data.comment
            review.concluded_by_user_id, review.concluded_at = user.id, self._clock()
            await uow.session.flush()
            out = await self._review_out(uow.session, review, g)
            await uow.commit()
            return out

    async def export_csv(self, user: CurrentUser, review_id: str) -> bytes:
        async with self._uow() as uow:
            g, review = await self._open_review(uow, user, review_id)
            out = await self._review_out(uow.session, review, g)
            buffer = io.StringIO()
            writer = csv.writer(buffer, lineterminator="\r\n")
            first, last = period_days(out.period_from, out.period_to)
            writer.writerow(("review_id", review.id, "unit_id", review.unit_id, "period_from",
                             out.period_from.isoformat(), "period_to", out.period_to.isoformat(), "seed", review.seed,
                             "population", review.population, "finding", review.finding or "", "comment",
                             _cell(review.comment), "first_day", first.isoformat(), "last_day", last.isoformat()))
            writer.writerow(CSV_COLUMNS)
            for e in out.entries:
                writer.writerow((e.seq, *_csv_entry(e.entry), e.finding or "", _cell(e.comment),
                                 e.reviewed_by_user_id or "", e.reviewed_at.isoformat() if e.reviewed_at else "",
                                 *_csv_readable(e.entry), FINDINGS.get(e.finding or "", "")))
            await self._log_reading(uow.session, user, g, await self._rows(uow.session, [e.seq for e in out.entries]),
                                    action="export_access_log")
            await uow.commit()
            return buffer.getvalue().encode("utf-8-sig")  # the BOM makes Excel read UTF-8

    # ----- helpers ----------------------------------------------------------------------------------------------

    async def _open_review(self, uow: UnitOfWork, user: CurrentUser, review_id: str) -> tuple[Grants, LogReviewRow]:
        g = await authz.grants(uow.directory, user)
        orgs = authz.log_organisations(g)
        review = await uow.session.get(LogReviewRow, review_id)
        if review is None or review.organisation_id not in orgs:
            raise NotVisible("no such review")
        return g, review

    @staticmethod
    async def _rows(session: AsyncSession, seqs: Sequence[int]) -> list[AccessLogRow]:
        if not seqs:
            return []
        return list(await session.scalars(select(AccessLogRow).where(AccessLogRow.seq.in_(list(seqs)))
                                          .order_by(AccessLogRow.seq)))

    async def _review_out(self, session: AsyncSession, review: LogReviewRow, g: Grants) -> ReviewOut:
        entries = list(await session.scalars(select(LogReviewEntryRow).where(LogReviewEntryRow.review_id == review.id)
                                             .order_by(LogReviewEntryRow.log_seq)))
        rows = await self._rows(session, [e.log_seq for e in entries])
        shown = {r.seq: out for r, out in zip(rows, await readable_entries(
            session, rows, reveal_patients=authz.reveals_logged_patients(g)), strict=True)}
        return ReviewOut(
            id=review.id, organisation_id=review.organisation_id, unit_id=review.unit_id,
            period_from=as_utc(review.period_from), period_to=as_utc(review.period_to), seed=review.seed,
            sample_size=review.sample_size, population=review.population,
            created_by_user_id=review.created_by_user_id, created_at=as_utc(review.created_at),
            finding=review.finding, comment=review.comment, concluded_by_user_id=review.concluded_by_user_id,
            concluded_at=as_utc(review.concluded_at) if review.concluded_at else None,
            summary=summarise(e.finding for e in entries),
            entries=[ReviewEntryOut(entry=shown.get(e.log_seq), seq=e.log_seq,
                                    finding=e.finding, comment=e.comment, reviewed_by_user_id=e.reviewed_by_user_id,
                                    reviewed_at=as_utc(e.reviewed_at) if e.reviewed_at else None)
                     for e in entries])

    async def _log_reading(self, session: AsyncSession, user: CurrentUser, g: Grants, rows: Sequence[AccessLogRow],
                           action: str = "read_access_log") -> None:
        """Reading the log shows whose records were accessed: one row per patient shown, purpose log review."""
        patients = sorted({r.patient_id for r in rows})
        await access_log.record(session, user, unit_id=authz.log_unit(g), patient_ids=patients,
                                case_ids=[None] * len(patients), action=action, at=self._clock(),
                                purpose=LOG_REVIEW_PURPOSE)


def _cell(text: str) -> str:
    """Free text in a CSV cell, defused against spreadsheet formula injection."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _csv_entry(x: AccessLogEntryOut | None) -> tuple[str, ...]:
    if x is None:  # past retention and purged
        return ("",) * 8
    return (x.at.isoformat(), x.action, x.purpose, x.user_id, x.user_hsa_id, x.unit_id or "", x.patient_id,
            x.case_id or "")


def _csv_readable(x: AccessLogEntryOut | None) -> tuple[str, ...]:
    if x is None:
        return ("",) * 7
    case = (f"{x.case.ward_name}, inskriven {x.case.admitted_at.astimezone(STOCKHOLM):%Y-%m-%d %H:%M}"
            if x.case else "")
    return (action_text(x.action), purpose_text(x.purpose), _cell(x.user_name or ""), _cell(x.unit_name or ""),
            x.patient.identity if x.patient else "", _cell((x.patient.name or "") if x.patient else ""), _cell(case))


async def _merged_units_page(session: AsyncSession, query: Select[AccessLogRow], units: list[str], limit: int,
                             cursor: str | None) -> tuple[list[AccessLogRow], str | None]:
    """A page of `query` newest first over `units`: each unit's next `limit + 1` positions (at, id) from its own
    index, in one statement, merged here; then the page's rows by id."""
    order = (AccessLogRow.at, AccessLogRow.id)
    if cursor is not None:
        at, entry = decode_cursor(cursor, tuple[datetime, int])
        query = query.where(after(order, (at, entry), descending=True))
    if not units:
        return [], None
    branches = [select(branch.c.at, branch.c.id) for branch in (
        query.with_only_columns(*order).where(AccessLogRow.unit_id == unit)
        .order_by(AccessLogRow.at.desc(), AccessLogRow.id.desc()).limit(limit + 1).subquery() for unit in units)]
    positions = sorted(((as_utc(a), i) for a, i in (await session.execute(union_all(*branches))).tuples()),
                       reverse=True)[:limit + 1]
    ids = [i for _, i in positions[:limit]]
    found = {r.id: r for r in await session.scalars(select(AccessLogRow).where(AccessLogRow.id.in_(ids)))}
    rows = [found[i] for i in ids]
    return rows, encode_cursor(positions[limit - 1]) if len(positions) > limit else None


def _utc(moment: datetime | None) -> datetime | None:
    return moment.astimezone(UTC) if moment is not None else None


async def _same_person(session: AsyncSession, patient_id: str) -> list[str]:
    """The patient rows of one person: the real identity and the reserve numbers merged into it (migration 0009);
    a search by either finds the whole history."""
    row = await session.get(PatientRow, patient_id)
    root = (row.merged_into_patient_id or row.id) if row is not None else patient_id
    merged = await session.scalars(select(PatientRow.id).where(PatientRow.merged_into_patient_id == root))
    return [root, *merged]
