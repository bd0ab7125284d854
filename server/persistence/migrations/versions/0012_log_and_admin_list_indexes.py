"""log review and admin lists: keyset indexes, and a casefolded user search key

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-08 05:00:00.000000

Log review pages newest first by (at, id) with at most one filter column in front (server/services/audit.py): the
single-column indexes of the access log on `at`, `user_id` and `unit_id` and the (patient_id, at), (unit_id, at)
pairs become (x, at, id), with new ones for the HSA-id and the action. Indexes only: the access log's rows, its
chain and its append-only triggers (0002, 0007) are untouched, and SQLite's table is never recreated (no batch
mode on `access_log`). On PostgreSQL the indexes are built CONCURRENTLY, so writers (every request writes the
access log) are not blocked while a five-year log is indexed.

The admin lists (server/services/admin.py) page by (name, id) per organisation and the admin log by id; users are
searched by `users.search_key` (name, username, title and HSA-id, NFKC-normalised and casefolded in Python, so
"åberg" finds "Åberg" on SQLite as on PostgreSQL), backfilled here as the model's default writes it.

(Another helper's 0010 was written in parallel; this revision is re-pointed at it when both are merged.)
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from server.persistence.models import user_search_key

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_ACCESS_LOG = (("ix_access_log_at", ["at"]), ("ix_access_log_user_id", ["user_id"]),
                  ("ix_access_log_unit_id", ["unit_id"]), ("ix_access_log_patient_at", ["patient_id", "at"]),
                  ("ix_access_log_unit_at", ["unit_id", "at"]))
NEW_ACCESS_LOG = (("ix_access_log_at_id", ["at", "id"]), ("ix_access_log_patient_at_id", ["patient_id", "at", "id"]),
                  ("ix_access_log_unit_at_id", ["unit_id", "at", "id"]),
                  ("ix_access_log_user_at_id", ["user_id", "at", "id"]),
                  ("ix_access_log_user_hsa_at_id", ["user_hsa_id", "at", "id"]),
                  ("ix_access_log_action_at_id", ["action", "at", "id"]))
OTHER_NEW = (("ix_organisations_name_id", "organisations", ["name", "id"]),
             ("ix_units_organisation_name_id", "units", ["organisation_id", "name", "id"]),
             ("ix_users_organisation_name", "users", ["organisation_id", "display_name", "username"]),
             ("ix_admin_log_organisation_id_id", "admin_log", ["organisation_id", "id"]))


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _create(name: str, table: str, columns: list[str]) -> None:
    if _postgresql():
        with op.get_context().autocommit_block():
            op.create_index(name, table, columns, postgresql_concurrently=True, if_not_exists=True)
    else:
        op.create_index(name, table, columns)


def _drop(name: str, table: str) -> None:
    if _postgresql():
        with op.get_context().autocommit_block():
            op.drop_index(name, table_name=table, postgresql_concurrently=True, if_exists=True)
    else:
        op.drop_index(name, table_name=table)


def upgrade() -> None:
    for name, columns in NEW_ACCESS_LOG:
        _create(name, "access_log", columns)
    for name, _ in OLD_ACCESS_LOG:
        _drop(name, "access_log")
    for name, table, columns in OTHER_NEW:
        _create(name, table, columns)
    _drop("ix_admin_log_organisation_id", "admin_log")

    op.add_column("users", sa.Column("search_key", sa.String(length=600), nullable=True))
    users = sa.table("users", sa.column("id", sa.String), sa.column("display_name", sa.String),
                     sa.column("username", sa.String), sa.column("title", sa.String), sa.column("hsa_id", sa.String),
                     sa.column("search_key", sa.String))
    bind = op.get_bind()
    rows = bind.execute(sa.select(users.c.id, users.c.display_name, users.c.username, users.c.title,
                                  users.c.hsa_id)).all()
    if rows:
        bind.execute(users.update().where(users.c.id == sa.bindparam("user_id")).values(
            search_key=sa.bindparam("key")), [{"user_id": r[0], "key": user_search_key(*r[1:])} for r in rows])
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.alter_column("search_key", existing_type=sa.String(length=600), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("search_key")
    _create("ix_admin_log_organisation_id", "admin_log", ["organisation_id"])
    for name, table, _ in OTHER_NEW:
        _drop(name, table)
    for name, columns in OLD_ACCESS_LOG:
        _create(name, "access_log", columns)
    for name, _ in NEW_ACCESS_LOG:
        _drop(name, "access_log")
