"""Admin lists in keyset pages (SQLite and PostgreSQL): organisations, units and users follow the `X-Next-Cursor`
header, the record of changes its `next_cursor`; every row exactly once, in a stable order under equal names; the
user search folds case beyond ASCII ("åberg" finds "Åberg") on both databases; nothing of another organisation."""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from typing import Any

import httpx

from server.demo.seed import stable_id

Client = httpx.AsyncClient
Auth = Callable[[str], dict[str, str]]
ADMIN = "/api/v1/admin"
KAROLINSKA = stable_id("organisation", "karolinska")
SOLNA_STAD = stable_id("organisation", "solna-stad")


def hsa(prefix: str) -> str:
    return f"SE2321000016-{prefix}{uuid.uuid4().hex[:10].upper()}"


async def every_page(client: Client, url: str, headers: dict[str, str], **params: Any) -> list[list[Json]]:
    pages: list[list[Json]] = []
    cursor = None
    while True:
        answer = await client.get(url, params=params | ({"cursor": cursor} if cursor else {}), headers=headers)
        assert answer.status_code == 200, answer.text
        pages.append(answer.json())
        cursor = answer.headers.get("X-Next-Cursor")
        if cursor is None:
            return pages
        assert len(pages) < 200, "the pages never end"


Json = dict[str, Any]


async def test_users_page_once_each_by_name_then_username_and_the_search_pages_too(client: Client,
                                                                                   auth: Auth) -> None:
    admin = auth("hospital.admin")
    url = f"{ADMIN}/organisations/{KAROLINSKA}/users"
    family = f"Sidlund{uuid.uuid4().hex[:6]}"
    names = [f"Anna {family}"] * 4 + [f"Bo {family}"] * 3  # equal names: the username decides
    for name in random.sample(names, len(names)):
        created = await client.post(url, headers=admin, json={
            "username": f"u.{uuid.uuid4().hex[:10]}", "hsa_id": hsa("P"), "display_name": name, "title": ""})
        assert created.status_code == 201, created.text

    everyone = await client.get(url, headers=admin)
    assert "X-Next-Cursor" not in everyone.headers  # the demo organisation fits one page
    pages = await every_page(client, url, admin, limit=2)
    assert {len(p) for p in pages[:-1]} == {2}
    listed = [(u["display_name"], u["username"]) for page in pages for u in page]
    assert listed == [(u["display_name"], u["username"]) for u in everyone.json()]
    assert listed == sorted(listed)
    assert len(set(listed)) == len(listed)

    found = await every_page(client, url, admin, q=family.upper(), limit=3)
    assert [len(p) for p in found] == [3, 3, 1]
    assert [u["display_name"] for p in found for u in p] == sorted(names)


async def test_the_user_search_folds_case_beyond_ascii(client: Client, auth: Auth) -> None:
    admin = auth("central.admin")

    async def names(organisation_id: str, q: str) -> list[str]:
        answer = await client.get(f"{ADMIN}/organisations/{organisation_id}/users", params={"q": q}, headers=admin)
        assert answer.status_code == 200, answer.text
        return [u["display_name"] for u in answer.json()]

    for q in ("åberg", "ÅBERG", "Åberg", "nils å", "A\u030aberg"):  # the last: Å as A and a combining ring
        assert await names(SOLNA_STAD, q) == ["Nils Åberg"], q
    assert await names(SOLNA_STAD, "aberg") == []  # folded, not stripped of its ring

    # A new user and a changed name are found the same way (the key follows every write).
    created = (await client.post(f"{ADMIN}/organisations/{KAROLINSKA}/users", headers=admin, json={
        "username": f"u.{uuid.uuid4().hex[:10]}", "hsa_id": hsa("Q"), "display_name": "Östen Ärlig",
        "title": "Överläkare"})).json()
    assert await names(KAROLINSKA, "östen ärl") == ["Östen Ärlig"]
    assert "Östen Ärlig" in await names(KAROLINSKA, "ÖVERLÄKARE")
    renamed = await client.patch(f"{ADMIN}/users/{created['id']}", headers=admin,
                                 json={"display_name": "Örjan Straße"})
    assert renamed.status_code == 200, renamed.text
    assert await names(KAROLINSKA, "östen") == []
    assert await names(KAROLINSKA, "ÖRJAN STRASSE") == ["Örjan Straße"]  # casefolded: ß is ss


async def test_units_organisations_and_changes_page_once_each(client: Client, auth: Auth) -> None:
    central = auth("central.admin")
    units_url = f"{ADMIN}/organisations/{KAROLINSKA}/units"
    all_units = (await client.get(units_url, headers=central)).json()
    unit_pages = await every_page(client, units_url, central, limit=2)
    assert [u["id"] for p in unit_pages for u in p] == [u["id"] for u in all_units]
    assert len(unit_pages) == (len(all_units) + 1) // 2
    assert [(u["name"], u["id"]) for u in all_units] == sorted((u["name"], u["id"]) for u in all_units)

    organisations = await every_page(client, f"{ADMIN}/organisations", central, limit=3)
    listed = [(o["name"], o["id"]) for p in organisations for o in p]
    assert listed == sorted(set(listed))
    assert len(listed) > 3
    # A local administrator sees their own organisation, on one page.
    assert [[o["id"] for o in p] for p in await every_page(client, f"{ADMIN}/organisations",
                                                           auth("municipal.admin"), limit=1)] == [[SOLNA_STAD]]

    # Three changes, then the record of changes newest first in pages of two.
    for _ in range(3):
        await client.post(f"{ADMIN}/organisations/{KAROLINSKA}/users", headers=central, json={
            "username": f"u.{uuid.uuid4().hex[:10]}", "hsa_id": hsa("C"), "display_name": "Ändrad", "title": ""})
    url = f"{ADMIN}/organisations/{KAROLINSKA}/changes"
    whole = (await client.get(url, params={"limit": 500}, headers=central)).json()["items"]
    seen: list[Json] = []
    cursor = None
    while True:
        page = (await client.get(url, params={"limit": 2} | ({"cursor": cursor} if cursor else {}),
                                 headers=central)).json()
        seen += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == whole
    assert [c["at"] for c in seen] == sorted((c["at"] for c in seen), reverse=True)


async def test_admin_lists_refuse_a_bad_cursor_and_show_nothing_of_another_organisation(client: Client,
                                                                                        auth: Auth) -> None:
    municipal = auth("municipal.admin")
    for url in (f"{ADMIN}/organisations", f"{ADMIN}/organisations/{SOLNA_STAD}/users",
                f"{ADMIN}/organisations/{SOLNA_STAD}/changes"):
        bad = await client.get(url, params={"cursor": "garbage!"}, headers=municipal)
        assert bad.status_code == 400, (url, bad.text)
        assert bad.json()["errors"][0]["field"] == "cursor"
    # Another organisation's lists are refused, with or without a cursor; its users never appear in a search.
    real = (await client.get(f"{ADMIN}/organisations/{KAROLINSKA}/users", params={"limit": 1},
                             headers=auth("hospital.admin"))).headers["X-Next-Cursor"]
    for params in ({}, {"cursor": real}):
        assert (await client.get(f"{ADMIN}/organisations/{KAROLINSKA}/users", params=params,
                                 headers=municipal)).status_code == 403
        assert (await client.get(f"{ADMIN}/organisations/{KAROLINSKA}/changes", params=params,
                                 headers=municipal)).status_code == 403
    own = await client.get(f"{ADMIN}/organisations/{SOLNA_STAD}/users", params={"q": "sjöberg"}, headers=municipal)
    assert own.json() == []
