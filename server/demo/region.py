"""The region a volume data set runs in: Stockholm county's 26 municipalities, their population, the demo tree's
hospitals and wards (`server/demo/world.py`), enough primary care units for every municipality, and staff users.

Pure data (stdlib and `server.demo.world` only), importable in the generator's worker processes. Population
figures: SCB, folkmängd 31 December 2017 (`data/stockholm_county_population.csv`, see docs/demo-data.md).
Every unit added here and every user is invented (HSA-ids with a `DEMO` suffix, names from common names).
"""

from __future__ import annotations

import csv
import uuid
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path

from server.demo import world

NAMESPACE = uuid.UUID("7f1d7c52-9a53-4c0e-9f39-5a4c1f0b6d21")  # the same as server.demo.seed's stable ids
POPULATION_FILE = Path(__file__).with_name("data") / "stockholm_county_population.csv"
POPULATION_SOURCE = "SCB, Folkmängd i riket, län och kommuner 31 december 2017"
PEOPLE_PER_PRIMARY_CARE_UNIT = 40_000  # about one vårdcentral per this many inhabitants in the data set
VOLUME_ORGANISATION = "slso"  # the added vårdcentraler belong to SLSO (the region's own provider)

# The hospitals a municipality's patients are mostly admitted to (organisation keys of `world`); every ward of
# the county takes some of every municipality's patients too.
LOCAL_HOSPITALS: dict[str, tuple[str, ...]] = {
    "north": ("danderyds-sjukhus", "karolinska", "tiohundra"),
    "central": ("karolinska", "st-gorans-sjukhus", "sodersjukhuset", "ersta-diakoni", "stockholms-sjukhem"),
    "south": ("sodersjukhuset", "karolinska", "sodertalje-sjukhus"),
}
AREA_OF: dict[str, str] = {
    **dict.fromkeys(("0114", "0115", "0117", "0139", "0160", "0162", "0163", "0187", "0188", "0191"), "north"),
    **dict.fromkeys(("0180", "0183", "0184", "0186", "0125", "0182", "0120"), "central"),
    **dict.fromkeys(("0126", "0127", "0128", "0136", "0138", "0140", "0181", "0192", "0123"), "south"),
}
SUFFIXES = ("Centrum", "Norra", "Södra", "Östra", "Västra", "Torget", "Parken", "Backen", "Hamnen", "Ängen",
            "Dalen", "Skogen", "Gläntan", "Stranden", "Höjden", "Viken", "Udden", "Lunden", "Kullen", "Ängsbacken",
            "Sjöviken", "Tallbacken", "Björkdalen", "Ekhagen", "Lindgården")
FIRST_NAMES = ("Anna", "Eva", "Maria", "Karin", "Sara", "Lena", "Emma", "Johanna", "Sofia", "Linnea", "Elin",
               "Lars", "Karl", "Erik", "Anders", "Johan", "Per", "Mikael", "Ali", "Fredrik", "Mohammed", "Daniel")
LAST_NAMES = ("Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson", "Persson",
              "Svensson", "Gustafsson", "Pettersson", "Jonsson", "Jansson", "Hansson", "Bengtsson", "Lindberg")


def stable_id(kind: str, key: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"{kind}:{key}"))


@dataclass(frozen=True)
class Municipality:
    code: str
    name: str
    population: int


@dataclass(frozen=True)
class RegionUnit:
    key: str
    name: str
    kind: str  # world.UNIT_KINDS
    hsa_id: str
    organisation_key: str
    municipality_code: str | None
    added: bool  # not in the demo tree: the volume seed inserts it

    @cached_property
    def id(self) -> str:
        return stable_id("unit", self.key)


@dataclass(frozen=True)
class StaffUser:
    username: str
    display_name: str
    title: str
    organisation_key: str
    unit_key: str

    @cached_property
    def id(self) -> str:
        return stable_id("user", self.username)

    @cached_property
    def hsa_id(self) -> str:
        return f"SE2321000016-DEMOV{uuid.uuid5(NAMESPACE, self.username).hex[:10].upper()}"


@cache
def municipalities() -> tuple[Municipality, ...]:
    """The county's municipalities with their population (SCB), in kommunkod order."""
    with POPULATION_FILE.open(encoding="utf-8") as handle:
        rows = [Municipality(r["municipality_code"], r["municipality"], int(r["population"]))
                for r in csv.DictReader(handle)]
    known = {code for code, _ in world.MUNICIPALITIES}
    if {m.code for m in rows} != known or len(rows) != len(known):
        raise ValueError("the population file must list exactly the county's 26 municipalities")
    return tuple(sorted(rows, key=lambda m: m.code))


@cache
def units() -> tuple[RegionUnit, ...]:
    """Every unit of the data set: the demo tree's, and the vårdcentraler added so that each municipality has
    about one per PEOPLE_PER_PRIMARY_CARE_UNIT inhabitants."""
    tree = [RegionUnit(u.key, u.name, u.kind, u.hsa_id, o.key, u.municipality_code, False)
            for o, u in world.all_units()]
    added: list[RegionUnit] = []
    for m in municipalities():
        have = sum(1 for u in tree if u.kind == "primary_care" and u.municipality_code == m.code)
        wanted = max(1, round(m.population / PEOPLE_PER_PRIMARY_CARE_UNIT))
        for i in range(have, wanted):
            suffix = SUFFIXES[i % len(SUFFIXES)] + ("" if i < len(SUFFIXES) else f" {i // len(SUFFIXES) + 1}")
            added.append(RegionUnit(f"volume-vc-{m.code}-{i}", f"Vårdcentral {m.name} {suffix}", "primary_care",
                                    f"SE2321000016-DEMOV{m.code}{i:03d}", VOLUME_ORGANISATION, m.code, True))
    return (*tree, *added)


@cache
def unit(key: str) -> RegionUnit:
    return next(u for u in units() if u.key == key)


@cache
def wards() -> tuple[RegionUnit, ...]:
    return tuple(u for u in units() if u.kind in ("somatic_ward", "psychiatric_ward"))


@cache
def primary_care_units(code: str) -> tuple[RegionUnit, ...]:
    return tuple(u for u in units() if u.kind == "primary_care" and u.municipality_code == code)


@cache
def psychiatric_outpatient_units(code: str) -> tuple[RegionUnit, ...]:
    return tuple(u for u in units() if u.kind == "psychiatric_outpatient" and u.municipality_code == code)


@cache
def intake_units(code: str) -> tuple[RegionUnit, ...]:
    """The municipality's intake units (Stockholms stad: the central one and one per district)."""
    organisation = world.municipality_organisation(code)
    keys = {u.key for u in organisation.units if "-intake" in u.key}
    return tuple(u for u in units() if u.key in keys)


@cache
def home_care_unit(code: str) -> RegionUnit | None:
    organisation = world.municipality_organisation(code)
    return next((u for u in units() if u.key == f"{organisation.key}-hemsjukvard"), None)


@cache
def local_hospitals(code: str) -> tuple[str, ...]:
    return LOCAL_HOSPITALS[AREA_OF[code]]


TITLES = {"somatic_ward": "Sjuksköterska", "psychiatric_ward": "Sjuksköterska psykiatri",
          "primary_care": "Distriktssköterska", "psychiatric_outpatient": "Sjuksköterska psykiatrisk öppenvård",
          "municipal": "Biståndshandläggare"}
STAFF_PER_UNIT = 3


@cache
def staff() -> tuple[StaffUser, ...]:
    """Staff users of the data set: STAFF_PER_UNIT per unit, each with a user assignment at it (invented names)."""
    users = []
    for n, unit in enumerate(units()):
        for i in range(STAFF_PER_UNIT):
            k = n * STAFF_PER_UNIT + i
            name = f"{FIRST_NAMES[k % len(FIRST_NAMES)]} {LAST_NAMES[(k // len(FIRST_NAMES)) % len(LAST_NAMES)]}"
            users.append(StaffUser(f"vol.{unit.key}.{i + 1}", name, TITLES[unit.kind], unit.organisation_key,
                                   unit.key))
    return tuple(users)


@cache
def staff_of(unit_key: str) -> tuple[StaffUser, ...]:
    return tuple(u for u in staff() if u.unit_key == unit_key)
