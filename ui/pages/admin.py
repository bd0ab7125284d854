"""Administration (`/admin`): users and their assignments, and the unit tree, of the organisations the signed-in
user may administer.

Local access administrators and central administrators keep users (create; change name, title, HSA-id, active)
and grant or take away assignments (role at a unit of the user's own organisation), each with or without the
explicit need to see protected identities (*Behörighet att se skyddade personuppgifter*: a person with
skyddad identitet then shows with name and address when the user acts for that unit). Local object specialists and
central administrators keep the unit tree (create, change, deactivate). The API decides who may do what
(`domain/administration.py`): each section is shown when the API lets the user read it, and every refusal or
conflict comes back as a Swedish message.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from nicegui import ui

from ui import fmt
from ui.api_client import ApiError, Json
from ui.components.admin_table import (
    ADMIN_MAIN_CLASSES,
    admin_message,
    can,
    cell,
    first_load,
    heading,
    problem,
    row,
    table,
)
from ui.components.confirm import confirm
from ui.components.mail_health import mail_health_section
from ui.frame import Frame, frame
from ui.pages.admin_identity import IdentityMergeSection
from ui.pages.admin_payment import PaymentAmountsSection

Action = Callable[[], Awaitable[None]]
PROTECTED_ACCESS = "Behörighet att se skyddade personuppgifter"
USER_PAGE = 100  # users shown at once; the search finds the others


def unit_tree(units: list[Json]) -> list[tuple[Json, int]]:
    """The units in tree order (parents before their sub-units), each with its depth."""
    ids = {u["id"] for u in units}
    children: dict[str | None, list[Json]] = {}
    for unit in units:
        parent = unit.get("parent_unit_id")
        children.setdefault(parent if parent in ids else None, []).append(unit)
    out: list[tuple[Json, int]] = []

    def walk(parent: str | None, depth: int) -> None:
        for unit in sorted(children.get(parent, []), key=lambda u: str(u["name"])):
            out.append((unit, depth))
            walk(unit["id"], depth + 1)

    walk(None, 0)
    return out


class AdminPage:
    def __init__(self, frame: Frame) -> None:
        self.frame = frame
        me = frame.live.me
        self.grantable_roles = [str(r) for r in can(me, "grantable_roles") or ()]
        # only roles that work with patients can carry the need to see protected personal data
        self.case_roles = frozenset(str(r) for r in can(me, "case_roles") or ())
        self.unit_admin = bool(can(me, "manage_units"))  # else the tree is read-only
        self.organisations: list[Json] = []
        self.organisation_id: str | None = None
        self.units: list[Json] = []  # the organisation's active units (directory), for assignments
        self.admin_units: list[Json] = []  # all its units (administration), for the unit tree
        self.users_box = ui.element("div")
        self.units_box = ui.element("div")
        self.users_error = ui.element("div")
        self.users_table = ui.element("div")
        self.units_error = ui.element("div")
        self.dialog_host = ui.element("div")  # dialogs live here, outside the sections a reload rebuilds
        self.search_text = ""
        self.shown_users: list[Json] = []
        self.more_users: str | None = None  # the cursor of the next page of users (None: all shown)
        self.searches = 0  # a search's answer is shown only if no newer search was started meanwhile

    def notify(self, text: str) -> None:
        """A toast, sent through the page's client (the button that was clicked may be gone after a reload)."""
        with self.frame.client:
            ui.notify(text, type="positive", close_button="Stäng")

    async def token(self) -> str:
        return await self.frame.fresh_token()

    async def call(self, method: str, path: str, body: Any = None) -> Any:
        return await self.frame.api.request(method, path, await self.token(), json=body)

    def unit_name(self, unit_id: str) -> str:
        return next((str(u["name"]) for u in self.units if u["id"] == unit_id), unit_id)

    # ----- loading ----------------------------------------------------------------------------------------------

    async def load(self) -> None:
        self.organisations = await self.frame.api.every_page("/admin/organisations", await self.token())
        self.organisations.sort(key=lambda o: str(o["name"]))
        if not self.organisations:
            ui.label("Det finns ingen organisation som du administrerar.")
            return
        self.organisation_id = str(self.organisations[0]["id"])
        if len(self.organisations) > 1:
            options = {str(o["id"]): str(o["name"]) for o in self.organisations}
            ui.select(options, value=self.organisation_id, label="Organisation",
                      on_change=self.change_organisation).classes("min-w-[20rem]").mark("organisation")
        else:
            ui.label(f"Organisation: {self.organisations[0]['name']}").classes("text-lg")
        self.users_box = ui.element("div").classes("w-full")  # each section starts with its own heading
        self.units_box = ui.element("div").classes("w-full")
        if can(self.frame.live.me, "merge_identities"):
            IdentityMergeSection(self.frame, self.dialog_host, self.notify)
        if can(self.frame.live.me, "enter_payment_amounts"):
            await PaymentAmountsSection(self.frame, self.notify).load()
        await self.reload()
        await mail_health_section(self.frame)

    async def change_organisation(self, event: Any) -> None:
        if event.value and event.value != self.organisation_id:
            self.organisation_id = str(event.value)
            await self.reload()

    async def reload(self) -> None:
        await self.reload_users()
        await self.reload_units()

    # ----- users and assignments --------------------------------------------------------------------------------

    async def fetch_users(self, org: str | None, cursor: str | None = None) -> tuple[list[Json], str | None]:
        """A page of the organisation's users by name (those matching the search), and the next page's cursor."""
        params: dict[str, Any] = {"limit": USER_PAGE}
        if self.search_text:
            params["q"] = self.search_text
        if cursor:
            params["cursor"] = cursor
        users, following = await self.frame.api.page(f"/admin/organisations/{org}/users", await self.token(),
                                                     params=params)
        return list(users), following

    async def show_more_users(self) -> None:
        asked, org = self.searches, self.organisation_id
        try:
            users, following = await self.fetch_users(org, self.more_users)
        except ApiError as exc:
            problem(self.users_error, admin_message(exc))
            return
        if asked == self.searches and org == self.organisation_id:
            self.show_users(self.shown_users + users, following)

    async def reload_users(self) -> None:
        box = self.users_box
        box.clear()
        org = self.organisation_id
        try:
            users, following = await self.fetch_users(org)
            self.units = await self.frame.api.units(await self.token(), organisation_id=org)
        except ApiError as exc:
            if org != self.organisation_id:
                return  # another organisation was chosen meanwhile: its reload draws the section
            if exc.status == 403:
                return  # this user keeps no users of this organisation (an object specialist)
            with box:
                heading("Användare", 2).props('id="sp-users-heading"')
                problem(ui.element("div"), admin_message(exc))
            return
        if org != self.organisation_id:
            return
        with box:
            heading("Användare", 2, "mt-4").props('id="sp-users-heading"')
            self.users_error = ui.element("div")
            with ui.row().classes("items-end gap-4 flex-wrap"):
                ui.button("Ny användare", icon="person_add", on_click=self.new_user_dialog).props("no-caps").mark(
                    "new-user")
                ui.input("Sök användare", value=self.search_text, on_change=self.search).props(
                    'debounce=300 clearable type="search" hint="Namn, användarnamn, titel eller HSA-id"').classes(
                    "min-w-[18rem]").mark("user-search")
            self.users_table = ui.element("div").classes("w-full")
        self.show_users(users, following)

    async def search(self, event: Any) -> None:
        self.search_text = str(event.value or "").strip()
        self.searches += 1
        asked, org = self.searches, self.organisation_id
        try:
            users, following = await self.fetch_users(org)
        except ApiError as exc:
            problem(self.users_error, admin_message(exc))
            return
        if asked == self.searches and org == self.organisation_id:  # an older answer never overwrites a newer
            self.show_users(users, following)

    def show_users(self, users: list[Json], following: str | None) -> None:
        self.shown_users, self.more_users = users, following
        self.users_table.clear()
        with self.users_table:
            if following:
                status = f"Visar de {len(users)} första. Sök eller visa fler."
            elif self.search_text:
                status = f"{fmt.plural(len(users), 'användare matchar', 'användare matchar')} sökningen."
            else:
                status = f"{fmt.plural(len(users), 'användare', 'användare')} i organisationen."
            ui.label(status).props('role="status"').classes("sp-muted").mark("users-status")
            with table("Användare i organisationen", ("Namn", "Användarnamn", "Titel", "HSA-id", "Status",
                                                       "Behörigheter", "Åtgärder"), marker="users"):
                for user in users:
                    self.user_row(user)
            if following:
                ui.button("Visa fler", icon="expand_more", on_click=self.show_more_users).props(
                    "flat no-caps").mark("more-users")

    def user_row(self, user: Json) -> None:
        name = str(user["display_name"])
        with row(name, str(user["username"]), str(user["title"]), str(user["hsa_id"]),
                 "Aktiv" if user["active"] else "Inaktiv", marker=f"user-{user['username']}"):
            with cell(), ui.column().classes("gap-1"):
                if not user["assignments"]:
                    ui.label("Inga").classes("sp-muted")
                for assignment in user["assignments"]:
                    role = fmt.label(fmt.ROLES, assignment["role"])
                    unit = self.unit_name(str(assignment["unit_id"]))
                    with ui.row().classes("items-center gap-1 no-wrap"):
                        ui.label(f"{role} – {unit}")
                        ui.button(icon="delete", on_click=self.remover(user, assignment)).props(
                            f'flat dense round aria-label="Ta bort {role} vid {unit} för {name}"').mark(
                            f"remove-{user['username']}-{assignment['id']}")
                    if str(assignment["role"]) in self.case_roles:
                        ui.checkbox("Ser skyddade personuppgifter",
                                    value=bool(assignment.get("protected_identity_access")),
                                    on_change=self.protected_access_changer(user, assignment)).props(
                            f'dense aria-label="{PROTECTED_ACCESS}: {role} vid {unit} för {name}"').classes(
                            "text-sm").mark(f"protected-{user['username']}-{assignment['id']}")
            with cell(), ui.row().classes("gap-1"):
                ui.button("Ändra", on_click=lambda u=user: self.edit_user_dialog(u)).props(
                    f'flat dense no-caps aria-label="Ändra {name}"').mark(f"edit-{user['username']}")
                ui.button("Ge behörighet", on_click=lambda u=user: self.grant_dialog(u)).props(
                    f'flat dense no-caps aria-label="Ge behörighet till {name}"').mark(f"grant-{user['username']}")

    def protected_access_changer(self, user: Json, assignment: Json) -> Callable[[Any], Awaitable[None]]:
        """Give or take away the need to see protected identities at the assignment's unit (the API records who)."""
        async def change(event: Any) -> None:
            wanted = bool(event.value)
            if wanted == bool(assignment.get("protected_identity_access")):
                return
            if not wanted and not await confirm(
                    self.dialog_host, "Ta bort behörighet att se skyddade personuppgifter",
                    f"{self.assignment_text(user, assignment)} ser då inte längre namn och adress för personer med "
                    "skyddad identitet.", "Ta bort", marker="confirm-protected"):
                event.sender.set_value(True)  # as it is (the change handler then sees no change)
                return
            try:
                await self.call("PATCH", f"/admin/users/{user['id']}/assignments/{assignment['id']}",
                                {"protected_identity_access": wanted})
            except ApiError as exc:
                problem(self.users_error, admin_message(exc))
                await self.reload_users()  # shows the assignment as it is
                return
            await self.reload_users()
            self.notify(f"{PROTECTED_ACCESS} är {'given' if wanted else 'borttagen'}")
        return change

    def remover(self, user: Json, assignment: Json) -> Action:
        """Take an assignment away: confirmed first (what the user loses, in words), then offered back
        ("Ångra" gives the same assignment again, with its protected-identity access)."""
        async def remove() -> None:
            what = self.assignment_text(user, assignment)
            if not await confirm(self.dialog_host, "Ta bort behörighet",
                                 f"{what}. {user['display_name']} förlorar den direkt, också i öppna flikar.",
                                 "Ta bort behörigheten", marker="confirm-remove-assignment"):
                return
            try:
                await self.call("DELETE", f"/admin/users/{user['id']}/assignments/{assignment['id']}")
            except ApiError as exc:
                problem(self.users_error, admin_message(exc))
                return
            await self.reload_users()
            self.offer_undo(user, assignment, what)
        return remove

    def assignment_text(self, user: Json, assignment: Json) -> str:
        role = fmt.label(fmt.ROLES, assignment["role"])
        return f"{role} vid {self.unit_name(str(assignment['unit_id']))} för {user['display_name']}"

    def offer_undo(self, user: Json, assignment: Json, what: str) -> None:
        """A notice where the users section's messages go, with "Ångra" until the next change."""
        self.users_error.clear()
        with self.users_error, ui.row().classes("items-center gap-2").props('role="status"'):
            ui.label(f"Borttagen: {what}.")

            async def undo() -> None:
                body = {"unit_id": assignment["unit_id"], "role": assignment["role"],
                        "protected_identity_access": bool(assignment.get("protected_identity_access"))}
                try:
                    await self.call("POST", f"/admin/users/{user['id']}/assignments", body)
                except ApiError as exc:
                    problem(self.users_error, admin_message(exc))
                    return
                await self.reload_users()
                self.notify(f"Behörigheten är tillbaka: {what}")

            ui.button("Ångra", icon="undo", on_click=undo).props("flat dense no-caps").mark("undo-remove")

    def dialog(self, title: str, submit_text: str, submit: Callable[[ui.element], Awaitable[bool]],
               fields: Callable[[], None], marker: str) -> None:
        """A modal form: fields, an error area (role=alert), Cancel and the submit button."""
        with self.dialog_host, ui.dialog().props(f'aria-label="{title}"') as dialog, \
                ui.card().classes("min-w-[28rem]"):
            heading(title, 2)
            fields()
            error = ui.element("div")

            async def done() -> None:
                if await submit(error):
                    dialog.close()

            with ui.row().classes("justify-end w-full"):
                ui.button("Avbryt", on_click=dialog.close).props("flat")
                ui.button(submit_text, on_click=done).mark(marker)
        dialog.on("hide", dialog.delete)
        dialog.open()

    def new_user_dialog(self) -> None:
        inputs: dict[str, ui.input] = {}

        def fields() -> None:
            inputs["display_name"] = ui.input("Namn").props("autofocus").classes("w-full").mark("user-name")
            inputs["username"] = ui.input("Användarnamn (små bokstäver, siffror, punkt)").classes("w-full").mark(
                "user-username")
            inputs["title"] = ui.input("Titel").classes("w-full").mark("user-title")
            inputs["hsa_id"] = ui.input("HSA-id", placeholder="SE2321000016-ABC1").classes("w-full").mark(
                "user-hsa")

        async def submit(error: ui.element) -> bool:
            body = {k: str(v.value or "").strip() for k, v in inputs.items()}
            try:
                await self.call("POST", f"/admin/organisations/{self.organisation_id}/users", body)
            except ApiError as exc:
                problem(error, admin_message(exc))
                return False
            await self.reload_users()
            self.notify(f"{body['display_name']} är skapad")
            return True

        self.dialog("Ny användare", "Skapa användare", submit, fields, "create-user")

    def edit_user_dialog(self, user: Json) -> None:
        inputs: dict[str, Any] = {}

        def fields() -> None:
            inputs["display_name"] = ui.input("Namn", value=user["display_name"]).props(
                "autofocus").classes("w-full").mark("edit-name")
            inputs["title"] = ui.input("Titel", value=user["title"]).classes("w-full").mark("edit-title")
            inputs["hsa_id"] = ui.input("HSA-id", value=user["hsa_id"]).classes("w-full").mark("edit-hsa").tooltip(
                "Användaren loggar in med sitt HSA-id: ändra det bara för att rätta ett fel")
            inputs["active"] = ui.checkbox("Aktiv (kan logga in)", value=bool(user["active"])).mark("edit-active")

        async def submit(error: ui.element) -> bool:
            body = {"display_name": str(inputs["display_name"].value or "").strip(),
                    "title": str(inputs["title"].value or "").strip(), "active": bool(inputs["active"].value)}
            hsa_id = str(inputs["hsa_id"].value or "").strip()
            if hsa_id != user["hsa_id"]:
                body["hsa_id"] = hsa_id
            if user["active"] and not body["active"] and not await confirm(
                    self.dialog_host, f"Avsluta behörigheten för {user['display_name']}",
                    "Användaren kan inte längre logga in, och öppna flikar stängs ute direkt.",
                    "Gör inaktiv", marker="confirm-deactivate-user"):
                return False
            try:
                await self.call("PATCH", f"/admin/users/{user['id']}", body)
            except ApiError as exc:
                problem(error, admin_message(exc))
                return False
            await self.reload_users()
            self.notify("Ändringen är sparad")
            return True

        self.dialog(f"Ändra {user['display_name']}", "Spara", submit, fields, "save-user")

    def grant_dialog(self, user: Json) -> None:
        inputs: dict[str, Any] = {}
        roles = {k: fmt.label(fmt.ROLES, k) for k in self.grantable_roles}
        units = {str(u["id"]): str(u["name"]) for u in sorted(self.units, key=lambda u: str(u["name"]))}

        def role_changed(event: Any) -> None:
            protected = inputs.get("protected")
            if protected is not None:  # only roles that work with patients can carry the need
                protected.set_visibility(event.value in self.case_roles)

        def fields() -> None:
            inputs["unit_id"] = ui.select(units, label="Enhet", with_input=True).props(
                "autofocus").classes("w-full").mark("grant-unit")
            inputs["role"] = ui.select(roles, label="Roll", value="user", on_change=role_changed).classes(
                "w-full").mark("grant-role")
            inputs["protected"] = ui.checkbox(PROTECTED_ACCESS, value=False).mark("grant-protected").tooltip(
                "Namn och adress för personer med skyddad identitet visas när användaren arbetar för enheten. "
                "Ge den bara vid uttalat behov.")

        async def submit(error: ui.element) -> bool:
            if not inputs["unit_id"].value:
                problem(error, "Välj en enhet.")
                return False
            body = {"unit_id": inputs["unit_id"].value, "role": inputs["role"].value,
                    "protected_identity_access": bool(inputs["protected"].value)
                    and inputs["role"].value in self.case_roles}
            try:
                await self.call("POST", f"/admin/users/{user['id']}/assignments", body)
            except ApiError as exc:
                problem(error, admin_message(exc))
                return False
            await self.reload_users()
            self.notify("Behörigheten är given")
            return True

        self.dialog(f"Ge behörighet till {user['display_name']}", "Ge behörighet", submit, fields, "save-grant")

    # ----- units ------------------------------------------------------------------------------------------------

    async def reload_units(self) -> None:
        box = self.units_box
        box.clear()
        org = self.organisation_id
        try:
            units = await self.frame.api.every_page(f"/admin/organisations/{org}/units", await self.token())
        except ApiError as exc:
            if org != self.organisation_id:
                return  # another organisation was chosen meanwhile: its reload draws the section
            if exc.status == 403:
                return  # this user keeps no units of this organisation (a local access administrator)
            with box:
                heading("Enheter", 2).props('id="sp-units-heading"')
                problem(ui.element("div"), admin_message(exc))
            return
        if org != self.organisation_id:
            return
        self.admin_units = units
        names = {str(u["id"]): str(u["name"]) for u in units}
        with box:
            heading("Enheter", 2, "mt-6").props('id="sp-units-heading"')
            self.units_error = ui.element("div")
            if self.unit_admin:
                ui.button("Ny enhet", icon="add_business", on_click=lambda: self.unit_dialog(None)).mark(
                    "new-unit")
            with table("Organisationens enheter (underenheter indragna under sin överordnade)",
                       ("Namn", "Typ", "HSA-id", "Överordnad", "Kommunkod", "Status", "Åtgärder"), marker="units"):
                for unit, depth in unit_tree(units):
                    name = str(unit["name"])
                    with row("\u2003" * depth + name, fmt.label(fmt.UNIT_KINDS, unit["kind"]),
                             str(unit["hsa_id"]), names.get(str(unit.get("parent_unit_id") or ""), "–"),
                             str(unit.get("municipality_code") or "–"), "Aktiv" if unit["active"] else "Inaktiverad",
                             marker=f"unit-{unit['hsa_id']}"), cell(), ui.row().classes("gap-1"):
                        if not self.unit_admin:
                            ui.label("–")
                            continue
                        ui.button("Ändra", on_click=lambda u=unit: self.unit_dialog(u)).props(
                            f'flat dense no-caps aria-label="Ändra {name}"').mark(f"edit-unit-{unit['hsa_id']}")
                        if unit["active"]:
                            ui.button("Inaktivera", on_click=self.deactivator(unit)).props(
                                f'flat dense no-caps color=negative aria-label="Inaktivera {name}"').mark(
                                f"deactivate-{unit['hsa_id']}")

    def deactivator(self, unit: Json) -> Action:
        async def deactivate() -> None:
            if not await confirm(self.dialog_host, f"Inaktivera {unit['name']}",
                                 "Enheten tar inte emot nya meddelanden eller behörigheter. Den behåller sina "
                                 "ärenden och sin logg.", "Inaktivera enheten", marker="confirm-deactivate"):
                return
            try:
                await self.call("POST", f"/admin/units/{unit['id']}/deactivation")
            except ApiError as exc:
                problem(self.units_error, f"{unit['name']} kan inte inaktiveras: {admin_message(exc)}")
                return
            await self.reload_units()
            self.notify(f"{unit['name']} är inaktiverad")
        return deactivate

    def unit_dialog(self, unit: Json | None) -> None:
        inputs: dict[str, Any] = {}
        parents = {"": "Ingen (högst upp)"} | {
            str(u["id"]): str(u["name"]) for u in self.admin_units
            if u["active"] and (unit is None or u["id"] != unit["id"])}

        def fields() -> None:
            inputs["name"] = ui.input("Namn", value=unit["name"] if unit else "").props(
                "autofocus").classes("w-full").mark("unit-name")
            if unit is None:
                inputs["kind"] = ui.select(fmt.UNIT_KINDS, label="Typ", value="somatic_ward").classes("w-full").mark(
                    "unit-kind")
                inputs["hsa_id"] = ui.input("HSA-id", placeholder="SE2321000016-ABC1").classes("w-full").mark(
                    "unit-hsa")
            inputs["parent_unit_id"] = ui.select(parents, label="Överordnad enhet",
                                                 value=(unit or {}).get("parent_unit_id") or "").classes("w-full")
            inputs["municipality_code"] = ui.input("Kommunkod (fyra siffror, för kommunala enheter)",
                                                   value=(unit or {}).get("municipality_code") or "").classes(
                                                       "w-full")
            inputs["phone"] = ui.input("Telefon (som andra parter i ärenden ringer)",
                                       value=(unit or {}).get("phone") or "").props('type="tel"').classes(
                                           "w-full").mark("unit-phone")

        async def submit(error: ui.element) -> bool:
            body = {k: (str(v.value).strip() if v.value else None) for k, v in inputs.items()}
            try:
                if unit is None:
                    await self.call("POST", f"/admin/organisations/{self.organisation_id}/units",
                                    {k: v for k, v in body.items() if v is not None})
                else:
                    await self.call("PATCH", f"/admin/units/{unit['id']}", body)
            except ApiError as exc:
                problem(error, admin_message(exc))
                return False
            await self.reload_units()
            self.notify("Enheten är sparad")
            return True

        title = "Ny enhet" if unit is None else f"Ändra {unit['name']}"
        self.dialog(title, "Spara enhet", submit, fields, "save-unit")


async def admin_page() -> None:
    async with frame("/admin", "Administration", needs="administer", classes=ADMIN_MAIN_CLASSES) as shell:
        heading("Administration", 1)
        await first_load(AdminPage(shell).load())
