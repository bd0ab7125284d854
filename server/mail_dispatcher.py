"""The mail dispatcher of one API process (or `samplan mail-dispatcher`): sends the mail outbox through SMTP and
runs the deadline escalation scan.

Every round it claims due rows with a lease (`server/persistence/mail_outbox.py`; `FOR UPDATE SKIP LOCKED` on
PostgreSQL, so dispatchers on several instances share the work), renders them (`server/views/mail.py`: unit, kind
and link only), sends them over one SMTP connection (aiosmtplib) and marks each row sent right after the server
accepted it. Every write after the claim is fenced by the lease's token, and the lease is extended before a
message once half of it has passed, so a message always leaves well within the lease: a slow dispatcher never
races another over one row. Delivery is at least once only for a process killed between the server's acceptance
and that mark: the row goes again when its lease runs out, with the same Message-ID (`<samplan-mail-<row id>@…>`),
so the copy is recognisable. A graceful stop finishes the message in hand and releases the rest at once.

Errors: a recipient the server refuses for good (5xx) fails the row and is reported to the user (their settings
show it); anything else (server away, 4xx) retries with backoff until `max_attempts`, then fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib
from prometheus_client import Counter, Gauge
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.persistence import mail_outbox
from server.persistence.mail_models import MailOutboxRow, NotificationSettingsRow
from server.persistence.models import UnitRow
from server.services.escalation import EscalationScan
from server.settings import Settings
from server.views.mail import MailItem, message, render, render_digest

log = logging.getLogger("samplan.mail")
MAILS_SENT = Counter("samplan_mail_sent", "E-mail notices the SMTP server accepted")
MAILS_FAILED = Counter("samplan_mail_failed", "E-mail notices given up on (refused address or too many attempts)")
MAIL_LAG = Gauge("samplan_mail_queue_age_seconds", "Age of the oldest queued e-mail notice")


@dataclass(frozen=True)
class SmtpTarget:
    hostname: str
    port: int
    username: str | None
    password: str | None
    use_tls: bool
    start_tls: bool | None  # None: when the server offers it

    @classmethod
    def parse(cls, url: str) -> SmtpTarget:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("SMTP_URL must look like smtp://[user:password@]host[:port] or smtps://...")
        tls = parts.scheme == "smtps"
        query = parse_qs(parts.query)
        starttls = query.get("starttls", [""])[0]
        return cls(hostname=parts.hostname, port=parts.port or (465 if tls else 25),
                   username=unquote(parts.username) if parts.username else None,
                   password=unquote(parts.password) if parts.password else None, use_tls=tls,
                   start_tls=True if starttls == "require" else False if starttls in ("0", "no", "off") else None)

    def client(self, timeout: float = 30.0) -> aiosmtplib.SMTP:
        return aiosmtplib.SMTP(hostname=self.hostname, port=self.port, username=self.username,
                               password=self.password, use_tls=self.use_tls, start_tls=self.start_tls,
                               timeout=timeout, tls_context=ssl.create_default_context())


class MailDispatcher:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], settings: Settings,
                 clock: Callable[[], datetime], escalation: EscalationScan | None = None) -> None:
        self._sessions = sessions
        self._settings = settings
        self._clock = clock
        self._escalation = escalation
        self._smtp = SmtpTarget.parse(settings.smtp_url) if settings.smtp_url else None
        self._domain = settings.mail_from.rsplit("@", 1)[-1].strip(" >") or "samplan.invalid"
        self._lease = timedelta(seconds=settings.mail_lease_seconds)
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()
        self.sent = 0

    def start(self) -> None:
        self._stopping.clear()
        self._task = asyncio.create_task(self._run_forever(), name="mail-dispatcher")

    def wake(self) -> None:
        """Look at the outbox now (after a commit that queued mail), not at the next poll."""
        self._wake.set()

    async def stop(self) -> None:
        """Finish the message in hand, release the other claimed rows, end."""
        self._stopping.set()
        self._wake.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout=10)
            except TimeoutError:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
            self._task = None

    async def _run_forever(self) -> None:
        loop = asyncio.get_running_loop()
        next_scan = loop.time()
        while not self._stopping.is_set():
            self._wake.clear()  # a wake during the round below makes the wait after it return at once
            try:
                if self._escalation is not None and loop.time() >= next_scan:
                    next_scan = loop.time() + self._settings.escalation_scan_seconds
                    await self._escalation.run_once()
                while await self.run_once() and not self._stopping.is_set():
                    pass
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database or the SMTP server away: try again next round
                log.warning("mail dispatch round failed: %s", type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._settings.mail_poll_seconds)

    async def run_once(self) -> int:
        """Claim and send one batch of due rows; returns how many rows were claimed."""
        if self._smtp is None:
            return 0
        now = self._clock()
        async with self._sessions() as session, session.begin():
            lease, rows = await mail_outbox.claim(session, now, self._lease, self._settings.mail_batch_size)
            if not rows:
                oldest = await mail_outbox.oldest_queued(session)
                MAIL_LAG.set(max(0.0, (now - oldest).total_seconds()) if oldest else 0.0)
                return 0
            settings = {s.user_id: s for s in await session.scalars(select(NotificationSettingsRow).where(
                NotificationSettingsRow.user_id.in_({r.user_id for r in rows})))}
            units = dict((await session.execute(select(UnitRow.id, UnitRow.name).where(
                UnitRow.id.in_({r.unit_id for r in rows})))).tuples().all())
        mails = _group(rows)
        smtp = self._smtp.client(timeout=min(30.0, self._lease.total_seconds() / 4))
        try:
            await smtp.connect()
        except (aiosmtplib.SMTPException, OSError) as exc:
            await self._retry(lease, rows, f"connect: {type(exc).__name__}")
            return len(rows)
        try:
            for index, group in enumerate(mails):
                if not group:  # another dispatcher claimed it (found when the lease was extended)
                    continue
                if self._stopping.is_set():
                    await self._release(lease, [r for g in mails[index:] for r in g])
                    break
                if not await self._still_held(lease, mails[index:]):
                    continue  # another dispatcher has this group now
                try:
                    await self._send(smtp, lease, group, settings.get(group[0].user_id), units)
                except (aiosmtplib.SMTPException, OSError):  # the connection broke: the rest go next round
                    await self._release(lease, [r for g in mails[index + 1:] for r in g])
                    break
        finally:
            with contextlib.suppress(aiosmtplib.SMTPException, OSError):
                await smtp.quit()
        return len(rows)

    async def _still_held(self, lease: mail_outbox.Lease, remaining: list[list[MailOutboxRow]]) -> bool:
        """Before a message: if half the lease has passed, extend it on the rows still to send (one update) and
        drop those another dispatcher claimed meanwhile. A message then always goes out well within the lease,
        so two dispatchers never send one row (SMTP's timeout is a quarter of the lease)."""
        now = self._clock()
        if lease.until - now > self._lease / 2:
            return True
        ids = [r.id for g in remaining for r in g]
        until = now + self._lease
        async with self._sessions() as session, session.begin():
            held = await mail_outbox.renew(session, lease, ids, until)
        lease.until = until
        for group in remaining:
            group[:] = [r for r in group if r.id in held]
        return bool(remaining[0])

    async def _send(self, smtp: aiosmtplib.SMTP, lease: mail_outbox.Lease, group: list[MailOutboxRow],
                    settings: NotificationSettingsRow | None, units: dict[str, str]) -> None:
        ids = [r.id for r in group]
        if settings is None or not settings.email or not settings.email_enabled:
            await self._finish(lambda s: mail_outbox.mark_failed(s, lease, ids, "no address: e-mail switched off"))
            return
        items = [MailItem(r.kind, r.event_type, units.get(r.unit_id, "din enhet"), r.aggregate_type, r.aggregate_id)
                 for r in group]
        base = self._settings.ui_public_url
        subject, body = render_digest(items, base) if group[0].digest else render(items[0], base)
        now = self._clock()
        mail = message(sender=self._settings.mail_from, to=settings.email, subject=subject, body=body,
                       outbox_id=group[0].id, domain=self._domain, sent_at=now)
        try:
            await smtp.send_message(mail)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            code = min((r.code for r in exc.recipients), default=0)
            if code >= 500:
                failure = f"{code} {exc.recipients[0].message}"[:200] if exc.recipients else str(code)
                await self._finish(lambda s: _refused(s, lease, ids, settings.user_id, now, failure))
                MAILS_FAILED.inc(len(ids))
            else:
                await self._retry(lease, group, f"recipient {code}")
            return
        except aiosmtplib.SMTPResponseException as exc:
            if exc.code >= 500:
                error = f"{exc.code} {exc.message}"
                await self._finish(lambda s: mail_outbox.mark_failed(s, lease, ids, error))
                MAILS_FAILED.inc(len(ids))
            else:
                await self._retry(lease, group, f"{exc.code}")
            return
        except (aiosmtplib.SMTPException, OSError) as exc:
            await self._retry(lease, group, type(exc).__name__)
            raise
        await self._finish(lambda s: mail_outbox.mark_sent(s, lease, ids, now))
        MAILS_SENT.inc(len(ids))
        self.sent += len(ids)

    async def _finish(self, change: Callable[[AsyncSession], Any]) -> None:
        async with self._sessions() as session, session.begin():
            await change(session)

    async def _retry(self, lease: mail_outbox.Lease, rows: Sequence[MailOutboxRow], error: str) -> None:
        now = self._clock()
        give_up = [r.id for r in rows if r.attempts >= self._settings.mail_max_attempts]
        again = [r for r in rows if r.attempts < self._settings.mail_max_attempts]
        async with self._sessions() as session, session.begin():
            if give_up:
                await mail_outbox.mark_failed(session, lease, give_up, error)
                MAILS_FAILED.inc(len(give_up))
            for row in again:
                backoff = timedelta(seconds=min(3600, 15 * 2 ** max(0, row.attempts - 1)))
                await mail_outbox.retry_later(session, lease, [row.id], now + backoff, error)

    async def _release(self, lease: mail_outbox.Lease, rows: Sequence[MailOutboxRow]) -> None:
        async with self._sessions() as session, session.begin():
            await mail_outbox.release(session, lease, [r.id for r in rows])


async def _refused(session: AsyncSession, lease: mail_outbox.Lease, ids: list[int], user_id: str, at: datetime,
                   failure: str) -> None:
    await mail_outbox.mark_failed(session, lease, ids, failure)
    await mail_outbox.report_address_failure(session, user_id, at, failure)


def _group(rows: Sequence[MailOutboxRow]) -> list[list[MailOutboxRow]]:
    """One mail per immediate row; a user's digest rows make one mail together."""
    mails: list[list[MailOutboxRow]] = []
    digests: dict[str, list[MailOutboxRow]] = defaultdict(list)
    for row in rows:
        if row.digest:
            digests[row.user_id].append(row)
        else:
            mails.append([row])
    return mails + list(digests.values())
