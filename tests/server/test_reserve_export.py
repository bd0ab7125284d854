"""The reserve routine's printouts (issue 16, *reservrutin*): a unit's open cases as CSV and PDF, one case as a PDF
page, and the scheduled export to an owner-only directory. Each is a read of patient data: access-logged, and
nothing for a unit or case the user does not see."""

from __future__ import annotations

import csv
import io
import os
import stat
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from pypdf import PdfReader

from server.cli import main as samplan
from server.demo.world import fiction_phone
from tests.conftest import Backend
from tests.server.conftest import RONNVIKEN, SOLNA_INTAKE, WARD, iso, new_identity, now_utc, patient, register
from tests.server.sip_support import access_rows
from tests.server.test_api_cases_flow import act

Auth = Callable[[str], dict[str, str]]


def named(name: str, **extra: Any) -> dict[str, Any]:
    """An invented patient with a name of the test's own."""
    return patient(new_identity(), **extra) | {"name": name}


def rows_of(content: bytes) -> list[dict[str, str]]:
    assert content.startswith("\ufeff".encode()), "a BOM, so spreadsheet programs read UTF-8"
    return list(csv.DictReader(io.StringIO(content.decode("utf-8-sig")), delimiter=";"))


def pdf_text(content: bytes) -> str:
    assert content.startswith(b"%PDF")
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


async def reserve_list(client: httpx.AsyncClient, headers: dict[str, str], unit_id: str, fmt: str,
                       status: int = 200) -> httpx.Response:
    response = await client.get(f"/api/v1/units/{unit_id}/reserve-list/{fmt}", headers=headers)
    assert response.status_code == status, response.text
    return response


async def test_the_csv_lists_every_open_case_with_its_next_deadline_and_counterparts(
        client: httpx.AsyncClient, auth: Auth, backend: Backend) -> None:
    nurse = auth("ward.nurse")
    draft = await register(client, nurse, patient=named("Reserv Utkastsson"))
    sent = await register(client, nurse, patient=named("Reserv Meddelandesson"),
                          estimated_discharge_at=iso(now_utc() + timedelta(days=3)))
    sent = await act(client, nurse, sent, "admission-notice")
    gone = await register(client, nurse, patient=named("Reserv Felsänd"))
    await act(client, nurse, gone, "cancellation")

    response = await reserve_list(client, nurse, WARD, "csv")
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"] == 'attachment; filename="reservlista.csv"'
    rows = {r["Patient"]: r for r in rows_of(response.content)}
    assert set(rows) == {"Reserv Utkastsson", "Reserv Meddelandesson"}  # the cancelled case is not open
    assert rows["Reserv Utkastsson"]["Status"] == "Inskriven (utkast)"
    assert rows["Reserv Utkastsson"]["Nästa tidsfrist"] == "Inskrivningsmeddelande senast"
    assert rows["Reserv Utkastsson"]["Ansvarig för tidsfristen"] == "Avd 12 Geriatrik"
    planning = rows["Reserv Meddelandesson"]
    assert planning["Personnummer"] == sent["patient"]["identity"]
    assert planning["Status"] == "Planering"
    assert planning["Nästa tidsfrist"] == "Fast vårdkontakt senast"
    assert planning["Ansvarig för tidsfristen"] == "Vårdcentral Rönnviken"
    assert planning["Fast vårdkontakt"] == "Inte utsedd"
    assert set(planning["Övriga enheter i ärendet"].split(", ")) == {
        "Biståndsenheten Solna (Kommun)", "Vårdcentral Rönnviken (Primärvård)"}
    # one access-log row per patient on the list, as the ward
    assert ("export_reserve_list", WARD, draft["patient"]["id"]) in {
        (a, u, draft["patient"]["id"]) for a, u, _ in await access_rows(backend, draft["patient"]["id"])}
    assert "export_reserve_list" not in [a for a, _, _ in await access_rows(backend, gone["patient"]["id"])]

    # the municipality's list has the case it received, not the ward's draft
    municipal = rows_of((await reserve_list(client, auth("needs.assessor"), SOLNA_INTAKE, "csv")).content)
    assert [r["Patient"] for r in municipal] == ["Reserv Meddelandesson"]
    # whom to call: the ward with its phone number (units that have one)
    assert f"Avd 12 Geriatrik (Slutenvård) tel. {fiction_phone('ks-solna-ward-geriatrik-1')}" in \
        municipal[0]["Övriga enheter i ärendet"]
    assert sent["id"]


async def test_the_pdf_list_and_the_case_sheet_are_readable_pdfs(client: httpx.AsyncClient, auth: Auth) -> None:
    nurse = auth("ward.nurse")
    case = await register(client, nurse, patient=named("Reserv Pappersson"))
    case = await act(client, nurse, case, "admission-notice")

    response = await reserve_list(client, nurse, WARD, "pdf")
    assert response.headers["content-type"] == "application/pdf"
    text = pdf_text(response.content)
    assert "Reservlista – Avd 12 Geriatrik" in text
    assert "Reserv Pappersson" in text
    assert case["patient"]["identity"] in text

    sheet = await client.get(f"/api/v1/cases/{case['id']}/sheet", headers=auth("care.contact"))
    assert sheet.status_code == 200, sheet.text
    text = pdf_text(sheet.content)
    assert f"Reserv Pappersson, {case['patient']['identity']}" in text
    assert "Inskrivningsmeddelande" in text
    assert "Vårdcentral Rönnviken" in text


async def test_nobody_prints_what_they_do_not_see(client: httpx.AsyncClient, auth: Auth) -> None:
    nurse = auth("ward.nurse")
    case = await register(client, nurse)
    # a unit the user does not work at
    await reserve_list(client, auth("needs.assessor"), WARD, "csv", status=403)
    await reserve_list(client, auth("stockholm.assessor"), SOLNA_INTAKE, "pdf", status=403)
    # a draft is the ward's alone; a user of another municipality never sees the case
    for user in ("needs.assessor", "stockholm.assessor"):
        response = await client.get(f"/api/v1/cases/{case['id']}/sheet", headers=auth(user))
        assert response.status_code == 404, response.text
    # no such format: nothing answers it
    response = await client.get(f"/api/v1/units/{WARD}/reserve-list/xlsx", headers=nurse)
    assert response.status_code in (404, 405)


async def test_a_protected_person_is_masked_on_paper_for_a_user_without_the_explicit_need(
        client: httpx.AsyncClient, auth: Auth) -> None:
    nurse = auth("ward.nurse")
    await register(client, nurse, patient=named("Hemlig Reservsson", protected_identity=True)
                   | {"address": "Hemliga gatan 1"})
    content = (await reserve_list(client, nurse, WARD, "csv")).content
    rows = rows_of(content)
    assert [r["Patient"] for r in rows] == ["Skyddad identitet"]
    assert "Hemlig" not in content.decode("utf-8-sig")
    assert "Hemlig" not in pdf_text((await reserve_list(client, nurse, WARD, "pdf")).content)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_the_scheduled_export_writes_owner_only_files_and_keeps_no_half_list(
        client: httpx.AsyncClient, auth: Auth, backend: Backend, tmp_path: Path,
        monkeypatch: Any) -> None:
    nurse = auth("ward.nurse")
    case = await register(client, nurse, patient=named("Reserv Schemasson", listed_unit_id=RONNVIKEN))
    monkeypatch.setenv("DATABASE_URL", backend.url)
    monkeypatch.setenv("SAMPLAN_DATA_DIR", str(backend.data_dir))
    from server.settings import get_settings
    get_settings.cache_clear()
    target = tmp_path / "reserv"
    umask = os.umask(0o022)  # as a careless cron job would have it: the files must still be owner-only
    try:
        assert await _run(["reserve-export", "--to", str(target), "--unit", WARD]) == 0
    finally:
        os.umask(umask)
        get_settings.cache_clear()
    folder = target / WARD
    assert _mode(target) == 0o700
    assert _mode(folder) == 0o700
    for name in ("reservlista.pdf", "reservlista.csv"):
        assert _mode(folder / name) == 0o600
    rows = rows_of((folder / "reservlista.csv").read_bytes())
    assert [r["Patient"] for r in rows] == ["Reserv Schemasson"]
    sheet = folder / "arenden" / f"{case['id']}.pdf"
    assert _mode(sheet) == 0o600
    assert "Reserv Schemasson" in pdf_text(sheet.read_bytes())
    index = rows_of((target / "enheter.csv").read_bytes())
    assert [(r["Enhetens id"], r["Enhet"], r["Öppna ärenden"]) for r in index] == [(WARD, "Avd 12 Geriatrik", "1")]
    assert "export_reserve_list" in [a for a, _, _ in await access_rows(backend, case["patient"]["id"])]

    # a later run replaces the folder whole: a case no longer open is gone, no leftovers beside it
    await act(client, nurse, case, "cancellation")
    get_settings.cache_clear()
    try:
        assert await _run(["reserve-export", "--to", str(target), "--unit", WARD]) == 0
        # an unknown unit fails alone (exit 1) and leaves the other lists in place
        assert await _run(["reserve-export", "--to", str(target), "--unit", "no-such-unit", "--unit", WARD]) == 1
    finally:
        get_settings.cache_clear()
    assert rows_of((folder / "reservlista.csv").read_bytes()) == []
    assert not (folder / "arenden" / f"{case['id']}.pdf").exists()
    assert sorted(p.name for p in target.iterdir()) == [WARD, "enheter.csv"]


async def _run(argv: list[str]) -> int:
    """The command in a worker thread (it runs its own event loop, as from cron)."""
    import asyncio
    return await asyncio.to_thread(samplan, argv)
