"""Tables of e-mail notices (migration 0014), on the same declarative `Base` as the other models.

- `notification_settings`: one row per user who chose anything: the address and which unit events reach them by
  e-mail, immediately or as a digest, and their quiet hours; the last refusal of the address (shown to the user).
- `mail_outbox`: one row per (event, user) to send, written in the transaction of the event that causes it
  (`dedupe_key` unique: a retried write adds nothing). The dispatcher claims due rows with a lease and marks
  them sent or failed (`server/mail_dispatcher.py`). Ids and codes only: the text is rendered when sent.
- `deadline_escalations`: that a case's unmet deadline threshold was notified at a level (0 at risk, 1 overdue,
  2 escalated to the coordinator or local administrator); the key makes the periodic scan idempotent.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from server.persistence.models import Base, BigId, Id, Moment


class NotificationSettingsRow(Base):
    __tablename__ = "notification_settings"
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), primary_key=True)
    email: Mapped[str | None] = mapped_column(String(254))
    email_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    notices: Mapped[bool] = mapped_column(Boolean, default=True)
    deadlines: Mapped[bool] = mapped_column(Boolean, default=True)
    sip_meetings: Mapped[bool] = mapped_column(Boolean, default=True)
    delivery: Mapped[str] = mapped_column(String(10), default="immediate")  # "immediate" / "digest"
    digest_at: Mapped[str] = mapped_column(String(5), default="07:00")  # local time (Europe/Stockholm)
    quiet_from: Mapped[str | None] = mapped_column(String(5))
    quiet_to: Mapped[str | None] = mapped_column(String(5))
    address_failed_at: Mapped[datetime | None] = mapped_column(Moment)
    address_failure: Mapped[str | None] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(Moment)


class MailOutboxRow(Base):
    __tablename__ = "mail_outbox"
    __table_args__ = (Index("ix_mail_outbox_queued_due", "due_at", postgresql_where=text("status = 'queued'"),
                            sqlite_where=text("status = 'queued'")),
                      Index("ix_mail_outbox_unit_status", "unit_id", "status"))
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    dedupe_key: Mapped[str] = mapped_column(String(160), unique=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    unit_id: Mapped[str] = mapped_column(Id)  # the unit the notice is about (the recipient works there)
    kind: Mapped[str] = mapped_column(String(30))  # notice, sip_meeting, deadline_at_risk, deadline_overdue, ...
    event_type: Mapped[str | None] = mapped_column(String(60))
    aggregate_type: Mapped[str] = mapped_column(String(30))
    aggregate_id: Mapped[str] = mapped_column(Id)
    created_at: Mapped[datetime] = mapped_column(Moment)
    due_at: Mapped[datetime] = mapped_column(Moment)  # not before (quiet hours, digest time)
    digest: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(10), default="queued")  # queued / sent / failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_until: Mapped[datetime | None] = mapped_column(Moment)
    lease_token: Mapped[str | None] = mapped_column(String(36))  # whose lease: every later write checks it
    sent_at: Mapped[datetime | None] = mapped_column(Moment)
    error: Mapped[str | None] = mapped_column(String(200))


class DeadlineEscalationRow(Base):
    __tablename__ = "deadline_escalations"
    case_id: Mapped[str] = mapped_column(ForeignKey("discharge_cases.id"), primary_key=True)
    level: Mapped[int] = mapped_column(Integer, primary_key=True)
    threshold: Mapped[datetime] = mapped_column(Moment, primary_key=True)  # at_risk_from (0) / overdue_from (1, 2)
    unit_ids: Mapped[list[Any]] = mapped_column(JSON)  # the responsible units notified
    escalated_at: Mapped[datetime] = mapped_column(Moment)
