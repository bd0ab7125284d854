"""The statistics reader's landing page (`/statistik`): what is theirs, what exists now and what will come.

A user whose only role is *statistikläsare* works with no cases, so the board has nothing for them; the start page
sends them here (`ui/pages/home.py`). The page names the units they read statistics for (`GET /me`
`capabilities.statistics_unit_ids`), says what the role shows (aggregates, never a patient) and lists the
statistics that are planned (issue 15: settlement of payment liability, statistics per audience, the national
indicators), so nobody takes the missing figures for an error.
"""

from __future__ import annotations

from nicegui import ui

from ui.components.admin_table import can, heading
from ui.frame import Frame, frame

COMING = (
    ("Slutenvård", "andel inskrivningsmeddelanden inom 24 timmar, utskrivningsklar-anmälningar, dagar som "
                   "utskrivningsklar (medel, median och fördelning), patienter utskrivningsklara i dag och "
                   "utskrivningar per vart patienten går – per avdelning, sjukhus och vårdgivare"),
    ("Primärvård och öppenvård", "fast vårdkontakt utsedd i tid, kallelse till SIP inom tre dagar, hållna "
                                 "SIP-möten, planer som justerats och följts upp"),
    ("Kommunal verksamhet", "tid till kvittering (median och 90:e percentilen), utskrivningsklara dagar, dagar "
                            "med betalningsansvar och kostnad per månad, också per 1 000 invånare 65 år och äldre"),
    ("Betalningsansvar – underlag", "underlaget per kommun och månad: regionen förbereder, kommunen granskar och "
                                    "kan bestrida rader, månaden attesteras och låses"),
    ("Nationella indikatorer", "Vården i siffror: utskrivningsklara patienter per kommun och månad, som CSV"),
)


def statistics_landing(shell: Frame) -> None:
    me = shell.live.me
    mine = [str(u) for u in can(me, "statistics_unit_ids") or ()]
    names = {str(a["unit_id"]): str(a["unit_name"]) for a in me.get("assignments", [])}
    if not mine:
        ui.label("Du har ingen behörighet att läsa statistik. Behörigheten ges av din lokala "
                 "behörighetsadministratör.").props('role="alert"').mark("statistics-none")
        return
    with ui.element("section").props('aria-labelledby="sp-stat-mine"').classes("w-full"):
        heading("Det här är ditt", 2, "mt-2").props('id="sp-stat-mine"')
        ui.label("Du är statistikläsare för:")
        with ui.element("ul").classes("list-disc pl-6").mark("statistics-units"):
            for unit_id in mine:
                with ui.element("li"):
                    ui.label(names.get(unit_id, "Okänd enhet"))
        ui.label("Som statistikläsare ser du sammanställda siffror för dina enheter, aldrig enskilda patienter: "
                 "inga namn eller personnummer, och tal under 5 visas inte.")
    with ui.element("section").props('aria-labelledby="sp-stat-now"').classes("w-full"):
        heading("Vad som finns nu", 2, "mt-4").props('id="sp-stat-now"')
        ui.label("Statistiken är inte färdig än: här finns ännu inga siffror att visa. Det är inget fel på din "
                 "behörighet.").mark("statistics-now")
    with ui.element("section").props('aria-labelledby="sp-stat-coming"').classes("w-full"):
        heading("Vad som kommer", 2, "mt-4").props('id="sp-stat-coming"')
        ui.label("Sidorna får samma urval av period och enhet, jämförelse med föregående period och med länet, och "
                 "varje siffra kan laddas ned som CSV:")
        with ui.element("ul").classes("list-disc pl-6").mark("statistics-coming"):
            for title, what in COMING:
                with ui.element("li"):
                    ui.html(f"<strong>{title}</strong>: {what}.", sanitize=False)


async def statistics_page() -> None:
    async with frame("/statistik", "Statistik") as shell:
        heading("Statistik", 1)
        statistics_landing(shell)
