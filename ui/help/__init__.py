"""Help where work happens: a short Swedish text per page (the header's "Hjälp" opens the page's own) and a page per
role (`/hjalp`, `/hjalp/<roll>`) with the routines of process.md in plain Swedish and what each deadline means.

The texts are markdown files beside this module: `sidor/<page>.md` (one per route of the UI, `PAGES`),
`roller/<roll>.md` (one per role, `ROLES`) and `fristerna.md` (the deadlines, shown on every role's page).
`tests/ui/test_help.py` checks that every route and every role has its file."""

from __future__ import annotations

from functools import cache
from pathlib import Path

HERE = Path(__file__).parent
# A route of the UI (as `ui/app.py` registers it) -> its help text (`sidor/<key>.md`)
PAGES = {
    "/": "start",
    "/tavla": "tavla",
    "/inkorg": "inkorg",
    "/arende/{case_id}": "arende",
    "/admin": "admin",
    "/loggkontroll": "loggkontroll",
    "/sip": "sip",
    "/sip/{plan_id}": "sip-mote",
    "/installningar": "installningar",
    "/statistik": "statistik",
    "/hjalp": "hjalp",
    "/hjalp/{role}": "hjalp",
}
ROLES = {  # the role's part of the URL -> its name
    "slutenvard": "Slutenvården (vårdavdelningen)",
    "kommun": "Kommunen",
    "primarvard": "Primärvården och den fasta vårdkontakten",
    "administrator": "Administratörer",
    "logggranskare": "Logggranskare",
    "statistik": "Statistikläsare",
}
# The part a unit takes in a case (`GET /me` `unit_parts`) -> the role whose help suits it
ROLE_OF_PART = {"inpatient_unit": "slutenvard", "municipal_unit": "kommun", "primary_care_unit": "primarvard"}


def own_role(part: str | None, capabilities: dict[str, object]) -> str | None:
    """The role whose help suits the user: the part of the unit they act for, else what they may do (`GET /me`)."""
    if part in ROLE_OF_PART:
        return ROLE_OF_PART[part]
    for capability, role in (("review_logs", "logggranskare"), ("administer", "administrator"),
                             ("statistics_unit_ids", "statistik")):
        if capabilities.get(capability):
            return role
    return None


def page_key(path: str) -> str:
    """The help text of the page at `path` (an actual path such as `/arende/<id>`)."""
    parts = [p for p in path.split("/") if p]
    for route, key in PAGES.items():
        pattern = [p for p in route.split("/") if p]
        if len(pattern) == len(parts) and all(a == b or a.startswith("{") for a, b in zip(pattern, parts, strict=True)):
            return key
    return PAGES["/hjalp"]


@cache
def text(relative: str) -> str:
    return (HERE / relative).read_text(encoding="utf-8")


def page_text(path: str) -> str:
    return text(f"sidor/{page_key(path)}.md")


def role_text(role: str) -> str | None:
    """The role's help with the deadlines, or None for a role that has none."""
    if role not in ROLES:
        return None
    return text(f"roller/{role}.md") + "\n\n" + text("fristerna.md")
