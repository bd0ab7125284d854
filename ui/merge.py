"""Three-way merge of what a user is typing with a change someone else saved (pure: no NiceGUI).

The editors that take live changes (the case view's planning form in `ui/pages/case/planning.py`, the SIP room's
editors in `ui/pages/sip_room/editor.py`) keep, per input, the value it was loaded from (*base*). When another
user's change arrives (*theirs*), the value in the input now (*mine*) decides what happens:

- mine untouched (equal to base): the input takes theirs (`TAKE_THEIRS`);
- mine changed, theirs not: the user's text stays (`KEEP_MINE`);
- mine already equal to theirs (nothing changed, or both changed alike): nothing to do, no conflict (`SAME`);
- both changed, differently: a conflict; the user's text stays and theirs is shown beside it (`CONFLICT`).

Values are compared with `==`, so callers compare them in one normal form (text "" when empty, sorted lists...).
"""

from __future__ import annotations

import enum
from collections.abc import Hashable, Mapping
from typing import Any, TypeVar

K = TypeVar("K", bound=Hashable)


class Merge(enum.Enum):
    SAME = "same"
    TAKE_THEIRS = "take_theirs"
    KEEP_MINE = "keep_mine"
    CONFLICT = "conflict"

    @property
    def takes_theirs(self) -> bool:
        """Theirs is what the input shows after the merge (it becomes the base): no text of the user's is lost."""
        return self in (Merge.SAME, Merge.TAKE_THEIRS)


def merge(base: Any, mine: Any, theirs: Any) -> Merge:
    """What to do with one input whose stored value changed from `base` to `theirs` while it shows `mine`."""
    if mine == theirs:
        return Merge.SAME
    if mine == base:
        return Merge.TAKE_THEIRS
    if theirs == base:
        return Merge.KEEP_MINE
    return Merge.CONFLICT


def merge_each(base: Mapping[K, Any], mine: Mapping[K, Any], theirs: Mapping[K, Any]) -> dict[K, Merge]:
    """`merge` per key (the parts of a form or an item); every key of `mine` must be in `base` and `theirs`."""
    return {key: merge(base[key], mine[key], theirs[key]) for key in mine}
