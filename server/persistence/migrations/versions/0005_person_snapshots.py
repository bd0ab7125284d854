"""Patient identity by design: each case and plan keeps its own copy of the person's details; the shared patient
row keeps only the identity and its protection (docs/adr/0002-patient-identity.md)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 22:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("discharge_cases", "sip_plans")
# snapshot column -> the patients column it is copied from
COPIED = {"person_name": "name", "person_address": "address", "person_municipality_code": "municipality_code",
          "person_listed_unit_id": "listed_unit_id"}
PATIENTS = sa.table("patients", sa.column("id"), *(sa.column(c) for c in COPIED.values()))


def _table(name: str, *columns: str) -> sa.TableClause:
    return sa.table(name, sa.column("patient_id"), *(sa.column(c) for c in columns))


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("person_name", sa.String(length=200), nullable=True))
            batch_op.add_column(sa.Column("person_address", sa.String(length=300), nullable=True))
            batch_op.add_column(sa.Column("person_municipality_code", sa.String(length=4), nullable=True))
            batch_op.add_column(sa.Column("person_listed_unit_id", sa.String(length=36), nullable=True))
        # Every existing case and plan keeps the details the patient row has now (the last registration's).
        target = _table(table, *COPIED)
        op.execute(target.update().values({
            column: sa.select(PATIENTS.c[source]).where(PATIENTS.c.id == target.c.patient_id).scalar_subquery()
            for column, source in COPIED.items()}))
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column("person_name", existing_type=sa.String(length=200), nullable=False)
            batch_op.alter_column("person_address", existing_type=sa.String(length=300), nullable=False)
            batch_op.alter_column("person_municipality_code", existing_type=sa.String(length=4), nullable=False)
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("fk_patients_listed_unit_id_units"), type_="foreignkey")
        batch_op.drop_column("listed_unit_id")
        batch_op.drop_column("municipality_code")
        batch_op.drop_column("address")
        batch_op.drop_column("name")


def downgrade() -> None:
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.add_column(sa.Column("name", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("address", sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column("municipality_code", sa.String(length=4), nullable=True))
        batch_op.add_column(sa.Column("listed_unit_id", sa.String(length=36), nullable=True))
    # Back to one set of details per person: those of the person's latest case (else latest plan).
    for table, order in (("sip_plans", "created_at"), ("discharge_cases", "admitted_at")):
        source_table = _table(table, *COPIED, order)
        mine = source_table.c.patient_id == PATIENTS.c.id
        op.execute(PATIENTS.update().where(sa.exists().where(mine)).values({
            source: sa.select(source_table.c[column]).where(mine).order_by(source_table.c[order].desc()).limit(1)
            .scalar_subquery() for column, source in COPIED.items()}))
    for column in ("name", "address", "municipality_code"):
        op.execute(PATIENTS.update().where(PATIENTS.c[column].is_(None)).values({column: ""}))
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.alter_column("name", existing_type=sa.String(length=200), nullable=False)
        batch_op.alter_column("address", existing_type=sa.String(length=300), nullable=False)
        batch_op.alter_column("municipality_code", existing_type=sa.String(length=4), nullable=False)
        batch_op.create_foreign_key(op.f("fk_patients_listed_unit_id_units"), "units", ["listed_unit_id"], ["id"])
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("person_listed_unit_id")
            batch_op.drop_column("person_municipality_code")
            batch_op.drop_column("person_address")
            batch_op.drop_column("person_name")
