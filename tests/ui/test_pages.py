"""Page logic with NiceGUI's simulated user against the real API: board, inbox, case view, live updates."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from nicegui import ui
from nicegui.testing import User

from tests.server.conftest import SODERMALM, SOLNA_HOME_CARE, SOLNA_INTAKE, register
from tests.ui.conftest import eventually, signed_in

Auth = Callable[[str], dict[str, str]]


def row_html(user: User, case_id: str) -> str:
    """Everything a row (board or inbox) shows, as one string."""
    with user:
        rows = [e for e in ui.context.client.elements.values() if e.props.get("data-case") == case_id]
    if not rows:
        return ""
    return " ".join(_texts(rows[0]))


def _texts(element: Any) -> list[str]:
    out = [str(element.props.get("innerHTML", "")), str(getattr(element, "text", "") or "")]
    for child in element.default_slot.children:
        out += _texts(child)
    return out


async def act(http: httpx.AsyncClient, headers: dict[str, str], case: dict[str, Any], action: str,
              **body: Any) -> dict[str, Any]:
    response = await http.post(f"/api/v1/cases/{case['id']}/{action}",
                               json={"expected_version": case["version"], **body}, headers=headers)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def test_signed_out_pages_send_the_browser_to_the_login(user: User, api_server: Any) -> None:
    for path in ("/", "/tavla", "/inkorg", "/arende/abc"):
        response = await user.http_client.get(path, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"] == f"/login?next={path}"


async def test_board_shows_the_wards_cases_and_changes_live(user: User, http: httpx.AsyncClient,
                                                            auth: Auth) -> None:
    nurse = auth("ward.nurse")
    case = await register(http, nurse)
    await signed_in(user, "ward.nurse", "/tavla")
    await user.should_see("Utskrivningstavla – Avd 12 Geriatrik", retries=100)
    await eventually(lambda: "Inskriven (utkast)" in row_html(user, case["id"]), "the registered case")
    assert "Testa Testsson" in row_html(user, case["id"])
    assert "Inskr.medd." in row_html(user, case["id"])  # the admission notice deadline counts down

    # A change made elsewhere (another nurse, through the API) reaches the open board by itself.
    case = await act(http, nurse, case, "admission-notice")
    await eventually(lambda: "Planering" in row_html(user, case["id"]), "the new state on the board")
    assert "1 okvitterat" in row_html(user, case["id"])

    # The municipality acknowledges: the board shows it, still without a reload.
    await act(http, auth("needs.assessor"), case, "acknowledgements")
    await eventually(lambda: "Biståndsenheten Solna: kvitterat" in row_html(user, case["id"]),
                     "the acknowledgement on the board")


async def test_board_action_sends_the_admission_notice(user: User, http: httpx.AsyncClient, auth: Auth) -> None:
    case = await register(http, auth("ward.nurse"))
    await signed_in(user, "ward.nurse", "/tavla")
    await eventually(lambda: "Inskriven (utkast)" in row_html(user, case["id"]), "the registered case")
    user.find(marker=f"actions-{case['id']}").click()
    user.find(marker="action-admission").click()
    await eventually(lambda: "Planering" in row_html(user, case["id"]), "the notice sent from the board")
    response = await http.get(f"/api/v1/cases/{case['id']}", headers=auth("ward.nurse"))
    assert response.json()["state"] == "planning"


async def test_inbox_receives_notices_with_toast_and_badge_and_acknowledges(
        user: User, http: httpx.AsyncClient, auth: Auth) -> None:
    nurse = auth("ward.nurse")
    case = await register(http, nurse)
    await signed_in(user, "needs.assessor", "/inkorg")
    await user.should_see("Inkorg – Biståndsenheten Solna", retries=100)
    await user.should_see("Inkorgen är tom.", retries=100)

    case = await act(http, nurse, case, "admission-notice")
    await eventually(lambda: "Inskrivningsmeddelande" in row_html(user, case["id"]), "the notice in the inbox")
    await eventually(lambda: any("Nytt inskrivningsmeddelande" in m for m in user.notify.messages), "a toast")
    with user:
        badge = next(b for b in ui.context.client.elements.values() if isinstance(b, ui.badge))
    await eventually(lambda: badge.text == "1" and badge.visible, "the unread badge")

    user.find(kind=ui.button, content="Kvittera").click()
    await eventually(lambda: "Allt kvitterat" in row_html(user, case["id"]), "the acknowledgement")
    await eventually(lambda: not badge.visible, "the badge to go")
    response = await http.get(f"/api/v1/units/{SOLNA_INTAKE}/inbox", headers=auth("needs.assessor"))
    assert response.json()["unread"] == 0


async def test_inbox_acknowledges_several_at_once(user: User, http: httpx.AsyncClient, auth: Auth) -> None:
    nurse = auth("ward.nurse")
    cases = [await act(http, nurse, await register(http, nurse), "admission-notice") for _ in range(2)]
    await signed_in(user, "needs.assessor", "/inkorg")
    for case in cases:
        await eventually(lambda c=case: "Inskrivningsmeddelande" in row_html(user, c["id"]), "both notices")
    for checkbox in user.find(kind=ui.checkbox).elements:
        checkbox.set_value(True)
    user.find(kind=ui.button, content="Kvittera markerade (2)").click()
    for case in cases:
        await eventually(lambda c=case: "Allt kvitterat" in row_html(user, c["id"]), "both acknowledged")
    response = await http.get(f"/api/v1/units/{SOLNA_INTAKE}/inbox", headers=auth("needs.assessor"))
    assert response.json()["unread"] == 0


async def test_case_view_keeps_typed_text_on_a_conflicting_edit(user: User, http: httpx.AsyncClient,
                                                                auth: Auth) -> None:
    nurse, assessor = auth("ward.nurse"), auth("needs.assessor")
    case = await act(http, nurse, await register(http, nurse), "admission-notice")
    await signed_in(user, "needs.assessor", f"/arende/{case['id']}")
    await user.should_see("Vårt planeringsunderlag", retries=100)
    await user.should_see("Testa Testsson", retries=100)

    # The user types; meanwhile a colleague at the same unit saves the same field.
    services = next(e for e in user.find(kind=ui.textarea).elements if e.props.get("label") == "Nuvarande insatser")
    services.set_value("Hemtjänst 3 ggr/dag")
    await act(http, assessor, case, "planning", current_services="Trygghetslarm")

    user.find("Spara planeringsunderlag").click()
    await user.should_see("Någon annan har ändrat detta medan du skrev", retries=100)
    await user.should_see("Sparat av någon annan: Trygghetslarm", retries=100)
    assert services.value == "Hemtjänst 3 ggr/dag"  # nothing the user typed is lost

    # Saving again overwrites knowingly.
    user.find("Spara planeringsunderlag").click()
    await eventually(lambda: any("Sparat" in str(getattr(e, "text", "")) and "2" in str(getattr(e, "text", ""))
                                 for e in user.find(kind=ui.label).elements), "the second save")
    response = await http.get(f"/api/v1/cases/{case['id']}", headers=assessor)
    planning = {p["unit_id"]: p for p in response.json()["planning"]}
    assert planning[SOLNA_INTAKE]["current_services"] == "Hemtjänst 3 ggr/dag"


async def test_case_view_merges_an_edit_of_another_field(user: User, http: httpx.AsyncClient, auth: Auth) -> None:
    nurse, assessor = auth("ward.nurse"), auth("needs.assessor")
    case = await act(http, nurse, await register(http, nurse), "admission-notice")
    await signed_in(user, "needs.assessor", f"/arende/{case['id']}")
    await user.should_see("Vårt planeringsunderlag", retries=100)
    adl = next(e for e in user.find(kind=ui.textarea).elements if e.props.get("label", "").startswith("ADL"))
    adl.set_value("Går med rollator")
    # Someone else changes another field and the case moves on (a ready-for-discharge notice).
    changed = await act(http, assessor, case, "planning", aids="Rollator finns")
    await act(http, nurse, changed, "ready-for-discharge")
    user.find("Spara planeringsunderlag").click()
    await eventually(lambda: any("Sparat" in str(getattr(e, "text", "")) for e in user.find(kind=ui.label).elements),
                     "the merged save")
    response = await http.get(f"/api/v1/cases/{case['id']}", headers=assessor)
    planning = {p["unit_id"]: p for p in response.json()["planning"]}
    assert planning[SOLNA_INTAKE]["adl"] == "Går med rollator"
    assert planning[SOLNA_INTAKE]["aids"] == "Rollator finns"


async def test_lost_stream_shows_a_banner_and_resumes_with_what_was_missed(
        user: User, api_server: Any, api: Any, auth: Auth) -> None:
    other = await api()  # a second API instance: commands go on while the UI's instance is down
    nurse = auth("ward.nurse")
    async with httpx.AsyncClient(base_url=other.url, timeout=10) as http:
        case = await register(http, nurse)
        await signed_in(user, "ward.nurse", "/tavla")
        await eventually(lambda: "Inskriven (utkast)" in row_html(user, case["id"]), "the registered case")
        with user:
            banner = next(e for e in ui.context.client.elements.values() if "sp-banner" in e.classes)
        assert not banner.visible

        await api_server.stop()
        await eventually(lambda: banner.visible, "the connection-lost banner")
        await user.should_see("Anslutningen till Samplan-servern är bruten", retries=100)
        case = await act(http, nurse, case, "admission-notice")  # while the UI cannot hear it

        await api_server.start()
        await eventually(lambda: not banner.visible, "the banner to go", within=20)
        await eventually(lambda: "Planering" in row_html(user, case["id"]), "the missed change", within=20)


async def test_presence_shows_who_else_looks_at_the_case(user: User, create_user: Callable[[], User],
                                                         http: httpx.AsyncClient, auth: Auth) -> None:
    nurse = auth("ward.nurse")
    case = await act(http, nurse, await register(http, nurse), "admission-notice")
    await signed_in(user, "ward.nurse", "/tavla")
    await eventually(lambda: "Planering" in row_html(user, case["id"]), "the case on the board")

    assessor = create_user()
    await signed_in(assessor, "needs.assessor", f"/arende/{case['id']}")
    await eventually(lambda: "Karin Berg" in row_html(user, case["id"]), "the assessor's presence on the board")
    assert "tittar" in row_html(user, case["id"])


async def test_deadline_turning_at_risk_alerts_the_responsible_unit(user: User, http: httpx.AsyncClient,
                                                                   auth: Auth) -> None:
    from datetime import UTC, datetime, timedelta

    from ui.components.countdown import TICKER

    admitted = datetime.now(UTC) - timedelta(hours=17)  # the admission notice is due in 7 h: still ok
    case = await register(http, auth("ward.nurse"), admitted_at=admitted.isoformat())
    await signed_in(user, "ward.nurse", "/tavla")
    await eventually(lambda: 'data-state="ok"' in row_html(user, case["id"]), "the deadline, ok")
    assert not any("snart försenad" in m for m in user.notify.messages)

    TICKER.tick(datetime.now(UTC) + timedelta(hours=2))  # two hours pass: 5 h left, inside the 6 h window
    await eventually(lambda: 'data-state="at_risk"' in row_html(user, case["id"]), "the deadline, at risk")
    assert any("Inskrivningsmeddelande: snart försenad" in m for m in user.notify.messages)


async def test_unit_switcher_changes_the_acting_unit(user: User, http: httpx.AsyncClient, auth: Auth) -> None:
    await signed_in(user, "ward.coordinator", "/tavla")

    def switcher() -> Any:
        with user:
            return next((e for e in ui.context.client.elements.values()
                         if isinstance(e, ui.select) and e.props.get("label") == "Enhet du arbetar för"), None)

    await eventually(lambda: switcher() is not None, "the unit switcher (two wards)")
    select = switcher()
    other = next(u for u in select.options if u != select.value)
    name = select.options[other]
    select.set_value(other)  # the page reloads for the other unit
    await user.should_see(f"Utskrivningstavla – {name}", retries=100)


async def test_inbox_answers_not_ours_with_a_reason(user: User, http: httpx.AsyncClient, auth: Auth) -> None:
    nurse = auth("ward.nurse")
    case = await act(http, nurse, await register(http, nurse), "admission-notice")
    await signed_in(user, "needs.assessor", "/inkorg")
    await eventually(lambda: "Inskrivningsmeddelande" in row_html(user, case["id"]), "the notice")
    user.find(marker=f"more-{case['id']}").click()
    user.find(marker="action-reject").click()
    await user.should_see("Orsak", retries=100)
    user.find(kind=ui.button, content="Inte vår patient").click()
    await eventually(lambda: row_html(user, case["id"]) == "", "the case to leave the inbox")
    response = await http.get(f"/api/v1/cases/{case['id']}", headers=nurse)
    rejected = {p["unit_id"]: p["status"] for p in response.json()["participants"]}
    assert rejected[SOLNA_INTAKE] == "rejected"
    assert any(t["action"] == "rejected" and t["detail"] == "wrong_municipality"
               for t in response.json()["timeline"])


async def test_inbox_forwards_to_a_unit_the_api_offers(user: User, http: httpx.AsyncClient, auth: Auth) -> None:
    nurse = auth("ward.nurse")
    case = await act(http, nurse, await register(http, nurse), "admission-notice")
    await signed_in(user, "needs.assessor", "/inkorg")
    await eventually(lambda: "Inskrivningsmeddelande" in row_html(user, case["id"]), "the notice")
    user.find(marker=f"more-{case['id']}").click()
    user.find(marker="action-forward").click()
    await user.should_see("Till enhet", retries=100)
    target = next(e for e in user.find(kind=ui.select).elements if e.props.get("label") == "Till enhet")
    # Exactly the API's list (the rule the command enforces): another municipality's unit too, not only Solna's.
    offered = await http.get("/api/v1/units", params={"forward_from": SOLNA_INTAKE, "limit": 500},
                             headers=auth("needs.assessor"))
    assert offered.status_code == 200, offered.text
    assert set(target.options) == {u["id"] for u in offered.json()["items"]}
    assert SODERMALM in target.options
    home_care = SOLNA_HOME_CARE
    target.set_value(home_care)
    user.find(kind=ui.button, content="Vidarebefordra").click()
    await eventually(lambda: row_html(user, case["id"]) == "", "the case to leave the inbox")
    response = await http.get(f"/api/v1/units/{home_care}/inbox", headers=auth("municipal.nurse"))
    assert [i["case"]["id"] for i in response.json()["items"]] == [case["id"]]
