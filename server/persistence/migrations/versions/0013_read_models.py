"""read models: inbox state, name search key and open flag per case and unit; the SIP list's columns per plan and unit

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-08 05:00:00.000000

`case_participants` gains, per unit that sees a case: `is_open` (the server decides what is open), the unit's
inbox state (`in_inbox`, `unread`: the notices it has not acknowledged, `has_unread`, `inbox_at`: the inbox order
key) and `name_key` (the patient's normalised name, for "Sök patient" by prefix). `sip_plan_units` gains the SIP
list's columns (`state`, `follow_up_key`, `created_at`). Every row is then written again from the stored documents
by `server.persistence.read_models.rebuild_read_models_sync` (the one mapping from an aggregate to its query rows),
with the payment policy named by SAMPLAN_PAYMENT_POLICY, as the API reads it. Indexes for every list's filter and
order: the open list by admission, the overdue filter of open cases, the inbox (keyset), the name prefix, the SIP
list by follow-up.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from domain.payment import PRESETS
from server.persistence.read_models import rebuild_read_models_sync

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("case_participants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("is_open", sa.Boolean(), server_default=sa.true(), nullable=False))
        batch_op.add_column(sa.Column("in_inbox", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column("unread", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("has_unread", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column("inbox_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("name_key", sa.String(length=200), server_default="", nullable=False))
    with op.batch_alter_table("sip_plan_units", schema=None) as batch_op:
        batch_op.add_column(sa.Column("state", sa.String(length=30), server_default="", nullable=False))
        batch_op.add_column(sa.Column("follow_up_key", sa.Date(), server_default="9999-12-31", nullable=False))
        batch_op.add_column(sa.Column("created_at", sa.DateTime(timezone=True), nullable=True))
    rebuild_read_models_sync(op.get_bind(), policy=PRESETS[os.environ.get("SAMPLAN_PAYMENT_POLICY", "stockholm_2020")])
    with op.batch_alter_table("case_participants", schema=None) as batch_op:
        batch_op.create_index("ix_case_participants_unit_open_admitted", ["unit_id", "is_open", "admitted_at",
                                                                          "case_id"])
        batch_op.create_index("ix_case_participants_unit_open_overdue", ["unit_id", "is_open", "overdue_from"])
        batch_op.create_index("ix_case_participants_inbox", ["unit_id", "in_inbox", "has_unread", "inbox_at",
                                                             "case_id"])
        batch_op.create_index("ix_case_participants_unit_name", ["unit_id", "name_key"],
                              postgresql_ops={"name_key": "text_pattern_ops"})
    with op.batch_alter_table("sip_plan_units", schema=None) as batch_op:
        batch_op.create_index("ix_sip_plan_units_unit_follow_up", ["unit_id", "follow_up_key", "created_at",
                                                                   "plan_id"])
        batch_op.create_index("ix_sip_plan_units_unit_state_follow_up", ["unit_id", "state", "follow_up_key"])


def downgrade() -> None:
    with op.batch_alter_table("sip_plan_units", schema=None) as batch_op:
        batch_op.drop_index("ix_sip_plan_units_unit_state_follow_up")
        batch_op.drop_index("ix_sip_plan_units_unit_follow_up")
        batch_op.drop_column("created_at")
        batch_op.drop_column("follow_up_key")
        batch_op.drop_column("state")
    with op.batch_alter_table("case_participants", schema=None) as batch_op:
        batch_op.drop_index("ix_case_participants_unit_name")
        batch_op.drop_index("ix_case_participants_inbox")
        batch_op.drop_index("ix_case_participants_unit_open_overdue")
        batch_op.drop_index("ix_case_participants_unit_open_admitted")
        batch_op.drop_column("name_key")
        batch_op.drop_column("inbox_at")
        batch_op.drop_column("has_unread")
        batch_op.drop_column("unread")
        batch_op.drop_column("in_inbox")
        batch_op.drop_column("is_open")
