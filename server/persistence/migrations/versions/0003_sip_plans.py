"""SIP plans: the plan document with its listing columns, and the units that see each plan

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 02:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sip_plans",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("patient_id", sa.String(length=36), nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=True),
        sa.Column("owner_unit_id", sa.String(length=36), nullable=False),
        sa.Column("state", sa.String(length=30), nullable=False),
        sa.Column("next_follow_up_on", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["discharge_cases.id"], name=op.f("fk_sip_plans_case_id_discharge_cases"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["owner_unit_id"], ["units.id"], name=op.f("fk_sip_plans_owner_unit_id_units")),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"], name=op.f("fk_sip_plans_patient_id_patients"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sip_plans")),
    )
    with op.batch_alter_table("sip_plans", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sip_plans_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_sip_plans_owner_unit_id"), ["owner_unit_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_sip_plans_patient_id"), ["patient_id"], unique=False)
        batch_op.create_index("ix_sip_plans_state_follow_up", ["state", "next_follow_up_on"], unique=False)

    op.create_table(
        "sip_plan_units",
        sa.Column("plan_id", sa.String(length=36), nullable=False),
        sa.Column("unit_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(["plan_id"], ["sip_plans.id"], name=op.f("fk_sip_plan_units_plan_id_sip_plans"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"], name=op.f("fk_sip_plan_units_unit_id_units")),
        sa.PrimaryKeyConstraint("plan_id", "unit_id", name=op.f("pk_sip_plan_units")),
    )
    with op.batch_alter_table("sip_plan_units", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sip_plan_units_unit_id"), ["unit_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sip_plan_units", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sip_plan_units_unit_id"))
    op.drop_table("sip_plan_units")
    with op.batch_alter_table("sip_plans", schema=None) as batch_op:
        batch_op.drop_index("ix_sip_plans_state_follow_up")
        batch_op.drop_index(batch_op.f("ix_sip_plans_patient_id"))
        batch_op.drop_index(batch_op.f("ix_sip_plans_owner_unit_id"))
        batch_op.drop_index(batch_op.f("ix_sip_plans_case_id"))
    op.drop_table("sip_plans")
