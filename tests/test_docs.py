"""Docs stay true: every repository path that README.md or docs/ names in backticks exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
PATH = re.compile(r"`((?:domain|server|realtime|ui|tests|bench|docs|deploy)/[A-Za-z0-9_./-]+)`")


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_paths_named_in_docs_exist(doc: Path) -> None:
    missing = [p for p in PATH.findall(doc.read_text(encoding="utf-8")) if not (ROOT / p.rstrip("/")).exists()]
    assert not missing, f"{doc.name} names paths that do not exist: {missing}"


def test_readme_starts_with_the_two_commands() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    quick_start = text.split("## Quick start", 1)[1].split("##", 1)[0]
    assert "make run" in quick_start
    assert "make test" in quick_start


def test_the_access_log_vocabulary_in_the_api_docs_is_the_shared_table() -> None:
    """docs/api.md lists every access-log action, purpose and finding with the Swedish text the log review shows
    (domain/audit_terms.py): one table, so the two cannot drift apart."""
    from domain import audit_terms

    text = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    section = text.split("### Access-log actions and purposes", 1)[1].split("\n## ", 1)[0]
    documented = dict(re.findall(r"^\| `([a-z_]+)` \| (.+?) \|$", section, flags=re.MULTILINE))
    assert documented == audit_terms.ACTIONS | audit_terms.PURPOSES | audit_terms.FINDINGS
