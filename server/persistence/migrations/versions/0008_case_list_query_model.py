"""case list query model: state, admission time and deadline thresholds on case_participants

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-08 10:00:00.000000

The case list (`GET /cases`) is answered from `case_participants` (server/queries/cases.py): per unit that sees a
case, the case's state, admission time and the two deadline thresholds of `domain.deadlines.deadline_thresholds`
(the earliest moment an unmet deadline is at risk, the earliest it is overdue). The repository writes them with
every save; this migration backfills them from the stored documents, with the payment policy named by
SAMPLAN_PAYMENT_POLICY (as the API reads it). Indexes: (unit_id, admitted_at, case_id) for a unit's list in
admission order, (unit_id, state, admitted_at) for a state filter.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import UTC

import msgspec
import sqlalchemy as sa
from alembic import op

from domain.deadlines import deadline_thresholds
from domain.discharge_case import DischargeCase
from domain.payment import PRESETS

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 500


def upgrade() -> None:
    with op.batch_alter_table("case_participants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("state", sa.String(length=30), nullable=True))
        batch_op.add_column(sa.Column("admitted_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("at_risk_from", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("overdue_from", sa.DateTime(timezone=True), nullable=True))
    backfill()
    with op.batch_alter_table("case_participants", schema=None) as batch_op:
        batch_op.alter_column("state", existing_type=sa.String(length=30), nullable=False)
        batch_op.alter_column("admitted_at", existing_type=sa.DateTime(timezone=True), nullable=False)
        batch_op.create_index("ix_case_participants_unit_admitted", ["unit_id", "admitted_at", "case_id"])
        batch_op.create_index("ix_case_participants_unit_state_admitted", ["unit_id", "state", "admitted_at"])


def backfill() -> None:
    """Every case's columns from its document (the one truth), in batches of cases. A document that does not
    decode as a case (none should) keeps its row's state and admission time, without deadline thresholds."""
    policy = PRESETS[os.environ.get("SAMPLAN_PAYMENT_POLICY", "stockholm_2020")]
    bind = op.get_bind()
    cases = sa.table("discharge_cases", sa.column("id", sa.String), sa.column("version", sa.Integer),
                     sa.column("state", sa.String), sa.column("admitted_at", sa.DateTime(timezone=True)),
                     sa.column("document", sa.JSON))
    participants = sa.table("case_participants", sa.column("case_id", sa.String), sa.column("state", sa.String),
                            sa.column("admitted_at", sa.DateTime(timezone=True)),
                            sa.column("at_risk_from", sa.DateTime(timezone=True)),
                            sa.column("overdue_from", sa.DateTime(timezone=True)))
    last = ""
    while True:
        rows = bind.execute(sa.select(cases.c.id, cases.c.version, cases.c.state, cases.c.admitted_at,
                                      cases.c.document).where(cases.c.id > last)
                            .order_by(cases.c.id).limit(BATCH)).all()
        if not rows:
            return
        for case_id, version, state, admitted_at, document in rows:
            values = {"state": state, "admitted_at": admitted_at, "at_risk_from": None, "overdue_from": None}
            try:
                case = msgspec.convert({**document, "version": version}, DischargeCase, strict=False)
            except msgspec.ValidationError:
                pass
            else:
                thresholds = deadline_thresholds(case, policy)
                values = {"state": str(case.state), "admitted_at": case.admitted_at.astimezone(UTC),
                          "at_risk_from": thresholds.at_risk_from, "overdue_from": thresholds.overdue_from}
            bind.execute(participants.update().where(participants.c.case_id == case_id).values(**values))
        last = rows[-1][0]


def downgrade() -> None:
    with op.batch_alter_table("case_participants", schema=None) as batch_op:
        batch_op.drop_index("ix_case_participants_unit_state_admitted")
        batch_op.drop_index("ix_case_participants_unit_admitted")
        batch_op.drop_column("overdue_from")
        batch_op.drop_column("at_risk_from")
        batch_op.drop_column("admitted_at")
        batch_op.drop_column("state")
