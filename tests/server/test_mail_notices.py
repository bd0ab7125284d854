"""E-mail notices against a real SMTP server (aiosmtpd on a free port): settings, the outbox written with the
event, the dispatcher (restart, quiet hours, digest, refused address), escalation, and no personal data."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from litestar import Litestar
from sqlalchemy import func, select, update

from domain.identity import generate_test_personnummer
from domain.mail_notices import STOCKHOLM
from server.persistence import mail_outbox
from server.persistence.mail_models import DeadlineEscalationRow, MailOutboxRow
from server.runtime import Runtime
from server.services.escalation import EscalationRules, EscalationScan
from server.views.mail import KIND_NAMES, TEMPLATES, MailItem, render, render_digest
from tests.server.conftest import RONNVIKEN, SOLNA_INTAKE, WARD, iso, now_utc, patient, register
from tests.server.mail_support import Inbox, SmtpServer, dispatcher, smtp_server
from tests.server.test_api_cases_flow import act

Auth = Callable[[str], dict[str, str]]
PLANNER = "planerare@solna.test"
NAME = "Zebulon Qwertyström"
ADDRESS = "Hemliga gränd 7"


@pytest.fixture
async def smtp() -> AsyncIterator[SmtpServer]:
    async for server in smtp_server(Inbox()):
        yield server


def runtime_of(app: Litestar) -> Runtime:
    runtime: Runtime = app.state.runtime
    return runtime


async def choose(client: httpx.AsyncClient, headers: dict[str, str], **settings: Any) -> dict[str, Any]:
    response = await client.put("/api/v1/me/notification-settings", json=settings, headers=headers)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


_serial = iter(range(900, 980))


def distinctive_identity() -> str:
    return generate_test_personnummer(datetime(1931, 2, 3).date(), next(_serial)).formatted


async def notified_case(client: httpx.AsyncClient, auth: Auth, identity: str | None = None) -> dict[str, Any]:
    nurse = auth("ward.nurse")
    draft = await register(client, nurse, patient=patient(identity or distinctive_identity(), name=NAME,
                                                          address=ADDRESS))
    return await act(client, nurse, draft, "admission-notice")


async def outbox(runtime: Runtime) -> list[MailOutboxRow]:
    async with runtime.sessions() as session:
        return list(await session.scalars(select(MailOutboxRow).order_by(MailOutboxRow.id)))


def assert_no_personal_data(text: str, identity: str) -> None:
    digits = re.sub(r"\D", "", identity)
    assert NAME not in text
    assert "Zebulon" not in text
    assert "Qwertyström" not in text
    assert ADDRESS not in text
    assert identity not in text
    assert digits not in text
    assert digits[2:] not in text


# ----- settings ---------------------------------------------------------------------------------------------------

async def test_settings_are_the_users_own_and_validated(client: httpx.AsyncClient, auth: Auth) -> None:
    assessor = auth("needs.assessor")
    empty = (await client.get("/api/v1/me/notification-settings", headers=assessor)).json()
    assert empty["email_enabled"] is False
    assert empty["email"] is None

    chosen = await choose(client, assessor, email=PLANNER, email_enabled=True, deadlines=False,
                          quiet_from="22:00", quiet_to="07:00")
    assert chosen["email"] == PLANNER
    assert chosen["deadlines"] is False
    assert chosen["quiet_to"] == "07:00"
    assert (await client.get("/api/v1/me/notification-settings", headers=assessor)).json() == chosen
    other = (await client.get("/api/v1/me/notification-settings", headers=auth("ward.nurse"))).json()
    assert other["email"] is None  # one's own only

    no_address = await client.put("/api/v1/me/notification-settings", json={"email_enabled": True}, headers=assessor)
    assert no_address.status_code == 422
    assert no_address.json()["errors"][0]["field"] == "email"
    half_quiet = await client.put("/api/v1/me/notification-settings", json={"quiet_from": "22:00"}, headers=assessor)
    assert half_quiet.status_code == 422
    assert half_quiet.json()["errors"][0]["field"] == "quiet_to"
    bad_time = await client.put("/api/v1/me/notification-settings", json={"digest_at": "25:00"}, headers=assessor)
    assert bad_time.status_code == 400
    assert (await client.get("/api/v1/me/notification-settings", headers=assessor)).json() == chosen  # unchanged


# ----- the outbox and the dispatcher -----------------------------------------------------------------------------

async def test_a_notice_reaches_the_planners_inbox_within_seconds(client: httpx.AsyncClient, auth: Auth,
                                                                 app: Litestar, smtp: SmtpServer) -> None:
    await choose(client, auth("needs.assessor"), email=PLANNER, email_enabled=True)
    await choose(client, auth("ward.nurse"), email="nurse@ks.test", email_enabled=True)  # the actor's own unit
    runtime = runtime_of(app)
    sender = dispatcher(runtime, smtp)
    sender.start()
    try:
        identity = distinctive_identity()
        committed = datetime.now(UTC)
        case = await notified_case(client, auth, identity)
        [mail] = await smtp.inbox.wait_for(1, within=5)
    finally:
        await sender.stop()
    assert (mail.at - committed).total_seconds() < 5
    assert mail.to == [PLANNER]  # not the ward, whose nurse sent it
    assert "Inskrivningsmeddelande" in mail.text
    assert "Solna" in mail.text  # the unit by name
    assert f"https://samplan.region.test/arende/{case['id']}" in mail.text
    assert_no_personal_data(mail.message.as_string(), identity)
    [row] = await outbox(runtime)
    assert row.status == "sent"
    assert row.sent_at is not None


async def test_the_mail_is_written_with_the_event_and_not_without_it(client: httpx.AsyncClient, auth: Auth,
                                                                   app: Litestar) -> None:
    await choose(client, auth("needs.assessor"), email=PLANNER, email_enabled=True)
    nurse = auth("ward.nurse")
    draft = await register(client, nurse)
    assert await outbox(runtime_of(app)) == []  # a draft tells nobody
    stale = await client.post(f"/api/v1/cases/{draft['id']}/admission-notice",
                              json={"expected_version": draft["version"] + 5}, headers=nurse)
    assert stale.status_code == 409
    assert await outbox(runtime_of(app)) == []  # a refused command queues nothing
    await act(client, nurse, draft, "admission-notice")
    [row] = await outbox(runtime_of(app))
    async with runtime_of(app).sessions() as session:
        event_id = await session.scalar(select(func.max(mail_outbox.MailOutboxRow.dedupe_key)))
    assert event_id is not None
    assert event_id.startswith("event:")
    assert (row.kind, row.event_type, row.unit_id, row.status) == ("notice", "AdmissionNoticeSent", SOLNA_INTAKE,
                                                                   "queued")
    health = (await client.get("/api/v1/admin/mail-health", headers=auth("municipal.admin"))).json()
    [solna] = [u for u in health["units"] if u["unit_id"] == SOLNA_INTAKE]
    assert (solna["queued"], solna["sent"], solna["failed"]) == (1, 0, 0)
    assert solna["oldest_queued_at"] is not None


async def test_a_dispatcher_restart_loses_none_and_duplicates_none(client: httpx.AsyncClient, auth: Auth,
                                                                   app: Litestar) -> None:
    await choose(client, auth("needs.assessor"), email=PLANNER, email_enabled=True)
    runtime = runtime_of(app)
    for _ in range(12):
        await notified_case(client, auth)
    # A dispatcher that claimed rows and died without a word (killed): its lease (2 s) runs out, then they go.
    async with runtime.sessions() as session, session.begin():
        _, abandoned = await mail_outbox.claim(session, datetime.now(UTC), timedelta(seconds=2), 3)
    assert len(abandoned) == 3
    async for smtp in smtp_server(Inbox(delay=0.05)):
        first = dispatcher(runtime, smtp, mail_batch_size=4)
        first.start()
        await smtp.inbox.wait_for(2)
        await first.stop()  # mid-way: finishes the message in hand, gives the rest back
        assert first.sent < 12
        second = dispatcher(runtime, smtp, mail_batch_size=4)
        second.start()
        try:
            received = await smtp.inbox.wait_for(12, within=15)
        finally:
            await second.stop()
    ids = [m.message["X-Samplan-Outbox-Id"] for m in received]
    assert len(ids) == 12
    assert len(set(ids)) == 12
    assert {r.status for r in await outbox(runtime)} == {"sent"}


async def test_two_slow_dispatchers_never_send_one_row_twice(client: httpx.AsyncClient, auth: Auth,
                                                              app: Litestar) -> None:
    """A batch takes longer than the lease: the dispatcher extends its lease before each message, so the other one
    (claiming whatever is free) never takes a row the first will still send."""
    await choose(client, auth("needs.assessor"), email=PLANNER, email_enabled=True)
    runtime = runtime_of(app)
    for _ in range(16):
        await notified_case(client, auth)
    async for smtp in smtp_server(Inbox(delay=0.3)):  # 16 x 0.3 s: well over the 4-second lease
        slow = [dispatcher(runtime, smtp, mail_batch_size=16, mail_lease_seconds=4) for _ in range(2)]
        for d in slow:
            d.start()
        try:
            received = await smtp.inbox.wait_for(16, within=30)
        finally:
            for d in slow:
                await d.stop()
        received = list(smtp.inbox.messages)  # everything, also what came after the sixteenth
    ids = [m.message["X-Samplan-Outbox-Id"] for m in received]
    assert len(ids) == 16
    assert len(set(ids)) == 16
    assert {r.status for r in await outbox(runtime)} == {"sent"}


async def test_a_lease_taken_over_fences_the_first_dispatcher(client: httpx.AsyncClient, auth: Auth,
                                                              app: Litestar) -> None:
    await choose(client, auth("needs.assessor"), email=PLANNER, email_enabled=True)
    runtime = runtime_of(app)
    await notified_case(client, auth)
    now = datetime.now(UTC)
    async with runtime.sessions() as session, session.begin():
        first, [row] = await mail_outbox.claim(session, now, timedelta(seconds=1), 10)
    async with runtime.sessions() as session, session.begin():  # its lease ran out: another claims the row
        second, [again] = await mail_outbox.claim(session, now + timedelta(seconds=2), timedelta(seconds=60), 10)
    assert again.id == row.id
    async with runtime.sessions() as session, session.begin():
        assert await mail_outbox.renew(session, first, [row.id], now + timedelta(seconds=60)) == set()
        # the first one's message was accepted after all: it is recorded as sent (never sent again), and the
        # second one no longer holds it
        assert await mail_outbox.mark_sent(session, first, [row.id], now) == 0
        assert await mail_outbox.renew(session, second, [row.id], now + timedelta(seconds=60)) == set()
    assert [r.status for r in await outbox(runtime)] == ["sent"]


async def test_quiet_hours_hold_a_notice_and_a_digest_gathers_them(client: httpx.AsyncClient, auth: Auth,
                                                                   app: Litestar, smtp: SmtpServer) -> None:
    runtime = runtime_of(app)
    quiet_from = (datetime.now(UTC) - timedelta(hours=1)).astimezone(STOCKHOLM).strftime("%H:%M")
    quiet_to = (datetime.now(UTC) + timedelta(hours=2)).astimezone(STOCKHOLM).strftime("%H:%M")
    await choose(client, auth("needs.assessor"), email=PLANNER, email_enabled=True, quiet_from=quiet_from,
                 quiet_to=quiet_to)
    await notified_case(client, auth)
    [held] = await outbox(runtime)
    assert held.due_at.replace(tzinfo=UTC) > datetime.now(UTC) + timedelta(hours=1)
    sender = dispatcher(runtime, smtp)
    assert await sender.run_once() == 0  # nothing due in the quiet hours
    assert smtp.inbox.messages == []

    await choose(client, auth("needs.assessor"), email=PLANNER, email_enabled=True, delivery="digest",
                 digest_at="07:00")
    await notified_case(client, auth)
    await notified_case(client, auth)
    digests = [r for r in await outbox(runtime) if r.digest]
    assert len(digests) == 2
    assert all(r.due_at.replace(tzinfo=UTC) > datetime.now(UTC) for r in digests)
    async with runtime.sessions() as session, session.begin():  # the digest time has come
        await session.execute(update(MailOutboxRow).where(MailOutboxRow.digest.is_(True))
                              .values(due_at=datetime.now(UTC) - timedelta(seconds=1)))
    assert await sender.run_once() == 2
    [digest] = smtp.inbox.messages
    assert "2 nya händelser" in digest.text
    assert digest.text.count("Inskrivningsmeddelande") == 2
    assert {r.status for r in await outbox(runtime) if r.digest} == {"sent"}


async def test_a_refused_address_fails_the_mail_and_is_reported_to_the_user(
        client: httpx.AsyncClient, auth: Auth, app: Litestar, smtp: SmtpServer) -> None:
    assessor = auth("needs.assessor")
    await choose(client, assessor, email="bounce@solna.test", email_enabled=True)
    await notified_case(client, auth)
    assert await dispatcher(runtime_of(app), smtp).run_once() == 1
    [row] = await outbox(runtime_of(app))
    assert row.status == "failed"
    assert row.error is not None
    assert row.error.startswith("550")
    mine = (await client.get("/api/v1/me/notification-settings", headers=assessor)).json()
    assert mine["address_failed_at"] is not None
    assert "550" in mine["address_failure"]
    fixed = await choose(client, assessor, email=PLANNER, email_enabled=True)
    assert fixed["address_failed_at"] is None  # a new address starts clean

    health = await client.get("/api/v1/admin/mail-health", headers=auth("municipal.admin"))
    assert health.status_code == 200, health.text
    [solna] = [u for u in health.json()["units"] if u["unit_id"] == SOLNA_INTAKE]
    assert (solna["queued"], solna["sent"], solna["failed"]) == (0, 0, 1)
    assert "bounce" not in health.text
    assert "solna.test" not in health.text
    assert (await client.get("/api/v1/admin/mail-health", headers=auth("needs.assessor"))).status_code == 403


# ----- escalation -------------------------------------------------------------------------------------------------

async def test_an_unmet_deadline_notifies_the_unit_then_escalates(client: httpx.AsyncClient, auth: Auth,
                                                                  app: Litestar, smtp: SmtpServer) -> None:
    await choose(client, auth("ward.nurse"), email="nurse@ks.test", email_enabled=True)
    await choose(client, auth("hospital.admin"), email="admin@ks.test", email_enabled=True)
    await choose(client, auth("needs.assessor"), email=PLANNER, email_enabled=True)
    runtime = runtime_of(app)
    # Admitted 26 hours ago, no admission notice: the ward's 24-hour deadline passed 2 hours ago.
    case = await register(client, auth("ward.nurse"), admitted_at=iso(now_utc() - timedelta(hours=26)))
    clock = [datetime.now(UTC)]
    scan = EscalationScan(runtime.uow, runtime.policy, lambda: clock[0],
                          EscalationRules(escalate_after=timedelta(hours=4)))
    assert await scan.run_once() == 1  # overdue: level 1 (at risk is past: not sent as well)
    assert await scan.run_once() == 0  # once per threshold, however often it scans
    sender = dispatcher(runtime, smtp, clock=lambda: clock[0])
    await sender.run_once()
    [overdue] = smtp.inbox.messages
    assert overdue.to == ["nurse@ks.test"]  # the responsible unit (the ward); not the municipality
    assert "passerats" in overdue.text
    assert f"/arende/{case['id']}" in overdue.text

    board = await client.get("/api/v1/cases", params={"unit_id": WARD}, headers=auth("ward.nurse"))
    assert [c["escalated"] for c in board.json()["items"] if c["id"] == case["id"]] == [False]

    clock[0] += timedelta(hours=3)  # still unmet 4 hours after the deadline: the coordinator / local admin
    assert await scan.run_once() == 1
    await sender.run_once()
    escalated = smtp.inbox.to("admin@ks.test")
    assert len(escalated) == 1
    assert "Eskalerad" in escalated[0].text
    assert len(smtp.inbox.to("nurse@ks.test")) == 1
    board = await client.get("/api/v1/cases", params={"unit_id": WARD}, headers=auth("ward.nurse"))
    assert [c["escalated"] for c in board.json()["items"] if c["id"] == case["id"]] == [True]
    async with runtime.sessions() as session:
        levels = sorted(await session.scalars(select(DeadlineEscalationRow.level)))
    assert levels == [1, 2]


async def test_an_unmet_sip_invitation_deadline_escalates_to_primary_care(
        client: httpx.AsyncClient, auth: Auth, app: Litestar, smtp: SmtpServer) -> None:
    await choose(client, auth("care.contact"), email="vc@ronnviken.test", email_enabled=True)
    runtime = runtime_of(app)
    nurse, contact = auth("ward.nurse"), auth("care.contact")
    case = await notified_case(client, auth)
    case = await act(client, contact, case, "sip-applicability", applies=True)
    case = await act(client, nurse, case, "ready-for-discharge")
    clock = [datetime.now(UTC) + timedelta(days=3, hours=1)]  # the SIP invitation was due 3 days after ready
    scan = EscalationScan(runtime.uow, runtime.policy, lambda: clock[0],
                          EscalationRules(escalate_after=timedelta(hours=4)))
    assert await scan.run_once() >= 1
    await dispatcher(runtime, smtp, clock=lambda: clock[0]).run_once()
    # (besides the notices to Rönnviken: the admission notice, ready for discharge)
    [mail] = [m for m in smtp.inbox.to("vc@ronnviken.test") if "passerats" in m.text]  # primary care calls SIP
    assert f"/arende/{case['id']}" in mail.text
    async with runtime.sessions() as session:
        units = await session.scalar(select(DeadlineEscalationRow.unit_ids).where(
            DeadlineEscalationRow.case_id == case["id"], DeadlineEscalationRow.level == 1))
    assert units is not None
    assert RONNVIKEN in units


# ----- no personal data in any template ---------------------------------------------------------------------------

async def test_no_template_carries_personal_data(client: httpx.AsyncClient, auth: Auth, app: Litestar) -> None:
    identity = distinctive_identity()
    case = await notified_case(client, auth, identity)
    items = [MailItem(kind, event_type, "Solna stad, mottagning", aggregate, case["id"])
             for kind in TEMPLATES for event_type in [None, *KIND_NAMES]
             for aggregate in ("discharge_case", "sip_plan")]
    texts = ["\n".join(render(item, "https://samplan.region.test")) for item in items]
    texts.append("\n".join(render_digest(items, "https://samplan.region.test")))
    for text in texts:
        assert_no_personal_data(text, identity)
        assert case["id"] in text
    # The fields a template can use are the item's: ids, codes and a unit's name (nothing of the person).
    assert set(MailItem.__dataclass_fields__) == {"kind", "event_type", "unit_name", "aggregate_type",
                                                   "aggregate_id"}
