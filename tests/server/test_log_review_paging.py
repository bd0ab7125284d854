"""Log review in keyset pages (SQLite and PostgreSQL): every row exactly once across pages, newest first with a
stable order under equal times, each filter, a bounded count, a refused cursor, and nothing of another organisation.

Rows are appended straight to the access log (as requests do: unsealed, the sealer chains them later), in a period
of their own far enough back that no other test's rows fall in it.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
from litestar import Litestar

from server import access_log
from server.demo.seed import stable_id
from tests.server.conftest import SOLNA_INTAKE, WARD, iso, now_utc, unit

Client = httpx.AsyncClient
Auth = Callable[[str], dict[str, str]]
LOG = "/api/v1/audit/access-log"
NURSE = stable_id("user", "ward.nurse")
COORDINATOR = stable_id("user", "ward.coordinator")
ORTHO = unit("ks-solna-ward-ortoped-3")


def a_period() -> datetime:
    """The start of an hour of its own, 30–300 days back."""
    return (now_utc() - timedelta(days=30 + random.randrange(270), minutes=random.randrange(1440))).replace(
        second=0, microsecond=0)


async def append(app: Litestar, rows: list[dict[str, Any]]) -> None:
    async with app.state.runtime.sessions() as session:
        await access_log.append(session, rows)
        await session.commit()


def log_row(at: datetime, tag: str, *, user_id: str = NURSE, unit_id: str = WARD,
            action: str = "read_case") -> dict[str, Any]:
    """A row told apart by its `case_id` (a tag no case has: shown as the id only)."""
    return {"at": at, "user_id": user_id, "user_hsa_id": f"SE2321000016-{user_id[:8]}", "unit_id": unit_id,
            "patient_id": str(uuid.uuid4()), "case_id": tag, "action": action, "purpose": "care_coordination"}


async def every_page(client: Client, headers: dict[str, str], body: dict[str, Any]) -> list[list[str]]:
    pages: list[list[str]] = []
    cursor = None
    while True:
        answer = await client.post(f"{LOG}/search", json=body | ({"cursor": cursor} if cursor else {}),
                                   headers=headers)
        assert answer.status_code == 200, answer.text
        page = answer.json()
        pages.append([e["case_id"] for e in page["items"]])
        cursor = page["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 100, "the pages never end"


async def test_pages_give_every_row_once_newest_first_and_stable_under_equal_times(
        client: Client, auth: Auth, app: Litestar) -> None:
    start = a_period()
    # 5 moments, 5 rows each (equal times), appended in a shuffled order of moments: the order is (time, entry).
    moments = [start + timedelta(minutes=m) for m in range(5)]
    order = random.sample(range(25), 25)
    rows = [log_row(moments[i // 5], f"t{i}") for i in order]
    await append(app, rows)
    expected = [row["case_id"] for i, row in sorted(enumerate(rows), key=lambda ir: (ir[1]["at"], ir[0]),
                                                    reverse=True)]
    body = {"period_from": iso(start), "period_to": iso(start + timedelta(hours=1)), "limit": 4}

    pages = await every_page(client, auth("auditor"), body)
    assert [len(p) for p in pages] == [4] * 6 + [1]
    assert [tag for page in pages for tag in page] == expected  # each once, newest first, ties by entry
    # The first page counts; later pages do not count again.
    first = (await client.post(f"{LOG}/search", json=body, headers=auth("auditor"))).json()
    assert (first["total"], first["total_capped"]) == (25, False)
    second = (await client.post(f"{LOG}/search", json=body | {"cursor": first["next_cursor"]},
                                headers=auth("auditor"))).json()
    assert second["total"] is None

    # A row logged meanwhile (newer than the period's, as every new row is) neither repeats nor hides one.
    resumed = (await client.post(f"{LOG}/search", json=body | {"cursor": first["next_cursor"]},
                                 headers=auth("auditor"))).json()
    await append(app, [log_row(start + timedelta(minutes=30), "late")])
    assert [e["case_id"] for e in resumed["items"]] == expected[4:8]
    again = await every_page(client, auth("auditor"), body)
    assert [tag for page in again for tag in page] == ["late", *expected]


async def test_each_filter_narrows_the_pages(client: Client, auth: Auth, app: Litestar) -> None:
    start = a_period()
    end = start + timedelta(hours=1)
    await append(app, [
        log_row(start, "first-moment"),  # the period's first moment is in it
        log_row(start + timedelta(minutes=1), "coordinator", user_id=COORDINATOR),
        log_row(start + timedelta(minutes=2), "ortho", unit_id=ORTHO),
        log_row(start + timedelta(minutes=3), "registered", action="register_case"),
        log_row(end, "at-the-end"),  # the end is not: [from, to)
        log_row(start - timedelta(microseconds=1), "before"),
    ])
    auditor = auth("auditor")

    async def tags(**filters: Any) -> list[str]:
        return [t for page in await every_page(client, auditor, {"period_from": iso(start), "period_to": iso(end),
                                                                 "limit": 2} | filters) for t in page]

    assert await tags() == ["registered", "ortho", "coordinator", "first-moment"]
    assert await tags(user_id=COORDINATOR) == ["coordinator"]
    assert await tags(unit_id=ORTHO) == ["ortho"]
    assert await tags(action="register_case") == ["registered"]
    assert await tags(action="read_case", unit_id=WARD, user_id=NURSE) == ["first-moment"]
    by_get = await client.get(LOG, params={"from": iso(start), "to": iso(end), "action": "register_case"},
                              headers=auditor)
    assert [e["case_id"] for e in by_get.json()["items"]] == ["registered"]
    unknown = await client.post(f"{LOG}/search", json={"action": "drop_table"}, headers=auditor)
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "action"


async def test_the_count_stops_at_a_thousand(client: Client, auth: Auth, app: Litestar) -> None:
    start = a_period()
    await append(app, [log_row(start + timedelta(milliseconds=i), f"n{i}") for i in range(1_001)])
    body = {"period_from": iso(start), "period_to": iso(start + timedelta(hours=1)), "limit": 1}
    page = (await client.post(f"{LOG}/search", json=body, headers=auth("auditor"))).json()
    assert (page["total"], page["total_capped"]) == (1_000, True)
    assert [e["case_id"] for e in page["items"]] == ["n1000"]
    narrower = (await client.post(f"{LOG}/search", json=body | {"period_to": iso(start + timedelta(
        milliseconds=1_000))}, headers=auth("auditor"))).json()
    assert (narrower["total"], narrower["total_capped"]) == (1_000, False)


async def test_a_cursor_the_list_did_not_give_out_is_a_bad_request(client: Client, auth: Auth) -> None:
    auditor = auth("auditor")
    real = (await client.post(f"{LOG}/search", json={"limit": 1}, headers=auditor)).json()["next_cursor"]
    assert real
    for bad in ("not-a-cursor", "AAAA", real[:-4], real + "x" * 8, "kwE", "%%%%", "x" * 1001):
        for answer in (await client.get(LOG, params={"cursor": bad}, headers=auditor),
                       await client.post(f"{LOG}/search", json={"cursor": bad}, headers=auditor)):
            assert answer.status_code == 400, (bad, answer.text)
            assert "cursor" in answer.text, answer.text
    wrong_shape = await client.post(f"{LOG}/search", headers=auditor, json={"cursor": (await client.get(
        "/api/v1/admin/organisations", params={"limit": 1}, headers=auth("central.admin"))).headers["X-Next-Cursor"]})
    assert wrong_shape.status_code == 400
    assert wrong_shape.json()["errors"][0]["field"] == "cursor"


async def test_another_organisations_reader_sees_none_of_it_and_only_auditors_search_by_patient(
        client: Client, auth: Auth, app: Litestar) -> None:
    start = a_period()
    row = log_row(start, "karolinska")
    await append(app, [row, log_row(start + timedelta(minutes=1), "solna", unit_id=SOLNA_INTAKE,
                                               user_id=str(uuid.uuid4()))])
    body = {"period_from": iso(start), "period_to": iso(start + timedelta(hours=1))}
    assert [t for p in await every_page(client, auth("municipal.admin"), body) for t in p] == ["solna"]
    assert [t for p in await every_page(client, auth("hospital.admin"), body) for t in p] == ["karolinska"]
    assert [t for p in await every_page(client, auth("auditor"), body | {"patient_id": row["patient_id"]})
            for t in p] == ["karolinska"]
    refused = await client.post(f"{LOG}/search", json=body | {"patient_id": row["patient_id"]},
                                headers=auth("hospital.admin"))
    assert refused.status_code == 403
    assert refused.json()["errors"][0]["field"] == "patient_id"
    by_identity = await client.post(f"{LOG}/search", json=body | {"patient_identity": "19121212-1212"},
                                    headers=auth("hospital.admin"))
    assert by_identity.status_code == 403
