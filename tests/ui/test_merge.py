"""The three-way merge the live editors share (`ui/merge.py`: the case view's planning form, the SIP room's editors):
what the user typed is never lost, and a conflict is only where both changed the same input differently."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ui.merge import Merge, merge, merge_each


def test_unchanged_mine_takes_theirs() -> None:
    assert merge("Hemtjänst", "Hemtjänst", "Hemtjänst, trygghetslarm") is Merge.TAKE_THEIRS
    assert Merge.TAKE_THEIRS.takes_theirs


def test_changed_mine_with_unchanged_theirs_keeps_mine() -> None:
    assert merge("Hemtjänst", "Hemtjänst dagligen", "Hemtjänst") is Merge.KEEP_MINE
    assert not Merge.KEEP_MINE.takes_theirs


def test_both_changed_equally_is_no_conflict() -> None:
    assert merge("", "Rollator", "Rollator") is Merge.SAME
    assert Merge.SAME.takes_theirs


def test_both_changed_differently_is_a_conflict() -> None:
    assert merge("", "Rollator", "Rullstol") is Merge.CONFLICT
    assert not Merge.CONFLICT.takes_theirs


def test_nothing_changed_is_the_same() -> None:
    assert merge("Hemtjänst", "Hemtjänst", "Hemtjänst") is Merge.SAME


@pytest.mark.parametrize(("base", "mine", "theirs", "expected"), [
    (["home_care"], ["home_care"], ["home_care", "aids"], Merge.TAKE_THEIRS),  # lists compare by value
    (None, None, "2026-12-01", Merge.TAKE_THEIRS),  # an empty date or select
    ("2026-12-01", None, "2026-12-01", Merge.KEEP_MINE),  # the user cleared it
    ("2026-12-01", None, "2026-12-02", Merge.CONFLICT),
])
def test_values_of_other_kinds(base: object, mine: object, theirs: object, expected: Merge) -> None:
    assert merge(base, mine, theirs) is expected


def test_each_part_of_an_item_merges_on_its_own() -> None:
    base = {"description": "Hemtjänst", "when": "Dagligen", "by_whom": "", "contact_person": ""}
    mine = {"description": "Hemtjänst", "when": "Två gånger dagligen", "by_whom": "Anna", "contact_person": "Per"}
    theirs = {"description": "Hemtjänst morgon", "when": "Dagligen", "by_whom": "Anna", "contact_person": "Lisa"}

    assert merge_each(base, mine, theirs) == {"description": Merge.TAKE_THEIRS, "when": Merge.KEEP_MINE,
                                              "by_whom": Merge.SAME, "contact_person": Merge.CONFLICT}


def test_the_module_imports_no_nicegui() -> None:
    """Pure: usable (and tested) without the UI framework."""
    code = "import sys, ui.merge; print(sorted(m for m in sys.modules if m.split('.')[0] in ('nicegui', 'fastapi')))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=30)
    assert result.stdout.strip() == "[]"
