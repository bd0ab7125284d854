"""The demo organisation tree: principals, organisations and units of Stockholm county.

Pure data (stdlib only). The tree follows the real structure described in
``shared/domain/process.md`` section 2 and the list of organisations with local administration in
the Lifecare SP description: Region Stockholm and the 26 municipalities of Stockholm county as
principals, the real hospitals, care providers and federations as organisations. Every **unit** name
and every HSA-id is invented: the HSA-ids use the real format (``SE`` + ten digits + ``-`` + suffix)
with a suffix starting with ``DEMO`` so that they can never be mistaken for a real catalogue entry.

The seeding code consumes ``PRINCIPALS``, ``ORGANISATIONS`` and ``MUNICIPALITIES``; the helpers at the
bottom give flat access and the routing rule "the patient's municipality (and district) decides the
receiving intake unit".
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

__all__ = [
    "MUNICIPALITIES",
    "ORGANISATIONS",
    "PRINCIPALS",
    "PRINCIPAL_KINDS",
    "REGION_KEY",
    "UNIT_KINDS",
    "DemoOrganisation",
    "DemoPrincipal",
    "DemoUnit",
    "all_units",
    "municipal_intake_unit",
    "municipality_organisation",
    "unit_by_key",
    "validate",
]

UNIT_KINDS: tuple[str, ...] = (
    "somatic_ward",
    "psychiatric_ward",
    "primary_care",
    "psychiatric_outpatient",
    "municipal",
)
ORGANISATION_KINDS: tuple[str, ...] = ("hospital", "care_provider", "municipality", "federation")
PRINCIPAL_KINDS: tuple[str, ...] = ("region", "municipality")

REGION_KEY = "region-stockholm"


@dataclass(frozen=True)
class DemoUnit:
    key: str  # stable slug, e.g. "ks-solna-ward-geriatrik-1"
    name: str  # invented Swedish unit name
    kind: str  # one of UNIT_KINDS
    hsa_id: str  # invented HSA-id in the real format, unique
    municipality_code: str | None = None  # municipal units and primary care: the kommunkod served / sat in
    district: str | None = None  # routing district for municipal intake units (Stockholms stad)
    phone: str | None = None  # wards: the number receivers call (invented: PTS's range reserved for fiction)


@dataclass(frozen=True)
class DemoOrganisation:
    key: str
    name: str
    principal_key: str
    kind: str  # one of ORGANISATION_KINDS
    has_local_administration: bool
    units: tuple[DemoUnit, ...]


@dataclass(frozen=True)
class DemoPrincipal:
    key: str
    name: str
    kind: str  # "region" | "municipality"
    municipality_code: str | None


# --------------------------------------------------------------------------------------------------
# Municipalities of Stockholm county: (kommunkod, name, official name, larger municipality?)
# --------------------------------------------------------------------------------------------------

_MUNICIPALITY_TABLE: tuple[tuple[str, str, str, bool], ...] = (
    ("0114", "Upplands Väsby", "Upplands Väsby kommun", False),
    ("0115", "Vallentuna", "Vallentuna kommun", False),
    ("0117", "Österåker", "Österåkers kommun", False),
    ("0120", "Värmdö", "Värmdö kommun", False),
    ("0123", "Järfälla", "Järfälla kommun", False),
    ("0125", "Ekerö", "Ekerö kommun", False),
    ("0126", "Huddinge", "Huddinge kommun", True),
    ("0127", "Botkyrka", "Botkyrka kommun", False),
    ("0128", "Salem", "Salems kommun", False),
    ("0136", "Haninge", "Haninge kommun", False),
    ("0138", "Tyresö", "Tyresö kommun", False),
    ("0139", "Upplands-Bro", "Upplands-Bro kommun", False),
    ("0140", "Nykvarn", "Nykvarns kommun", False),
    ("0160", "Täby", "Täby kommun", False),
    ("0162", "Danderyd", "Danderyds kommun", False),
    ("0163", "Sollentuna", "Sollentuna kommun", False),
    ("0180", "Stockholm", "Stockholms stad", True),
    ("0181", "Södertälje", "Södertälje kommun", True),
    ("0182", "Nacka", "Nacka kommun", True),
    ("0183", "Sundbyberg", "Sundbybergs stad", False),
    ("0184", "Solna", "Solna stad", True),
    ("0186", "Lidingö", "Lidingö stad", False),
    ("0187", "Vaxholm", "Vaxholms stad", False),
    ("0188", "Norrtälje", "Norrtälje kommun", False),
    ("0191", "Sigtuna", "Sigtuna kommun", False),
    ("0192", "Nynäshamn", "Nynäshamns kommun", False),
)

MUNICIPALITIES: tuple[tuple[str, str], ...] = tuple((code, name) for code, name, _, _ in _MUNICIPALITY_TABLE)

# Stockholms stad routes intake by district (stadsdelsförvaltning): (district, genitive form, HSA suffix).
_STOCKHOLM_DISTRICTS: tuple[tuple[str, str, str], ...] = (
    ("Södermalm", "Södermalms", "DEMOD01"),
    ("Kungsholmen", "Kungsholmens", "DEMOD02"),
    ("Skärholmen", "Skärholmens", "DEMOD03"),
    ("Norrmalm", "Norrmalms", "DEMOD04"),
    ("Farsta", "Farsta", "DEMOD05"),
    ("Hässelby-Vällingby", "Hässelby-Vällingby", "DEMOD06"),
)

# Region Stockholm's organisation number; region-side units share it as HSA-id prefix (as in the real
# Stockholm HSA catalogue). Municipal units use an invented organisation number "212000" + kommunkod.
_REGION_ORG_NUMBER = "2321000016"

_TRANSLITERATION = str.maketrans({"å": "a", "ä": "a", "ö": "o", "é": "e", "ü": "u"})


def _slug(text: str) -> str:
    """ASCII slug: lower case, Swedish letters transliterated, other characters become single dashes."""
    lowered = text.lower().translate(_TRANSLITERATION)
    parts: list[str] = []
    current: list[str] = []
    for char in lowered:
        if char.isascii() and char.isalnum():
            current.append(char)
        elif current:
            parts.append("".join(current))
            current = []
    if current:
        parts.append("".join(current))
    return "-".join(parts)


def _region_hsa(suffix: str) -> str:
    return f"SE{_REGION_ORG_NUMBER}-{suffix}"


def _municipal_hsa(municipality_code: str, suffix: str) -> str:
    return f"SE212000{municipality_code}-{suffix}"


def _municipal_principal_key(municipality_code: str) -> str:
    return f"kommun-{municipality_code}"


def _intake_unit_key(organisation_key: str, district: str | None = None) -> str:
    base = f"{organisation_key}-intake"
    return base if district is None else f"{base}-{_slug(district)}"


# --------------------------------------------------------------------------------------------------
# Principals
# --------------------------------------------------------------------------------------------------

PRINCIPALS: tuple[DemoPrincipal, ...] = (
    DemoPrincipal(key=REGION_KEY, name="Region Stockholm", kind="region", municipality_code=None),
    *(
        DemoPrincipal(
            key=_municipal_principal_key(code),
            name=official,
            kind="municipality",
            municipality_code=code,
        )
        for code, _, official, _ in _MUNICIPALITY_TABLE
    ),
)


# --------------------------------------------------------------------------------------------------
# Region-side organisations (hospitals, care providers, federations)
# --------------------------------------------------------------------------------------------------


def fiction_phone(key: str) -> str:
    """An invented phone number in the range PTS reserves for fiction (070-174 06 05 – 070-174 06 99)."""
    return f"070-174 06 {5 + zlib.crc32(key.encode()) % 95:02d}"


def _ward(key: str, name: str, suffix: str, *, psychiatric: bool = False) -> DemoUnit:
    return DemoUnit(
        key=key,
        name=name,
        kind="psychiatric_ward" if psychiatric else "somatic_ward",
        hsa_id=_region_hsa(suffix),
        phone=fiction_phone(key),
    )


def _primary_care(key: str, name: str, suffix: str, municipality_code: str) -> DemoUnit:
    return DemoUnit(
        key=key,
        name=name,
        kind="primary_care",
        hsa_id=_region_hsa(suffix),
        municipality_code=municipality_code,
    )


def _psychiatric_outpatient(key: str, name: str, suffix: str, municipality_code: str) -> DemoUnit:
    return DemoUnit(
        key=key,
        name=name,
        kind="psychiatric_outpatient",
        hsa_id=_region_hsa(suffix),
        municipality_code=municipality_code,
    )


_HOSPITALS: tuple[DemoOrganisation, ...] = (
    DemoOrganisation(
        key="danderyds-sjukhus",
        name="Danderyds sjukhus",
        principal_key=REGION_KEY,
        kind="hospital",
        has_local_administration=True,
        units=(
            _ward("ds-ward-internmedicin-31", "Avd 31 Internmedicin", "DEMODS01"),
            _ward("ds-ward-ortoped-4", "Ortopedavdelning 4", "DEMODS02"),
            _ward("ds-ward-stroke-22", "Avd 22 Strokeenhet", "DEMODS03"),
        ),
    ),
    DemoOrganisation(
        key="karolinska",
        name="Karolinska Universitetssjukhuset",
        principal_key=REGION_KEY,
        kind="hospital",
        has_local_administration=True,
        units=(
            _ward("ks-solna-ward-geriatrik-1", "Avd 12 Geriatrik", "DEMOKS01"),
            _ward("ks-huddinge-ward-internmedicin-45", "Avd 45 Internmedicin", "DEMOKS02"),
            _ward("ks-solna-ward-ortoped-3", "Ortopedavdelning 3", "DEMOKS03"),
            _ward(
                "ks-huddinge-ward-psykiatri-2", "Psykiatrisk heldygnsvård avd 2", "DEMOKS04", psychiatric=True
            ),
        ),
    ),
    DemoOrganisation(
        key="sodersjukhuset",
        name="Södersjukhuset",
        principal_key=REGION_KEY,
        kind="hospital",
        has_local_administration=True,
        units=(
            _ward("sos-ward-akutgeriatrik-54", "Avd 54 Akutgeriatrik", "DEMOSO01"),
            _ward("sos-ward-kardiologi-27", "Avd 27 Kardiologi", "DEMOSO02"),
            _ward("sos-ward-psykiatri-5", "Psykiatrisk heldygnsvård avd 5", "DEMOSO03", psychiatric=True),
        ),
    ),
    DemoOrganisation(
        key="sodertalje-sjukhus",
        name="Södertälje sjukhus",
        principal_key=REGION_KEY,
        kind="hospital",
        has_local_administration=True,
        units=(
            _ward("sts-ward-medicin-8", "Avd 8 Medicin", "DEMOST01"),
            _ward("sts-ward-kirurgi-14", "Avd 14 Kirurgi", "DEMOST02"),
        ),
    ),
    DemoOrganisation(
        key="st-gorans-sjukhus",
        name="S:t Görans sjukhus",
        principal_key=REGION_KEY,
        kind="hospital",
        has_local_administration=True,
        units=(
            _ward("stg-ward-geriatrik-61", "Avd 61 Geriatrik", "DEMOSG01"),
            _ward("stg-ward-ortoped-2", "Ortopedavdelning 2", "DEMOSG02"),
            _ward("stg-ward-psykiatri-11", "Psykiatrisk heldygnsvård avd 11", "DEMOSG03", psychiatric=True),
        ),
    ),
)

_CARE_PROVIDERS: tuple[DemoOrganisation, ...] = (
    DemoOrganisation(
        key="praktikertjanst",
        name="Praktikertjänst",
        principal_key=REGION_KEY,
        kind="care_provider",
        has_local_administration=True,
        units=(
            _primary_care("ptj-vc-granhojden", "Vårdcentral Granhöjden", "DEMOPT01", "0180"),
            _primary_care("ptj-hlm-sjobrisen", "Husläkarmottagningen Sjöbrisen", "DEMOPT02", "0182"),
            _primary_care("ptj-vc-tallglantan", "Vårdcentral Tallgläntan", "DEMOPT03", "0160"),
        ),
    ),
    DemoOrganisation(
        key="aleris",
        name="Aleris",
        principal_key=REGION_KEY,
        kind="care_provider",
        has_local_administration=True,
        units=(
            _primary_care("aleris-vc-ronnviken", "Vårdcentral Rönnviken", "DEMOAL01", "0184"),
            _primary_care("aleris-hlm-larkstigen", "Husläkarmottagningen Lärkstigen", "DEMOAL02", "0163"),
        ),
    ),
    DemoOrganisation(
        key="capio",
        name="Capio",
        principal_key=REGION_KEY,
        kind="care_provider",
        has_local_administration=True,
        units=(
            _primary_care("capio-vc-hagtornet", "Vårdcentral Hagtornet", "DEMOCA01", "0126"),
            _primary_care("capio-vc-klovervallen", "Vårdcentral Klövervallen", "DEMOCA02", "0181"),
            _primary_care("capio-vc-ekbergsgarden", "Vårdcentral Ekbergsgården", "DEMOCA03", "0136"),
        ),
    ),
    DemoOrganisation(
        key="slso",
        name="SLSO (Stockholms läns sjukvårdsområde)",
        principal_key=REGION_KEY,
        kind="care_provider",
        has_local_administration=True,
        units=(
            _primary_care("slso-vc-vitsippsdalen", "Vårdcentral Vitsippsdalen", "DEMOSL01", "0184"),
            _primary_care("slso-vc-bjornbarsbacken", "Vårdcentral Björnbärsbacken", "DEMOSL02", "0126"),
            _primary_care("slso-vc-sjostjarnan", "Vårdcentral Sjöstjärnan", "DEMOSL03", "0181"),
            _psychiatric_outpatient(
                "slso-pom-stjarnbacken", "Psykiatrisk öppenvårdsmottagning Stjärnbacken", "DEMOSL04", "0180"
            ),
            _psychiatric_outpatient(
                "slso-pom-havsornen", "Psykiatrisk öppenvårdsmottagning Havsörnen", "DEMOSL05", "0182"
            ),
            _ward("slso-ward-psykiatri-7", "Psykiatrisk heldygnsvård avd 7", "DEMOSL06", psychiatric=True),
        ),
    ),
    DemoOrganisation(
        key="stockholms-sjukhem",
        name="Stockholms sjukhem",
        principal_key=REGION_KEY,
        kind="care_provider",
        has_local_administration=True,
        units=(
            _ward("ssh-ward-geriatrisk-rehab-2", "Avd 2 Geriatrisk rehabilitering", "DEMOSS01"),
            _ward("ssh-ward-palliativ-1", "Avd 1 Palliativ slutenvård", "DEMOSS02"),
        ),
    ),
    DemoOrganisation(
        key="ersta-diakoni",
        name="Ersta Diakoni",
        principal_key=REGION_KEY,
        kind="care_provider",
        has_local_administration=True,
        units=(
            _ward("ersta-ward-internmedicin-3", "Avd 3 Internmedicin", "DEMOER01"),
            _ward("ersta-ward-palliativ-5", "Avd 5 Palliativ vård", "DEMOER02"),
        ),
    ),
    DemoOrganisation(
        key="forenade-care",
        name="Förenade Care",
        principal_key=REGION_KEY,
        kind="care_provider",
        has_local_administration=True,
        units=(
            _primary_care("fc-vc-solrosen", "Vårdcentral Solrosen", "DEMOFC01", "0160"),
            _primary_care("fc-hlm-kastanjen", "Husläkarmottagningen Kastanjen", "DEMOFC02", "0180"),
            _primary_care("fc-vc-blaklinten", "Vårdcentral Blåklinten", "DEMOFC03", "0123"),
        ),
    ),
)

_FEDERATIONS: tuple[DemoOrganisation, ...] = (
    DemoOrganisation(
        key="koson",
        name="KOSON (Kommunalförbundet Sjukvård och omsorg i Norrtälje)",
        principal_key=REGION_KEY,
        kind="federation",
        has_local_administration=True,
        units=(
            DemoUnit(
                key="koson-bestallarenheten",
                name="Beställarenheten vård och omsorg",
                kind="municipal",
                hsa_id=_region_hsa("DEMOKO01"),
                municipality_code="0188",
            ),
        ),
    ),
    DemoOrganisation(
        key="tiohundra",
        name="TioHundra",
        principal_key=REGION_KEY,
        kind="federation",
        has_local_administration=True,
        units=(
            _ward("th-ward-medicin-7", "Avd 7 Medicin", "DEMOTH01"),
            _primary_care("th-vc-roslagsbrisen", "Vårdcentral Roslagsbrisen", "DEMOTH02", "0188"),
            DemoUnit(
                key="th-hemsjukvard",
                name="Hemsjukvården TioHundra",
                kind="municipal",
                hsa_id=_region_hsa("DEMOTH03"),
                municipality_code="0188",
            ),
        ),
    ),
)

# Organisations without local administration: central administration handles access and support.
_CENTRALLY_ADMINISTERED: tuple[DemoOrganisation, ...] = (
    DemoOrganisation(
        key="vc-exempelgatan-ab",
        name="Vårdcentralen Exempelgatan AB",
        principal_key=REGION_KEY,
        kind="care_provider",
        has_local_administration=False,
        units=(_primary_care("exg-vc-exempelgatan", "Vårdcentralen Exempelgatan", "DEMOEX01", "0183"),),
    ),
    DemoOrganisation(
        key="rehabkliniken-exempelvik-ab",
        name="Rehabkliniken Exempelvik AB",
        principal_key=REGION_KEY,
        kind="care_provider",
        has_local_administration=False,
        units=(_ward("exv-ward-rehab-1", "Rehabavdelning 1 Exempelvik", "DEMOEX02"),),
    ),
)


# --------------------------------------------------------------------------------------------------
# Municipal organisations
# --------------------------------------------------------------------------------------------------


def _municipal_organisation(
    index: int, code: str, name: str, official: str, larger: bool
) -> DemoOrganisation:
    key = _slug(official)
    intake_name = f"Biståndsenheten {name}" if index % 2 == 0 else f"Mottagningsenheten äldreomsorg {name}"
    if code == "0180":
        intake_name = "Mottagningsenheten äldreomsorg, Stockholms stad (central)"
    units: list[DemoUnit] = [
        DemoUnit(
            key=_intake_unit_key(key),
            name=intake_name,
            kind="municipal",
            hsa_id=_municipal_hsa(code, "DEMOB01"),
            municipality_code=code,
        )
    ]
    if code == "0180":
        units.extend(
            DemoUnit(
                key=_intake_unit_key(key, district),
                name=f"{genitive} stadsdelsförvaltning, biståndsenheten äldre",
                kind="municipal",
                hsa_id=_municipal_hsa(code, suffix),
                municipality_code=code,
                district=district,
            )
            for district, genitive, suffix in _STOCKHOLM_DISTRICTS
        )
    if larger:
        units.append(
            DemoUnit(
                key=f"{key}-hemsjukvard",
                name=f"Hemsjukvården {name}",
                kind="municipal",
                hsa_id=_municipal_hsa(code, "DEMOH01"),
                municipality_code=code,
            )
        )
    return DemoOrganisation(
        key=key,
        name=official,
        principal_key=_municipal_principal_key(code),
        kind="municipality",
        has_local_administration=True,
        units=tuple(units),
    )


_MUNICIPAL_ORGANISATIONS: tuple[DemoOrganisation, ...] = tuple(
    _municipal_organisation(index, code, name, official, larger)
    for index, (code, name, official, larger) in enumerate(_MUNICIPALITY_TABLE)
)

ORGANISATIONS: tuple[DemoOrganisation, ...] = (
    *_HOSPITALS,
    *_CARE_PROVIDERS,
    *_FEDERATIONS,
    *_CENTRALLY_ADMINISTERED,
    *_MUNICIPAL_ORGANISATIONS,
)


# --------------------------------------------------------------------------------------------------
# Access helpers
# --------------------------------------------------------------------------------------------------


def all_units() -> tuple[tuple[DemoOrganisation, DemoUnit], ...]:
    """Every unit with its organisation, in declaration order."""
    return tuple((organisation, unit) for organisation in ORGANISATIONS for unit in organisation.units)


def unit_by_key(key: str) -> DemoUnit:
    """The unit with this key; KeyError if there is none."""
    for _, unit in all_units():
        if unit.key == key:
            return unit
    raise KeyError(key)


def municipality_organisation(municipality_code: str) -> DemoOrganisation:
    """The municipality's own organisation (kind "municipality"); KeyError for an unknown kommunkod."""
    principal_key = _municipal_principal_key(municipality_code)
    for organisation in ORGANISATIONS:
        if organisation.kind == "municipality" and organisation.principal_key == principal_key:
            return organisation
    raise KeyError(municipality_code)


def municipal_intake_unit(municipality_code: str, district: str | None = None) -> DemoUnit:
    """Routing: the intake unit receiving notices for a patient registered in this municipality.

    With a district that the municipality routes by (Stockholms stad's stadsdelsförvaltningar), the
    district's intake unit; an unknown or absent district falls back to the municipality's central
    intake unit. District names match case-insensitively. KeyError for an unknown kommunkod.
    """
    organisation = municipality_organisation(municipality_code)
    if district is not None:
        wanted = district.strip().casefold()
        for unit in organisation.units:
            if unit.kind == "municipal" and unit.district is not None and unit.district.casefold() == wanted:
                return unit
    return unit_by_key(_intake_unit_key(organisation.key))


# --------------------------------------------------------------------------------------------------
# Self-check
# --------------------------------------------------------------------------------------------------


def _check(condition: bool, message: str) -> None:
    # Explicit raise rather than `assert`, so the check also runs under `python -O`.
    if not condition:
        raise AssertionError(message)


def _duplicates(values: list[str]) -> list[str]:
    seen: set[str] = set()
    duplicates: list[str] = []
    for value in values:
        if value in seen:
            duplicates.append(value)
        seen.add(value)
    return duplicates


def _valid_hsa_id(hsa_id: str) -> bool:
    prefix, dash, suffix = hsa_id.partition("-")
    return (
        dash == "-"
        and len(prefix) == 12
        and prefix.startswith("SE")
        and prefix[2:].isdigit()
        and suffix.startswith("DEMO")
        and suffix.isascii()
        and suffix.isalnum()
        and suffix.isupper()
    )


def validate() -> None:
    """Assert the tree's invariants; raises AssertionError naming the first violation."""
    principal_keys = [principal.key for principal in PRINCIPALS]
    organisation_keys = [organisation.key for organisation in ORGANISATIONS]
    units = all_units()
    unit_keys = [unit.key for _, unit in units]
    all_keys = principal_keys + organisation_keys + unit_keys
    _check(not _duplicates(all_keys), f"duplicate keys: {_duplicates(all_keys)}")
    _check(all(key == _slug(key) for key in all_keys), "keys must be ASCII slugs")

    hsa_ids = [unit.hsa_id for _, unit in units]
    _check(not _duplicates(hsa_ids), f"duplicate HSA-ids: {_duplicates(hsa_ids)}")
    bad_hsa = [hsa_id for hsa_id in hsa_ids if not _valid_hsa_id(hsa_id)]
    _check(not bad_hsa, f"malformed HSA-ids: {bad_hsa}")

    codes = [code for code, _ in MUNICIPALITIES]
    _check(len(codes) == 26 and not _duplicates(codes), "expected 26 distinct municipalities")
    _check(all(len(code) == 4 and code.isdigit() for code in codes), "kommunkod must be four digits")

    _check(all(principal.kind in PRINCIPAL_KINDS for principal in PRINCIPALS), "unknown principal kind")
    regions = [principal for principal in PRINCIPALS if principal.kind == "region"]
    _check(
        [principal.key for principal in regions] == [REGION_KEY] and regions[0].municipality_code is None,
        "exactly one region principal, without kommunkod",
    )
    municipal_principal_codes = sorted(
        principal.municipality_code or "" for principal in PRINCIPALS if principal.kind == "municipality"
    )
    _check(municipal_principal_codes == sorted(codes), "every municipality must be a principal")

    known_principals = set(principal_keys)
    for organisation in ORGANISATIONS:
        _check(organisation.kind in ORGANISATION_KINDS, f"{organisation.key}: unknown kind")
        _check(organisation.principal_key in known_principals, f"{organisation.key}: unknown principal")
        _check(bool(organisation.units), f"{organisation.key}: has no units")

    for organisation, unit in units:
        _check(unit.kind in UNIT_KINDS, f"{unit.key}: unknown unit kind {unit.kind!r}")
        if unit.kind in ("municipal", "primary_care"):
            _check(unit.municipality_code in codes, f"{unit.key}: needs a kommunkod from MUNICIPALITIES")
        elif unit.municipality_code is not None:
            _check(unit.municipality_code in codes, f"{unit.key}: unknown kommunkod")
        if unit.district is not None:
            _check(
                unit.kind == "municipal" and organisation.kind == "municipality",
                f"{unit.key}: only municipal intake units have a district",
            )

    for code in codes:
        organisation = municipality_organisation(code)
        intake = municipal_intake_unit(code)
        _check(
            intake.kind == "municipal" and intake.municipality_code == code and intake.district is None,
            f"{code}: the intake unit must be a municipal unit of that municipality without district",
        )
        _check(intake in organisation.units, f"{code}: intake unit outside the municipality's organisation")
