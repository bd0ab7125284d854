"""The log review page (/loggkontroll) with NiceGUI's simulated user against the real API: search by
personal identity number (in the body, never the URL), a review's sample, outcomes, the CSV download."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import datetime, timedelta

import httpx
import pytest
from nicegui import ui
from nicegui.testing import User

from domain.audit_terms import STOCKHOLM
from server.demo.seed import DEMO_USERS
from tests.server.conftest import WARD, new_identity, register
from tests.ui.conftest import eventually, signed_in

Auth = Callable[[str], dict[str, str]]


def texts(user: User) -> str:
    with user:
        return " ".join(str(getattr(e, "text", "") or "") for e in ui.context.client.elements.values())


async def test_auditor_searches_and_records_a_review(user: User, http: httpx.AsyncClient, auth: Auth,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    identity = new_identity()
    case = await register(http, auth("ward.nurse"), identity)
    await signed_in(user, "auditor", "/loggkontroll")
    await user.should_see("Sök i åtkomstloggen", retries=100)

    user.find(marker="search-identity").type(identity)
    user.find(marker="search").click()
    await user.should_see(marker="search-results", retries=100)
    shown = texts(user)
    assert "Registrerade inskrivning" in shown
    assert "Samordning av vård och omsorg" in shown
    assert "Sara Sjöberg, Sjuksköterska" in shown
    assert "Avd 12 Geriatrik, somatik, inskriven" in shown
    assert f"{case['patient']['name']}, {case['patient']['identity']}" in shown  # the auditor sees who
    assert case["id"] not in shown
    assert case["patient"]["id"] not in shown
    assert "register_case" not in shown
    assert "care_coordination" not in shown
    assert "Visar 1–" in shown
    requests = [r.getMessage() for r in caplog.records if "HTTP Request" in r.getMessage()]
    assert any("POST" in m and "/audit/access-log/search" in m for m in requests)
    assert not any(identity in m or identity.replace("-", "") in m for m in requests)  # never in a URL

    with user:
        user.find(marker="review-unit").elements.pop().value = WARD
        user.find(marker="review-size").elements.pop().value = 3
    user.find(marker="create-review").click()
    await user.should_see(marker="review-heading", retries=100)
    with user:
        selects = [e for e in user.find(kind=ui.select).elements
                   if any(m.startswith("entry-finding-") for m in e._markers)]
        assert selects, "the review has a sample"
        seq = next(m for m in selects[0]._markers if m.startswith("entry-finding-")).rsplit("-", 1)[1]
        selects[0].value = "justified"
    user.find(marker=f"entry-comment-{seq}").type("Vårdrelation finns")
    user.find(marker=f"save-entry-{seq}").click()
    await user.should_see(f"Rad {seq} är bedömd", retries=100)

    with user:
        user.find(marker="review-finding").elements.pop().value = "no_remark"
    user.find(marker="review-comment").type("Inga avvikelser")
    user.find(marker="conclude-review").click()
    await user.should_see("Granskningens slutsats är sparad", retries=100)

    listed = await http.get("/api/v1/audit/reviews", params={"unit_id": WARD}, headers=auth("auditor"))
    review = (await http.get(f"/api/v1/audit/reviews/{listed.json()['items'][0]['id']}",
                             headers=auth("auditor"))).json()
    entry = next(e for e in review["entries"] if str(e["seq"]) == seq)
    assert (entry["finding"], entry["comment"]) == ("justified", "Vårdrelation finns")
    assert (review["finding"], review["comment"]) == ("no_remark", "Inga avvikelser")

    user.find(marker="download-review").click()
    await eventually(lambda: user.download.http_responses, "the CSV download")
    csv = user.download.http_responses[-1].content.decode("utf-8-sig")
    assert "Vårdrelation finns" in csv


async def test_auditor_searches_by_the_users_hsa_id(user: User, http: httpx.AsyncClient, auth: Auth,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    case = await register(http, auth("ward.nurse"), new_identity())
    nurse_hsa = next(u.hsa_id for u in DEMO_USERS if u.username == "ward.nurse")
    await signed_in(user, "auditor", "/loggkontroll")
    await user.should_see("Sök i åtkomstloggen", retries=100)
    user.find(marker="search-user").type(nurse_hsa)
    user.find(marker="search").click()
    await user.should_see(marker="search-results", retries=100)
    assert case["patient"]["name"] in texts(user)
    assert f"Sara Sjöberg, Sjuksköterska ({nurse_hsa})" in texts(user)
    requests = [r.getMessage() for r in caplog.records if "HTTP Request" in r.getMessage()]
    assert any("POST" in m and "/audit/access-log/search" in m for m in requests)
    assert not any(nurse_hsa in m for m in requests)  # in the body, never in a URL


async def test_local_admin_may_review_the_log_but_a_nurse_may_not(user: User) -> None:
    await signed_in(user, "hospital.admin", "/tavla")
    await user.should_see("Loggkontroll", retries=100)
    await user.should_see("Administration")
    await user.open("/loggkontroll")
    await user.should_see("Sök i åtkomstloggen", retries=100)


async def test_a_review_shows_its_period_as_entered(user: User, http: httpx.AsyncClient, auth: Auth) -> None:
    """1–7 Dec is through 7 Dec (sent as the start of 8 Dec, Swedish time): shown as entered, never as 1–8 Dec; and
    the dates are typed in the Swedish form whatever the browser's language (no `type=date` field)."""
    await register(http, auth("ward.nurse"), new_identity())
    await signed_in(user, "auditor", "/loggkontroll")
    await user.should_see("Granskningar (stickprov)", retries=100)
    today = datetime.now(STOCKHOLM).date()
    first = today - timedelta(days=6)
    with user:
        user.find(marker="review-unit").elements.pop().value = WARD
        user.find(marker="review-from").elements.pop().value = first.isoformat()
        user.find(marker="review-to").elements.pop().value = today.isoformat()
        assert all(e.props.get("type") != "date" for e in user.find(kind=ui.input).elements)
    user.find(marker="create-review").click()
    await user.should_see(f"Granskning av Avd 12 Geriatrik, {first.isoformat()} – {today.isoformat()}", retries=100)
    assert (today + timedelta(days=1)).isoformat() not in texts(user)


async def test_the_search_pages_forward_and_back_by_cursor(user: User, http: httpx.AsyncClient, auth: Auth,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    # the module as the running UI has it (the simulated user's app may have imported the pages again)
    monkeypatch.setattr(sys.modules["ui.pages.log_review"], "PAGE_SIZE", 2)
    identity = new_identity()
    nurse = auth("ward.nurse")
    case = await register(http, nurse, identity)
    for _ in range(3):
        assert (await http.get(f"/api/v1/cases/{case['id']}", headers=nurse)).status_code == 200
    await signed_in(user, "auditor", "/loggkontroll")
    await user.should_see("Sök i åtkomstloggen", retries=100)
    user.find(marker="search-identity").type(identity)
    user.find(marker="search").click()
    await user.should_see("Visar 1–2 av ", retries=100)  # registered and read three times: at least four
    assert "Registrerade inskrivning" not in texts(user)  # the oldest is not on the first page
    user.find(marker="next-page").click()
    await user.should_see("Visar 3–4 av ", retries=100)
    user.find(marker="previous-page").click()
    await user.should_see("Visar 1–2 av ", retries=100)
