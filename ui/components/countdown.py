"""Deadlines as live countdowns, driven by one process-wide `app.timer` (never a timer per browser).

A `Countdown` shows deadlines of a case ("26 nov 14:05 (om 5 h)", "… (2 h 10 min sedan)") coloured by
their state (`ok`, `at_risk`, `overdue`), in one element. The text is coarse on purpose (days, then hours,
minutes only in the last two hours), so a board changes text rarely; each countdown knows when its text
or state changes next, and the ticker touches only those that are due. When the state turns `at_risk` or
`overdue` by time alone, the countdown calls its `on_change` (deadline alerts). The state rules are the
domain's (`domain.deadlines`).
"""

from __future__ import annotations

import html
import time
import weakref
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from nicegui import app, ui

from domain.deadlines import DEFAULT_RULES, evaluate
from ui import fmt
from ui.services import services

TICK_SECONDS = 5.0
AT_RISK = {
    "admission_notice": DEFAULT_RULES.admission_notice_at_risk,
    "named_care_contact": DEFAULT_RULES.named_care_contact_at_risk,
    "sip_invitation": DEFAULT_RULES.sip_invitation_at_risk,
    "discharge_information": DEFAULT_RULES.discharge_information_at_risk,
    "payment_liability": DEFAULT_RULES.payment_liability_at_risk,
}


def deadline_state(deadline: dict[str, Any], now: datetime) -> str:
    """The state now (the server's rule, evaluated locally so it changes with time alone)."""
    due = fmt.parse_time(deadline["due_at"])
    assert due is not None
    met = fmt.parse_time(deadline.get("met_at"))
    if deadline["kind"] == "payment_liability":
        return "overdue" if now >= due else str(evaluate(due, None, now, AT_RISK["payment_liability"]))
    return str(evaluate(due, met, now, AT_RISK.get(deadline["kind"], timedelta(hours=6)),
                        estimated=bool(deadline.get("estimated"))))


def responsible_names(deadline: dict[str, Any]) -> str:
    """The units that must act before the deadline, by name (the API's `responsible_unit_ids`; the part's name while
    a unit's name is not known yet)."""
    names: list[str] = []
    try:
        hub = services().hub
    except RuntimeError:  # outside a running UI (pure tests)
        hub = None
    for unit_id in deadline.get("responsible_unit_ids") or ():
        if hub is not None and hub.knows_unit(unit_id):
            names.append(hub.unit_name(unit_id))
    if names:
        return ", ".join(names)
    return fmt.label(fmt.PARTS, deadline.get("responsible_part"), "")


def explain(deadline: dict[str, Any], state: str, now: datetime, responsible: str) -> str:
    """What a deadline's mark means, in words (its tooltip and its accessible label): which deadline, when, its state
    and who must act."""
    kind = str(deadline["kind"])
    due = fmt.parse_time(deadline["due_at"])
    met = fmt.parse_time(deadline.get("met_at"))
    when = fmt.short_date_time(due, now)
    what = fmt.label(fmt.DEADLINE_EXPLAINED, kind, fmt.label(fmt.DEADLINES, kind))
    who = f" Ansvarig: {responsible}." if responsible else ""
    if kind == "payment_liability":
        started = due is not None and now >= due
        return (f"Kommunens betalningsansvar {'gäller sedan' if started else 'börjar'} {when} om patienten är kvar "
                f"(fria dagar efter utskrivningsklar).{who}")
    if met is not None:
        noun = fmt.label(fmt.DEADLINES, kind).removesuffix(" senast")
        if state == "ok":
            return f"{noun}: klart {fmt.short_date_time(met, now)}, i tid.{who}"
        return f"{noun}: klart {fmt.short_date_time(met, now)}, efter tidsfristen {when}.{who}"
    if deadline.get("estimated"):
        passed = " Den beräknade tiden har passerat: uppdatera beräknad utskrivning." if due and now > due else ""
        return (f"{what}: beräknad {when}, räknat från beräknad utskrivning (en uppskattning, patienten är kvar)."
                f"{passed}{who}")
    status = fmt.DEADLINE_STATES.get(state, "")
    return f"{what} {when}: {status.lower()}.{who}"


def coarse(seconds: float) -> tuple[str, float]:
    """The text of a remaining (or, negative, passed) time, and in how many seconds that text changes."""
    future = seconds >= 0
    span = abs(seconds)
    if span >= 2 * 86400:
        unit, count, text = 86400.0, int(span // 86400), f"{int(span // 86400)} d"
    elif span >= 2 * 3600:
        unit, count, text = 3600.0, int(span // 3600), f"{int(span // 3600)} h"
    else:
        unit, count, text = 60.0, int(span // 60), fmt.duration(span)
    # Remaining time shrinks: the text changes when it drops below count*unit; passed time grows past (count+1)*unit.
    change = (span - count * unit) if future else ((count + 1) * unit - span)
    return (f"om {text}" if future else f"{text} sedan"), max(change, 1.0)


class Countdown(ui.html):
    """Deadlines of one case (all, or the `kinds` given) as live countdowns in one element.

    `set_deadlines` when the case changes; the ticker does the rest. `on_change(kind, old, new)` is called when a
    deadline's state changes by time alone.
    """

    def __init__(self, deadlines: list[dict[str, Any]] | None = None, *, kinds: tuple[str, ...] | None = None,
                 short: bool = False, open_only: bool = False,
                 on_change: Callable[[str, str, str], None] | None = None) -> None:
        super().__init__("", sanitize=False)
        self.kinds = kinds
        self.short = short
        self.open_only = open_only
        self.on_change = on_change
        self.deadlines: list[dict[str, Any]] = []
        self.states: dict[str, str] = {}
        self._next_at = float("inf")
        self._source: list[dict[str, Any]] | None = None
        TICKER.add(self)
        self.set_deadlines(deadlines or [])

    def set_deadlines(self, deadlines: list[dict[str, Any]]) -> None:
        if deadlines == self._source:
            return  # unchanged (most changes of a case): time alone is the ticker's
        self._source = deadlines
        chosen = [d for d in deadlines if self.kinds is None or d["kind"] in self.kinds]
        if self.open_only:
            chosen = [d for d in chosen if d.get("met_at") is None]
        if self.kinds is not None:
            chosen.sort(key=lambda d: self.kinds.index(d["kind"]) if self.kinds else 0)
        self.deadlines = chosen
        self.states = {}
        self.refresh_now(datetime.now(UTC), notify=False)

    def refresh_now(self, now: datetime, *, notify: bool = True) -> None:
        content, states, next_at = _rendered(tuple(self.deadlines), self.short, now)
        changes = [(kind, self.states[kind], state) for kind, state in states.items()
                   if kind in self.states and self.states[kind] != state]
        self.states = dict(states)
        if content != self.content:
            self.set_content(content)
        self._next_at = next_at
        if notify and self.on_change is not None:
            for change in changes:
                self.on_change(*change)

    def worst(self) -> str | None:
        order = {"ok": 0, "at_risk": 1, "overdue": 2}
        open_states = [self.states[d["kind"]] for d in self.deadlines if d.get("met_at") is None]
        return max(open_states, key=lambda s: order.get(s, 0)) if open_states else None

    def due(self, now_epoch: float) -> bool:
        return now_epoch >= self._next_at


_CACHE: dict[tuple[Any, ...], tuple[str, dict[str, str], float]] = {}
_CACHE_SECONDS = 5  # a render is shared by every tab showing the same deadlines within this window


def _rendered(deadlines: tuple[dict[str, Any], ...], short: bool,
              now: datetime) -> tuple[str, dict[str, str], float]:
    """(HTML, state per kind, epoch of the next change) of some deadlines: computed once, shared by all tabs."""
    bucket = int(now.timestamp() // _CACHE_SECONDS)
    responsible = tuple(responsible_names(d) for d in deadlines)
    key = (tuple((d["kind"], d["due_at"], d.get("met_at"), bool(d.get("estimated"))) for d in deadlines),
           responsible, short, bucket)
    cached = _CACHE.get(key)
    if cached is not None:
        return cached
    if len(_CACHE) > 20_000:
        _CACHE.clear()
    parts: list[str] = []
    states: dict[str, str] = {}
    next_in = float("inf")
    for deadline, who in zip(deadlines, responsible, strict=True):
        text, style, state, change_in = render(deadline, now, short=short)
        kind = deadline["kind"]
        states[kind] = state
        next_in = min(next_in, change_in)
        names = fmt.DEADLINE_SHORT if short else fmt.DEADLINES
        label = html.escape(fmt.label(names, kind))
        explained = html.escape(explain(deadline, state, now, who))
        estimated = ' data-estimated="true"' if deadline.get("estimated") else ""
        parts.append(f'<div class="sp-{style}" data-kind="{kind}" data-state="{state}"{estimated} '
                     f'title="{explained}"><span aria-hidden="true"><span class="sp-muted">{label}:</span> '
                     f'{html.escape(text)}</span><span class="sr-only">{explained}</span></div>')
    content = "".join(parts) or '<span class="sp-muted">–</span>'
    next_at = now.timestamp() + next_in + 0.5 if next_in != float("inf") else float("inf")
    _CACHE[key] = (content, states, next_at)
    return content, states, next_at


def render(deadline: dict[str, Any], now: datetime, *, short: bool = False) -> tuple[str, str, str, float]:
    """(text, style, state, seconds until the text or state changes) of one deadline now. A deadline due at the
    estimated discharge says so ("beräknad"), and once that estimate has passed it says "passerad", never "sedan"."""
    due = fmt.parse_time(deadline["due_at"])
    assert due is not None
    met = fmt.parse_time(deadline.get("met_at"))
    state = deadline_state(deadline, now)
    if met is not None:
        return f"klart {fmt.short_date_time(met, now)}", "met" if state == "ok" else "late", state, float("inf")
    text, change_in = coarse((due - now).total_seconds())
    if deadline["kind"] == "payment_liability":
        text = f"från {fmt.short_date_time(due, now)} ({text})" if now < due else \
            f"pågår sedan {text.removesuffix(' sedan')}"
    elif deadline.get("estimated"):
        prefix = "ber." if short else "beräknad"
        text = f"{prefix} {fmt.short_date_time(due, now)} ({'passerad' if now > due else text})"
    else:
        text = f"{fmt.short_date_time(due, now)} ({text})"
    window = AT_RISK.get(deadline["kind"], timedelta(0))
    boundaries = [(due - window - now).total_seconds(), (due - now).total_seconds()]
    change_in = min([change_in, *[b for b in boundaries if b > 0]])
    return text, state, state, change_in


class _Ticker:
    """Holds every live countdown of the process (weakly) and refreshes those whose text or state is due."""

    def __init__(self) -> None:
        self._items: weakref.WeakSet[Countdown] = weakref.WeakSet()

    def add(self, countdown: Countdown) -> None:
        self._items.add(countdown)

    def start(self) -> None:
        """Register the one timer (at every build of the app: tests build it again)."""
        app.timer(TICK_SECONDS, self.tick)

    def tick(self, now: datetime | None = None) -> int:
        moment = now or datetime.now(UTC)
        epoch = moment.timestamp() if now is not None else time.time()
        touched = 0
        for countdown in list(self._items):
            if countdown.is_deleted:
                self._items.discard(countdown)
            elif countdown.due(epoch) or now is not None:
                countdown.refresh_now(moment)
                touched += 1
        return touched

    def __len__(self) -> int:
        return len(self._items)


TICKER = _Ticker()
