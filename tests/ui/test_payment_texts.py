"""Payment texts follow the case's state (issue 13): the API states the stage, the case view words it. Each state is
reached through the real API, and the sentence the view shows is checked for what it must and must never say."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from nicegui.testing import User

from tests.server.conftest import DISCHARGE_CONTENT, register
from tests.ui.conftest import eventually, signed_in
from tests.ui.test_pages import Auth, act
from ui.pages.admin_payment import AMOUNTS_LINK
from ui.pages.case.payment import payment_text

Json = dict[str, Any]
LATE = "skickades för sent"
STARTS_IF_STILL_IN = "om patienten är kvar då"


def iso(moment: datetime) -> str:
    return moment.isoformat()


async def case_in(http: httpx.AsyncClient, nurse: dict[str, str], state: str) -> Json:
    case = await register(http, nurse, admitted_at=iso(datetime.now(UTC) - timedelta(hours=2)))
    if state == "admitted":
        return case
    case = await act(http, nurse, case, "admission-notice")
    if state == "planning":
        return case
    if state == "interrupted":
        return await act(http, nurse, case, "interruption", reason="died")
    case = await act(http, nurse, case, "ready-for-discharge")
    if state == "ready_for_discharge":
        return case
    case = await act(http, nurse, case, "discharge-notice", discharged_at=iso(datetime.now(UTC)),
                     **DISCHARGE_CONTENT)
    if state == "discharged":
        return case
    return await act(http, nurse, case, "closure")


@pytest.mark.parametrize(("state", "stage", "says"), [
    ("admitted", "not_ready", "Inget betalningsansvar ännu: patienten är inte utskrivningsklar."),
    ("planning", "not_ready", "Inget betalningsansvar ännu: patienten är inte utskrivningsklar."),
    ("ready_for_discharge", "not_yet_liable", "Kommunens betalningsansvar börjar"),
    ("discharged", "ended_without_liability", "vårdtiden slutade innan betalningsansvaret skulle ha börjat"),
    ("closed", "ended_without_liability", "vårdtiden slutade innan betalningsansvaret skulle ha börjat"),
    ("interrupted", "ended_without_liability", "patienten anmäldes aldrig som utskrivningsklar"),
])
async def test_the_payment_text_follows_the_state(http: httpx.AsyncClient, auth: Auth, state: str, stage: str,
                                                  says: str) -> None:
    case = await case_in(http, auth("ward.nurse"), state)
    assert case["state"] == state
    payment = case["payment"]
    never_ready = ["ready_notice_missing"] if state == "interrupted" else []
    assert (payment["stage"], payment["reasons_not_liable"]) == (stage, never_ready)
    text = payment_text(payment)
    assert says in text
    assert LATE not in text  # nothing was sent late in any of these cases
    if state != "ready_for_discharge":
        assert STARTS_IF_STILL_IN not in text


async def test_a_draft_is_pending_not_late(http: httpx.AsyncClient, auth: Auth) -> None:
    case = await case_in(http, auth("ward.nurse"), "admitted")
    assert case["payment"]["reasons_pending"] == ["admission_notice_late", "ready_notice_missing"]
    assert "inskrivningsmeddelandet" not in payment_text(case["payment"])


def test_the_texts_of_the_stages_without_a_quick_path() -> None:
    """Stages a test cannot reach within minutes (liability runs from day 3): worded from the API's facts alone."""
    base: Json = {"liability_starts_on": "2026-03-07", "liability_ends_on": "2026-03-09", "liable_days": 3,
                  "reasons_not_liable": [], "reasons_pending": []}
    assert payment_text({**base, "stage": "liable"}) == "Kommunen är betalningsansvarig från 2026-03-07."
    assert payment_text({**base, "stage": "was_liable"}) == (
        "Kommunen var betalningsansvarig 2026-03-07 – 2026-03-09 (3 dagar).")
    assert payment_text({**base, "stage": "not_liable", "reasons_not_liable": ["admission_notice_late"]}) == (
        "Inget betalningsansvar: inskrivningsmeddelandet skickades inte i tid.")
    assert payment_text({**base, "stage": "not_yet_liable", "reasons_pending": ["sip_invitation_missing"]}) == (
        "Kommunens betalningsansvar börjar 2026-03-07 om patienten är kvar då och kallelse till SIP skickas i tid.")


async def test_the_central_administrator_enters_the_amount_per_year(user: User, http: httpx.AsyncClient,
                                                                    auth: Auth) -> None:
    year = 2099  # a year no seed or other test uses; replaced, never added twice
    await signed_in(user, "central.admin", AMOUNTS_LINK)
    await user.should_see("Dagbelopp för betalningsansvar", retries=100)
    user.find(marker="amount-year").elements.pop().set_value(year)
    amount = user.find(marker="amount-sek").elements.pop()
    amount.set_value(0)
    user.find(marker="amount-save").click()
    await eventually(lambda: amount.error == "Ange hela kronor mellan 1 och 1\u00a0000\u00a0000 kr.",
                     "the message at the field")
    policy = (await http.get("/api/v1/payment/policy", headers=auth("central.admin"))).json()
    assert year not in [a["year"] for a in policy["amounts"]]  # nothing was written

    amount.set_value(9876)
    user.find(marker="amount-save").click()
    await user.should_see(marker=f"amount-{year}", retries=100)
    assert amount.error is None
    policy = (await http.get("/api/v1/payment/policy", headers=auth("central.admin"))).json()
    assert {"year": year, "amount_sek": 9876} in policy["amounts"]


async def test_only_those_who_may_enter_amounts_see_the_form(user: User) -> None:
    await signed_in(user, "hospital.admin", "/admin")
    await user.should_see("Administration", retries=100)
    await user.should_see(marker="merge", retries=100)  # the page is built
    await user.should_not_see("Dagbelopp för betalningsansvar")
