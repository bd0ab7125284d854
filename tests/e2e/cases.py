"""Helpers of the browser tests: API calls as a demo user, fresh cases, a second browser, board rows.

Imported by the test modules as `tests.e2e.cases` (one module, so one serial for invented patients: test modules
themselves are imported by pytest under their own names, and a helper kept in one would exist twice).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from playwright.async_api import Browser, BrowserContext, Page, expect

from domain.identity import generate_test_personnummer
from server.auth.tokens import DevSigningKey
from server.demo.seed import DEMO_USERS, stable_id
from tests.e2e.conftest import Stack

USERS = {u.username: u for u in DEMO_USERS}
WARD = stable_id("unit", "ks-solna-ward-geriatrik-1")
_serial = iter(range(10_000))


def api_headers(stack: Stack, username: str) -> dict[str, str]:
    user = USERS[username]
    key = DevSigningKey.load_or_create(stack.data_dir / "dev-signing-key.json")
    token = key.issue(subject=user.id, issuer=stack.issuer, audience="samplan", claims={"hsa_id": user.hsa_id},
                      lifetime=timedelta(hours=1))
    return {"Authorization": f"Bearer {token}"}


def invented_identity() -> str:
    """A personnummer no other browser test uses (invented: serials 980-999 like the demo data)."""
    n = next(_serial)
    return generate_test_personnummer(datetime(1931, 1, 1).date() + timedelta(days=37 * n + 11), 980 + n % 20).formatted


async def typo_caught_then_identity(dialog: Any) -> Any:
    """Type an invented identity with a wrong check digit into the dialog's identity field, see it caught as it is
    typed, then type the right one; returns the field."""
    identity = invented_identity()
    field = dialog.get_by_label("Personnummer eller samordningsnummer")
    await field.fill(identity[:-1] + str((int(identity[-1]) + 1) % 10))
    await field.blur()
    await expect(dialog.get_by_text("fel format, datum eller kontrollsiffra")).to_be_visible()
    await field.fill(identity)
    return field


async def new_case(stack: Stack, name: str, *, notice: bool = False) -> dict[str, Any]:
    """A fresh case at the main ward for an invented Solna patient (optionally with the admission notice sent)."""
    body = {"ward_unit_id": WARD, "admitted_at": (datetime.now(UTC) - timedelta(hours=3)).isoformat(),
            "estimated_discharge_at": (datetime.now(UTC) + timedelta(days=3)).isoformat(),
            "patient": {"identity": invented_identity(), "name": name, "address": "Provgatan 2",
                        "municipality_code": "0184", "listed_unit_id": stable_id("unit", "aleris-vc-ronnviken")}}
    headers = api_headers(stack, "ward.nurse")
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=10) as client:
        response = await client.post("/api/v1/cases", json=body, headers=headers)
        assert response.status_code == 201, response.text
        case: dict[str, Any] = response.json()
        if notice:
            response = await client.post(f"/api/v1/cases/{case['id']}/admission-notice",
                                         json={"expected_version": case["version"]}, headers=headers)
            assert response.status_code == 200, response.text
            case = response.json()
    return case


async def second_page(browser: Browser, stack: Stack) -> tuple[BrowserContext, Page]:
    """Another browser (own cookies): a second person."""
    context = await browser.new_context(base_url=stack.ui_url, locale="sv-SE", timezone_id="Europe/Stockholm")
    context.set_default_timeout(15_000)
    return context, await context.new_page()


def row(page: Page, case_id: str) -> Any:
    return page.locator(f'[role="row"][data-case="{case_id}"]')


async def insert_closed_cases(stack: Stack, count: int) -> None:
    """`count` closed cases at the main ward, built through the domain and written in bulk (one executemany),
    then every list's query rows rebuilt from the documents (`rebuild_read_models`): history, fast."""
    import random
    import uuid

    from sqlalchemy import insert

    from domain.discharge_case import CaseState
    from server.demo.seed import MAIN_WARD, _build_case
    from server.persistence.database import create_engine
    from server.persistence.documents import to_document
    from server.persistence.models import CaseRow, PatientRow, PersonDetails
    from server.persistence.read_models import rebuild_read_models
    from server.settings import normalise_database_url

    rng, now = random.Random(count), datetime.now(UTC)
    person = PersonDetails(name="Historik Avslutad", address="Provgatan 3", municipality_code="0184",
                           listed_unit_id=stable_id("unit", "aleris-vc-ronnviken"))
    patient = PatientRow(id=str(uuid.uuid4()), identity_kind="personnummer",
                         identity_value=invented_identity().replace("-", ""), protected_identity=False, created_at=now)
    rows = []
    for _ in range(count):
        built = now - timedelta(days=rng.uniform(20, 700))
        case = _build_case(rng, built, MAIN_WARD, patient, person, CaseState.CLOSED)
        case.id = str(uuid.uuid4())
        rows.append({"id": case.id, "patient_id": patient.id, "ward_unit_id": case.ward_unit_id,
                     "state": str(case.state), "care_type": str(case.care_type), "admitted_at": case.admitted_at,
                     "updated_at": built, "version": 1, "document": to_document(case), **person.columns()})
    url = normalise_database_url(f"sqlite+aiosqlite:///{stack.data_dir / 'samplan.db'}")
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(insert(PatientRow).values(
                id=patient.id, identity_kind=patient.identity_kind, identity_value=patient.identity_value,
                protected_identity=False, created_at=now))
            await connection.execute(insert(CaseRow), rows)
            await rebuild_read_models(connection)
    finally:
        await engine.dispose()
