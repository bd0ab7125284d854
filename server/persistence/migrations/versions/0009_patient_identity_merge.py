"""patients: a reserve number merged into the person's real identity

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-08 12:00:00.000000

A patient row of a reserve number (*reservnummer*) whose person has been identified points at the row of the real
identity (`merged_into_patient_id`, with `merged_at`); its cases and plans were moved there
(server/services/patient_merge.py). The row itself stays: the access log's rows name it, and the log search by the
real identity finds them through this link.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.add_column(sa.Column("merged_into_patient_id", sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column("merged_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key(batch_op.f("fk_patients_merged_into_patient_id_patients"), "patients",
                                    ["merged_into_patient_id"], ["id"])
        batch_op.create_index(batch_op.f("ix_patients_merged_into_patient_id"), ["merged_into_patient_id"])


def downgrade() -> None:
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_patients_merged_into_patient_id"))
        batch_op.drop_constraint(batch_op.f("fk_patients_merged_into_patient_id_patients"), type_="foreignkey")
        batch_op.drop_column("merged_at")
        batch_op.drop_column("merged_into_patient_id")
