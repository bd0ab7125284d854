"""Users: when their identifying claim (HSA-id) last changed; units: a recorded cross-municipal routing agreement

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-08 09:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Null for existing users: no token of theirs is refused by the upgrade; set on creation and on an HSA-id change.
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("identity_changed_at", sa.DateTime(timezone=True), nullable=True))
    # Null: the unit serves only its own organisation's municipality (no agreement recorded).
    with op.batch_alter_table("units", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cross_municipal_agreement", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("units", schema=None) as batch_op:
        batch_op.drop_column("cross_municipal_agreement")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("identity_changed_at")
