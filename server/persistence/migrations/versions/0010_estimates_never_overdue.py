"""rebuild the case list's deadline thresholds: deadlines due at an estimated discharge are never overdue

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-08 06:00:00.000000

`domain.deadlines.deadline_thresholds` no longer counts a deadline due at the *estimated* discharge (named care
contact, discharge information, while the patient is still admitted) as able to turn overdue (issue 13: an
estimate passed is at risk, not late). The stored `overdue_from` of open cases followed the old rule, so the
thresholds are written again from the documents, as 0008 did (its `backfill`, the one copy of that code).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _rebuild() -> None:
    path = Path(__file__).with_name("0008_case_list_query_model.py")
    spec = importlib.util.spec_from_file_location("samplan_migration_0008", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.backfill()


def upgrade() -> None:
    _rebuild()


def downgrade() -> None:
    _rebuild()  # the thresholds follow the code of the day; nothing to undo in the schema
