"""access log: keyed chain (HMAC-SHA256), signed purge checkpoints, append-only chain head and checkpoints

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-08 09:00:00.000000

The sealer now chains rows with HMAC-SHA256 under a key kept outside the database (server/access_log.py);
`access_log.key_id` names the key a row was sealed with. Rows sealed before this migration keep their unkeyed
SHA-256 and `key_id` NULL, and still verify: the first keyed row's hash covers the last unkeyed one, so they
cannot be re-hashed without the key either. Purge checkpoints get a MAC (`key_id`, `mac`; NULL on the old ones).

Triggers: the sealing UPDATE of `access_log` must now fill `key_id` too (an unkeyed sealer, e.g. an API of the
previous release still running, is refused and retries, instead of sealing rows verification would reject);
`access_log_chain` (the head) only moves forward, to a sealed row with that hash; `access_log_checkpoints` is
insert-only, and only signed checkpoints go in.

Downgrading drops `key_id` and `mac`: rows sealed with the key then no longer verify with the older release.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GENESIS = "0" * 64  # the chain's start (server.access_log.GENESIS; a migration does not import the application)
SEAL_COLUMNS = ("seq", "prev_hash", "row_hash", "key_id")
# Every other column of access_log: the sealing UPDATE must leave them as they are. (PostgreSQL compares whole
# rows; SQLite needs the list. A later migration that adds a column to access_log must recreate the trigger.)
CONTENT_COLUMNS = ("id", "at", "user_id", "user_hsa_id", "unit_id", "patient_id", "case_id", "action", "purpose")


def upgrade() -> None:
    with op.batch_alter_table("access_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("key_id", sa.String(length=16), nullable=True))
    with op.batch_alter_table("access_log_checkpoints", schema=None) as batch_op:
        batch_op.add_column(sa.Column("key_id", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("mac", sa.String(length=64), nullable=True))
    dialect = op.get_bind().dialect.name
    for statement in DROP_TRIGGERS[dialect] + TRIGGERS[dialect]:
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for statement in DROP_TRIGGERS[dialect]:
        op.execute(statement)
    with op.batch_alter_table("access_log_checkpoints", schema=None) as batch_op:
        batch_op.drop_column("mac")
        batch_op.drop_column("key_id")
    with op.batch_alter_table("access_log", schema=None) as batch_op:
        batch_op.drop_column("key_id")
    for statement in PREVIOUS_TRIGGERS[dialect]:
        op.execute(statement)


def _access_log_function(seal_columns: Sequence[str]) -> str:
    """The access_log trigger function of PostgreSQL: the sealing fills `seal_columns` once, changing nothing else;
    DELETE only of sealed rows older than 5 years behind a purge checkpoint."""
    columns = ", ".join(f"'{c}'" for c in seal_columns)
    return f"""
    CREATE OR REPLACE FUNCTION access_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        -- the sealer: fills the empty seal columns once, and changes nothing else
        IF TG_OP = 'UPDATE' AND {" AND ".join(f"OLD.{c} IS NULL AND NEW.{c} IS NOT NULL" for c in seal_columns)}
            AND to_jsonb(NEW) - ARRAY[{columns}] = to_jsonb(OLD) - ARRAY[{columns}]
        THEN
            RETURN NEW;
        END IF;
        IF TG_OP = 'DELETE' AND OLD.seq IS NOT NULL AND OLD.at < now() - interval '5 years' AND EXISTS (
            SELECT 1 FROM access_log_checkpoints c WHERE c.next_seq > OLD.seq) THEN
            RETURN OLD;
        END IF;
        RAISE EXCEPTION 'access_log is append-only (% refused)', TG_OP USING ERRCODE = 'insufficient_privilege';
    END;
    $$
    """  # noqa: S608 (constant column names)


POSTGRES_TRIGGERS = [
    _access_log_function(SEAL_COLUMNS),
    # The chain head: started once (migration 0002, or server.access_log._lock_head when it was lost), then moved
    # forward by the sealer only, to the row it has just sealed. Setting it back (to hide a removed tail) is refused.
    f"""
    CREATE FUNCTION access_log_chain_forward_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'INSERT' AND NEW.id = 1 AND NEW.last_seq = 0 AND NEW.last_hash = '{GENESIS}' THEN
            RETURN NEW;
        END IF;
        IF TG_OP = 'UPDATE' AND NEW.id = OLD.id AND NEW.last_seq > OLD.last_seq AND EXISTS (
            SELECT 1 FROM access_log a WHERE a.seq = NEW.last_seq AND a.row_hash = NEW.last_hash) THEN
            RETURN NEW;
        END IF;
        RAISE EXCEPTION 'access_log_chain is append-only: it only moves forward (% refused)', TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END;
    $$
    """,  # noqa: S608 (a constant)
    "CREATE TRIGGER access_log_chain_forward_only BEFORE INSERT OR UPDATE OR DELETE ON access_log_chain "
    "FOR EACH ROW EXECUTE FUNCTION access_log_chain_forward_only()",
    "CREATE TRIGGER access_log_chain_no_truncate BEFORE TRUNCATE ON access_log_chain "
    "FOR EACH STATEMENT EXECUTE FUNCTION access_log_chain_forward_only()",
    # Purge checkpoints: insert-only, and only signed ones (an unsigned one would pass for one from before 0007).
    """
    CREATE FUNCTION access_log_checkpoints_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'INSERT' AND NEW.key_id IS NOT NULL AND NEW.mac IS NOT NULL THEN
            RETURN NEW;
        END IF;
        RAISE EXCEPTION 'access_log_checkpoints is append-only (% refused)', TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END;
    $$
    """,
    "CREATE TRIGGER access_log_checkpoints_append_only BEFORE INSERT OR UPDATE OR DELETE ON access_log_checkpoints "
    "FOR EACH ROW EXECUTE FUNCTION access_log_checkpoints_append_only()",
    "CREATE TRIGGER access_log_checkpoints_no_truncate BEFORE TRUNCATE ON access_log_checkpoints "
    "FOR EACH STATEMENT EXECUTE FUNCTION access_log_checkpoints_append_only()",
]


def _sqlite_access_log_triggers(seal_columns: Sequence[str]) -> list[str]:
    sealing = " AND ".join([f"OLD.{c} IS NULL AND NEW.{c} IS NOT NULL" for c in seal_columns]
                           + [f"NEW.{c} IS OLD.{c}" for c in CONTENT_COLUMNS])
    return [
        "CREATE TRIGGER access_log_no_update BEFORE UPDATE ON access_log "
        f"WHEN NOT ({sealing}) "
        "BEGIN SELECT RAISE(ABORT, 'access_log is append-only (UPDATE refused)'); END",
        "CREATE TRIGGER access_log_no_delete BEFORE DELETE ON access_log "
        "WHEN NOT (OLD.seq IS NOT NULL AND OLD.at < datetime('now', '-5 years') AND EXISTS ("
        "SELECT 1 FROM access_log_checkpoints c WHERE c.next_seq > OLD.seq)) "
        "BEGIN SELECT RAISE(ABORT, 'access_log is append-only (DELETE refused)'); END",
    ]


# Every trigger that protects the access log on SQLite after this migration (tests that play a superuser who
# removes the protection drop and recreate exactly these).
SQLITE_TRIGGERS = [
    *_sqlite_access_log_triggers(SEAL_COLUMNS),
    "CREATE TRIGGER access_log_chain_no_insert BEFORE INSERT ON access_log_chain "
    f"WHEN NOT (NEW.id = 1 AND NEW.last_seq = 0 AND NEW.last_hash = '{GENESIS}') "
    "BEGIN SELECT RAISE(ABORT, 'access_log_chain is append-only: it only moves forward (INSERT refused)'); END",
    "CREATE TRIGGER access_log_chain_no_update BEFORE UPDATE ON access_log_chain "
    "WHEN NOT (NEW.id = OLD.id AND NEW.last_seq > OLD.last_seq AND EXISTS ("
    "SELECT 1 FROM access_log a WHERE a.seq = NEW.last_seq AND a.row_hash = NEW.last_hash)) "
    "BEGIN SELECT RAISE(ABORT, 'access_log_chain is append-only: it only moves forward (UPDATE refused)'); END",
    "CREATE TRIGGER access_log_chain_no_delete BEFORE DELETE ON access_log_chain "
    "BEGIN SELECT RAISE(ABORT, 'access_log_chain is append-only: it only moves forward (DELETE refused)'); END",
    "CREATE TRIGGER access_log_checkpoints_no_insert BEFORE INSERT ON access_log_checkpoints "
    "WHEN NEW.key_id IS NULL OR NEW.mac IS NULL "
    "BEGIN SELECT RAISE(ABORT, 'access_log_checkpoints is append-only (INSERT refused)'); END",
    "CREATE TRIGGER access_log_checkpoints_no_update BEFORE UPDATE ON access_log_checkpoints "
    "BEGIN SELECT RAISE(ABORT, 'access_log_checkpoints is append-only (UPDATE refused)'); END",
    "CREATE TRIGGER access_log_checkpoints_no_delete BEFORE DELETE ON access_log_checkpoints "
    "BEGIN SELECT RAISE(ABORT, 'access_log_checkpoints is append-only (DELETE refused)'); END",
]
TRIGGERS = {"postgresql": POSTGRES_TRIGGERS, "sqlite": SQLITE_TRIGGERS}
DROP_TRIGGERS = {
    "postgresql": [
        "DROP TRIGGER IF EXISTS access_log_chain_no_truncate ON access_log_chain",
        "DROP TRIGGER IF EXISTS access_log_chain_forward_only ON access_log_chain",
        "DROP FUNCTION IF EXISTS access_log_chain_forward_only()",
        "DROP TRIGGER IF EXISTS access_log_checkpoints_no_truncate ON access_log_checkpoints",
        "DROP TRIGGER IF EXISTS access_log_checkpoints_append_only ON access_log_checkpoints",
        "DROP FUNCTION IF EXISTS access_log_checkpoints_append_only()",
    ],
    "sqlite": [
        "DROP TRIGGER IF EXISTS access_log_no_update",
        "DROP TRIGGER IF EXISTS access_log_no_delete",
        "DROP TRIGGER IF EXISTS access_log_chain_no_insert",
        "DROP TRIGGER IF EXISTS access_log_chain_no_update",
        "DROP TRIGGER IF EXISTS access_log_chain_no_delete",
        "DROP TRIGGER IF EXISTS access_log_checkpoints_no_insert",
        "DROP TRIGGER IF EXISTS access_log_checkpoints_no_update",
        "DROP TRIGGER IF EXISTS access_log_checkpoints_no_delete",
    ],
}
# What migration 0002 had on access_log (restored by the downgrade).
PREVIOUS_TRIGGERS = {
    "postgresql": [_access_log_function(("seq", "prev_hash", "row_hash"))],
    "sqlite": _sqlite_access_log_triggers(("seq", "prev_hash", "row_hash")),
}
