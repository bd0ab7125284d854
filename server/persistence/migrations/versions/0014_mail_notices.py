"""e-mail notices: per-user settings, the mail outbox and deadline escalations

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-08 06:00:00.000000

`notification_settings` (a user's address and choices), `mail_outbox` (one row per event and user, written in the
event's transaction; the dispatcher claims due rows with a lease) and `deadline_escalations` (the periodic scan's
idempotency key), plus indexes on `case_participants.at_risk_from` and `overdue_from` so the escalation scan reads only cases
whose threshold passed
(server/persistence/mail_models.py, docs/operations.md "E-mail notices").
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MOMENT = sa.DateTime(timezone=True)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "notification_settings",
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("email_enabled", sa.Boolean(), nullable=False),
        sa.Column("notices", sa.Boolean(), nullable=False),
        sa.Column("deadlines", sa.Boolean(), nullable=False),
        sa.Column("sip_meetings", sa.Boolean(), nullable=False),
        sa.Column("delivery", sa.String(length=10), nullable=False),
        sa.Column("digest_at", sa.String(length=5), nullable=False),
        sa.Column("quiet_from", sa.String(length=5), nullable=True),
        sa.Column("quiet_to", sa.String(length=5), nullable=True),
        sa.Column("address_failed_at", MOMENT, nullable=True),
        sa.Column("address_failure", sa.String(length=200), nullable=True),
        sa.Column("updated_at", MOMENT, nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_notification_settings_user_id_users")),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_notification_settings")),
    )
    op.create_table(
        "mail_outbox",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("dedupe_key", sa.String(length=160), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("unit_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("event_type", sa.String(length=60), nullable=True),
        sa.Column("aggregate_type", sa.String(length=30), nullable=False),
        sa.Column("aggregate_id", sa.String(length=36), nullable=False),
        sa.Column("created_at", MOMENT, nullable=False),
        sa.Column("due_at", MOMENT, nullable=False),
        sa.Column("digest", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_until", MOMENT, nullable=True),
        sa.Column("lease_token", sa.String(length=36), nullable=True),
        sa.Column("sent_at", MOMENT, nullable=True),
        sa.Column("error", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_mail_outbox_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_outbox")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_mail_outbox_dedupe_key")),
    )
    op.create_index(op.f("ix_mail_outbox_user_id"), "mail_outbox", ["user_id"])
    op.create_index("ix_mail_outbox_unit_status", "mail_outbox", ["unit_id", "status"])
    op.create_index("ix_mail_outbox_queued_due", "mail_outbox", ["due_at"],
                    postgresql_where=sa.text("status = 'queued'"), sqlite_where=sa.text("status = 'queued'"))
    op.create_table(
        "deadline_escalations",
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("threshold", MOMENT, nullable=False),
        sa.Column("unit_ids", sa.JSON(), nullable=False),
        sa.Column("escalated_at", MOMENT, nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["discharge_cases.id"],
                                name=op.f("fk_deadline_escalations_case_id_discharge_cases")),
        sa.PrimaryKeyConstraint("case_id", "level", "threshold", name=op.f("pk_deadline_escalations")),
    )
    with op.batch_alter_table("case_participants", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_participants_at_risk_from"), ["at_risk_from"])
        batch_op.create_index(batch_op.f("ix_case_participants_overdue_from"), ["overdue_from"])


def downgrade() -> None:
    with op.batch_alter_table("case_participants", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_participants_overdue_from"))
        batch_op.drop_index(batch_op.f("ix_case_participants_at_risk_from"))
    op.drop_table("deadline_escalations")
    op.drop_index("ix_mail_outbox_queued_due", table_name="mail_outbox")
    op.drop_index("ix_mail_outbox_unit_status", table_name="mail_outbox")
    op.drop_index(op.f("ix_mail_outbox_user_id"), table_name="mail_outbox")
    op.drop_table("mail_outbox")
    op.drop_table("notification_settings")
