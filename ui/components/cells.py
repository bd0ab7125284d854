"""HTML of the small recurring pieces: patient, state chip, acknowledgements, presence (escaped, no handlers)."""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from typing import Protocol, TypeVar

from nicegui import ui

from realtime.protocol import Viewer
from ui import fmt
from ui.api_client import Json
from ui.live import LiveHub


def escape(value: object) -> str:
    return html.escape(str(value), quote=True)


COLOURS = {"grey-8": "#4b5563", "blue-9": "#1e40af", "green-9": "#166534", "teal-9": "#115e59", "grey-9": "#374151",
           "orange-10": "#9a3412", "red-10": "#991b1b"}


def patient_html(case: Json, *, link: bool = True) -> str:
    patient = case["patient"]
    name = escape(patient["name"])
    shown = f'<a href="/arende/{escape(case["id"])}" class="text-blue-10 font-bold">{name}</a>' if link else \
        f'<span class="font-bold">{name}</span>'
    extra = ' <span class="sp-chip" style="background:#7c2d12">Skyddad identitet</span>' \
        if patient.get("protected_identity") else ""
    return f'{shown}{extra}<div class="sp-muted">{escape(patient["identity"])}</div>'


def phone_html(phone: str | None) -> str:
    """A phone number as a link that dials it (`tel:` without spaces), or nothing."""
    if not phone:
        return ""
    dial = "".join(ch for ch in phone if ch.isdigit() or ch == "+")
    return f' · tel <a href="tel:{escape(dial)}" class="text-blue-10 underline">{escape(phone)}</a>'


def units_text(units: list[Json]) -> str:
    return ", ".join(str(u["name"]) for u in units)


def context_facts(case: Json) -> list[tuple[str, str, str]]:
    """Who is who on the case, by name, from the API's `context`: (label, text, extra HTML such as a phone link)."""
    context = case.get("context")
    if not context:
        return []
    ward = context["ward"]
    facts = [("Från", f'{context["hospital"]}, {ward["name"]}' if context.get("hospital") else str(ward["name"]),
              phone_html(ward.get("phone")))]
    municipality = context.get("municipality") or "okänd"
    municipal = units_text(context.get("municipal_units") or [])
    facts.append(("Kommun", f"{municipality} ({municipal})" if municipal else municipality, ""))
    facts.append(("Vårdcentral", units_text(context.get("primary_care_units") or []) or "ingen", ""))
    facts.append(("Fast vårdkontakt", context.get("named_care_contact") or "inte utsedd", ""))
    return facts


def context_html(case: Json) -> str:
    """Under the patient on a board or inbox row: the sending hospital and ward (with its phone; left out on the
    ward's own board), the municipality and the receiving units by name, and the named care contact."""
    own_ward = case.get("acting_unit_id") == case.get("ward_unit_id")
    lines = [f'<div><span class="sp-muted">{escape(label)}:</span> {escape(text)}{extra}</div>'
             for label, text, extra in context_facts(case) if not (own_ward and label == "Från")]
    return f'<div class="text-xs sp-context" data-context>{"".join(lines)}</div>' if lines else ""


def state_html(case: Json) -> str:
    state = case["state"]
    colour = COLOURS.get(fmt.STATE_COLOURS.get(state, "grey-8"), "#4b5563")
    chips = f'<span class="sp-chip" style="background:{colour}">{escape(fmt.label(fmt.STATES, state))}</span>'
    if case.get("on_leave"):
        chips += ' <span class="sp-chip" style="background:#6b21a8">Permission</span>'
    if case.get("escalated"):  # a deadline still unmet after the escalation time (docs/operations.md)
        chips += (' <span class="sp-chip" style="background:#991b1b" title="En tidsfrist är fortfarande inte '
                  'uppfylld; samordnaren eller den lokala administratören har fått besked">Eskalerad</span>')
    return chips


def eta_html(case: Json) -> str:
    return escape(fmt.short_date_time(case.get("estimated_discharge_at")))


def destination_text(information: Json) -> str:
    """Where the discharge notice says the patient went, in Swedish (with the named ward, unit or place)."""
    destination = fmt.DESTINATIONS.get(str(information["destination"]), str(information["destination"]))
    detail = str(information.get("destination_detail") or "").strip()
    return f"{destination} ({detail})" if detail else destination


def when_html(case: Json) -> str:
    """Under the state chip: when the patient left and where to (the discharge notice), else the estimate."""
    if not case.get("discharged_at"):
        return f'<div class="sp-muted">Ber. utskr. {eta_html(case)}</div>'
    information = case.get("discharge_information")
    where = f" – {escape(destination_text(information))}" if information else ""
    return (f'<div class="sp-muted" data-discharged>Utskriven {escape(fmt.short_date_time(case["discharged_at"]))}'
            f'{where}</div>')


def acks_html(case: Json, hub: LiveHub) -> str:
    """Per receiving unit: acknowledged everything, or how many notices wait."""
    parts = []
    for status in case.get("acknowledgement_status", []):
        name = escape(hub.unit_name(status["unit_id"]))
        waiting = int(status["unacknowledged"])
        if case.get("state") == "admitted":
            parts.append(f'<div class="sp-muted">{name}: ej skickat</div>')
        elif waiting:
            parts.append(f'<div class="sp-at_risk" data-unit="{escape(status["unit_id"])}">{name}: '
                         f'{fmt.plural(waiting, "okvitterat", "okvitterade")}</div>')
        else:
            parts.append(f'<div class="sp-ok" data-unit="{escape(status["unit_id"])}">{name}: kvitterat</div>')
    return "".join(parts) or '<span class="sp-muted">–</span>'


def presence_html(viewers: list[Viewer], me: str, hub: LiveHub, units: Mapping[str, str] | None = None) -> str:
    """Who else looks at (or edits) a case or plan. `units`: the names the page knows of the units taking part
    (a case's participants, a plan's units), so a viewer from another organisation, whose unit the user's own
    directory may not show, is named by unit rather than "Okänd enhet"; other units by the hub's directory."""
    others = [v for v in viewers if v.user_id != me]
    if not others:
        return ""
    names = []
    for viewer in others:
        doing = "redigerar" if viewer.state == "editing" else "tittar"
        unit = presence_unit_name(viewer.unit_id, hub, units)
        names.append(f'<div class="sp-presence"><span aria-hidden="true">👁 </span>'
                     f'{escape(hub.person_name(viewer.user_id))} '
                     f'<span class="sp-muted">({escape(unit)}, {doing})</span></div>')
    return "".join(names)


def presence_unit_name(unit_id: str, hub: LiveHub, units: Mapping[str, str] | None = None) -> str:
    """A viewer's unit: by the page's own names of the units taking part first, else the hub's directory."""
    return (units or {}).get(unit_id) or hub.unit_name(unit_id)


_ROW_CACHE: dict[tuple[object, ...], tuple[str, str, str]] = {}


def board_cells(case: Json, hub: LiveHub) -> tuple[str, str, str]:
    """Patient, state (with the estimated discharge, or the actual one and where to) and acknowledgement HTML of a
    board row: computed once per case version and view of it, shared by every tab that shows it.

    The key holds what differs between views of one version: whether the patient's protected identity is revealed
    to this user (their name and address are masked for the others) and what the acting unit sees of the
    acknowledgements. Without it, a name revealed to one user would be served to another from the cache.
    """
    patient = case["patient"]
    key = (str(case["id"]), int(case["version"]), hub.units_version, patient["name"], patient["identity"],
           bool(patient.get("protected_identity")), str(case.get("context")), case.get("acting_unit_id"),
           tuple((s["unit_id"], s["unacknowledged"]) for s in case.get("acknowledgement_status", ())))
    cached = _ROW_CACHE.get(key)
    if cached is None:
        if len(_ROW_CACHE) > 20_000:
            _ROW_CACHE.clear()
        cached = (patient_html(case) + context_html(case), state_html(case) + when_html(case),
                  acks_html(case, hub))
        _ROW_CACHE[key] = cached
    return cached


class _Row(Protocol):
    @property
    def element(self) -> ui.element: ...


R = TypeVar("R", bound=_Row)


def place_rows(body: ui.element, rows: dict[str, R], wanted: list[str], make_row: Callable[[str], R]) -> None:
    """Make `body` show exactly the rows of `wanted`, in that order: drop the others, create the missing ones
    (`make_row`), move only what is out of place. Linear in the number of rows."""
    keep = set(wanted)
    for row_id in [r for r in rows if r not in keep]:
        body.remove(rows.pop(row_id).element)
    with body:
        for row_id in wanted:
            if row_id not in rows:
                rows[row_id] = make_row(row_id)
    children = body.default_slot.children
    for index, row_id in enumerate(wanted):
        element = rows[row_id].element
        if index >= len(children) or children[index] is not element:
            element.move(body, target_index=index)
