"""The demo organisation tree: invariants, coverage of the seed's organisations, routing helper."""

from __future__ import annotations

from collections import Counter

import pytest

from server.demo import world
from server.demo.world import (
    MUNICIPALITIES,
    ORGANISATIONS,
    PRINCIPALS,
    all_units,
    municipal_intake_unit,
    unit_by_key,
    validate,
)

# The organisations with local administration listed in the Lifecare SP description (besides the
# municipalities), by the key each has in the demo tree.
SEED_ORGANISATION_KEYS = (
    "koson",
    "danderyds-sjukhus",
    "karolinska",
    "sodersjukhuset",
    "sodertalje-sjukhus",
    "st-gorans-sjukhus",
    "praktikertjanst",
    "aleris",
    "capio",
    "slso",
    "tiohundra",
    "stockholms-sjukhem",
    "ersta-diakoni",
    "forenade-care",
)


def _organisation(key: str) -> world.DemoOrganisation:
    return next(organisation for organisation in ORGANISATIONS if organisation.key == key)


def test_validate_passes() -> None:
    validate()


def test_26_municipalities_with_real_codes() -> None:
    assert len(MUNICIPALITIES) == 26
    codes = dict(MUNICIPALITIES)
    assert codes["0180"] == "Stockholm"
    assert codes["0184"] == "Solna"
    assert codes["0188"] == "Norrtälje"
    assert codes["0192"] == "Nynäshamn"
    municipal_principals = [principal for principal in PRINCIPALS if principal.kind == "municipality"]
    assert {principal.municipality_code for principal in municipal_principals} == set(codes)
    municipal_organisations = [
        organisation for organisation in ORGANISATIONS if organisation.kind == "municipality"
    ]
    assert len(municipal_organisations) == 26
    assert all(organisation.has_local_administration for organisation in municipal_organisations)
    assert {organisation.name for organisation in municipal_organisations} >= {
        "Stockholms stad",
        "Solna stad",
    }


def test_region_principal() -> None:
    region = next(principal for principal in PRINCIPALS if principal.key == "region-stockholm")
    assert region.kind == "region"
    assert region.municipality_code is None
    assert region.name == "Region Stockholm"


def test_seed_organisations_present_with_local_administration() -> None:
    for key in SEED_ORGANISATION_KEYS:
        organisation = _organisation(key)
        assert organisation.has_local_administration, key
        assert organisation.principal_key == "region-stockholm", key
    kinds = {key: _organisation(key).kind for key in SEED_ORGANISATION_KEYS}
    assert kinds["karolinska"] == "hospital"
    assert kinds["capio"] == "care_provider"
    assert kinds["koson"] == kinds["tiohundra"] == "federation"


def test_some_organisations_lack_local_administration() -> None:
    central = [organisation for organisation in ORGANISATIONS if not organisation.has_local_administration]
    assert central
    assert any(organisation.name == "Vårdcentralen Exempelgatan AB" for organisation in central)


def test_every_unit_kind_occurs() -> None:
    kinds = Counter(unit.kind for _, unit in all_units())
    assert set(kinds) == set(world.UNIT_KINDS)


def test_hospitals_have_wards_and_psychiatry_where_expected() -> None:
    for organisation in ORGANISATIONS:
        if organisation.kind == "hospital":
            assert 2 <= len(organisation.units) <= 4, organisation.key
    for key in ("karolinska", "sodersjukhuset", "st-gorans-sjukhus", "slso"):
        assert any(unit.kind == "psychiatric_ward" for unit in _organisation(key).units), key
    assert any(unit.kind == "psychiatric_outpatient" for unit in _organisation("slso").units)


def test_primary_care_spread_over_municipalities() -> None:
    codes = {unit.municipality_code for _, unit in all_units() if unit.kind == "primary_care"}
    assert codes >= {"0184", "0180", "0126", "0182", "0181", "0160"}


def test_larger_municipalities_have_home_health_care() -> None:
    for code in ("0180", "0184", "0126", "0182", "0181"):
        organisation = world.municipality_organisation(code)
        assert any(unit.name.startswith("Hemsjukvården") for unit in organisation.units), code


def test_unit_by_key() -> None:
    unit = unit_by_key("ks-solna-ward-geriatrik-1")
    assert unit.name == "Avd 12 Geriatrik"
    assert unit.kind == "somatic_ward"
    with pytest.raises(KeyError):
        unit_by_key("no-such-unit")


def test_hsa_ids_are_in_the_real_format_and_invented() -> None:
    for _, unit in all_units():
        prefix, _, suffix = unit.hsa_id.partition("-")
        assert prefix.startswith("SE"), unit.hsa_id
        assert len(prefix) == 12, unit.hsa_id
        assert prefix[2:].isdigit(), unit.hsa_id
        assert suffix.startswith("DEMO"), unit.hsa_id


def test_routing_municipality_without_districts() -> None:
    unit = municipal_intake_unit("0184")
    assert unit.kind == "municipal"
    assert unit.municipality_code == "0184"
    assert unit.district is None
    assert unit in world.municipality_organisation("0184").units
    # a district is ignored where the municipality has none
    assert municipal_intake_unit("0184", "Södermalm") == unit


def test_routing_stockholm_by_district() -> None:
    central = municipal_intake_unit("0180")
    assert central.district is None
    sodermalm = municipal_intake_unit("0180", "Södermalm")
    assert sodermalm.district == "Södermalm"
    assert sodermalm.municipality_code == "0180"
    assert sodermalm != central
    assert municipal_intake_unit("0180", "kungsholmen").district == "Kungsholmen"
    assert municipal_intake_unit("0180", "Skärholmen").district == "Skärholmen"
    # unknown district falls back to the central intake unit
    assert municipal_intake_unit("0180", "Atlantis") == central


def test_routing_every_municipality_and_unknown_code() -> None:
    for code, _ in MUNICIPALITIES:
        assert municipal_intake_unit(code).municipality_code == code
    with pytest.raises(KeyError):
        municipal_intake_unit("9999")


def test_validate_detects_duplicate_hsa_id(monkeypatch: pytest.MonkeyPatch) -> None:
    first = ORGANISATIONS[0]
    clash = world.DemoUnit(key="extra-unit", name="Extra", kind="somatic_ward", hsa_id=first.units[0].hsa_id)
    broken = world.DemoOrganisation(
        key=first.key,
        name=first.name,
        principal_key=first.principal_key,
        kind=first.kind,
        has_local_administration=first.has_local_administration,
        units=(*first.units, clash),
    )
    monkeypatch.setattr(world, "ORGANISATIONS", (broken, *ORGANISATIONS[1:]))
    with pytest.raises(AssertionError, match="duplicate HSA-ids"):
        validate()
