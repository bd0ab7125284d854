"""Policies of administration and of the access log (pure; the API matrix test covers their enforcement)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.administration import (
    MIN_LOG_RETENTION_DAYS,
    Grant,
    Grants,
    assignment_refusal,
    check_connection,
    check_parent,
    check_unit,
    deactivation_refusal,
    draw_sample,
    log_reader_organisations,
    may_manage_units,
    may_manage_users,
    may_verify_log,
    purge_cutoff,
    summarise,
    user_admin_organisations,
)
from domain.errors import InvalidValue
from domain.organisation import Role, UnitKind

OWN, OTHER = "org-own", "org-other"


def grants(*roles: Role, org: str = OWN) -> Grants:
    return Grants(tuple(Grant(role, f"unit-{i}", org) for i, role in enumerate(roles)))


@pytest.mark.parametrize(("role", "users_own", "users_other", "units_own", "units_other"), [
    (Role.USER, False, False, False, False),
    (Role.SUPER_USER, False, False, False, False),
    (Role.LOCAL_ACCESS_ADMINISTRATOR, True, False, False, False),
    (Role.LOCAL_OBJECT_SPECIALIST, False, False, True, False),
    (Role.CENTRAL_ADMINISTRATOR, True, True, True, True),
    (Role.AUDITOR, False, False, False, False),
    (Role.STATISTICS_READER, False, False, False, False),
])
def test_who_administers_what(role: Role, users_own: bool, users_other: bool, units_own: bool,
                              units_other: bool) -> None:
    g = grants(role)
    assert (may_manage_users(g, OWN), may_manage_users(g, OTHER)) == (users_own, users_other)
    assert (may_manage_units(g, OWN), may_manage_units(g, OTHER)) == (units_own, units_other)


def test_scopes() -> None:
    assert user_admin_organisations(grants(Role.CENTRAL_ADMINISTRATOR)) is None  # everywhere
    assert user_admin_organisations(grants(Role.LOCAL_ACCESS_ADMINISTRATOR)) == {OWN}
    assert log_reader_organisations(grants(Role.AUDITOR)) == {OWN}
    assert log_reader_organisations(grants(Role.CENTRAL_ADMINISTRATOR)) == set()
    assert may_verify_log(grants(Role.AUDITOR))
    assert not may_verify_log(grants(Role.LOCAL_ACCESS_ADMINISTRATOR))


def test_assignment_rules() -> None:
    local = grants(Role.LOCAL_ACCESS_ADMINISTRATOR)
    assert assignment_refusal(local, user_organisation_id=OWN, unit_organisation_id=OWN, role=Role.USER) is None
    assert assignment_refusal(local, user_organisation_id=OTHER, unit_organisation_id=OTHER, role=Role.USER)
    assert assignment_refusal(local, user_organisation_id=OWN, unit_organisation_id=OTHER, role=Role.USER)
    assert assignment_refusal(local, user_organisation_id=OWN, unit_organisation_id=OWN,
                              role=Role.CENTRAL_ADMINISTRATOR)
    central = grants(Role.CENTRAL_ADMINISTRATOR)
    assert assignment_refusal(central, user_organisation_id=OTHER, unit_organisation_id=OTHER,
                              role=Role.CENTRAL_ADMINISTRATOR) is None


def test_connection_needs_a_care_agreement() -> None:
    check_connection(care_agreement=True)
    with pytest.raises(InvalidValue) as refused:
        check_connection(care_agreement=False)
    assert refused.value.field == "care_agreement"


@pytest.mark.parametrize(("kind", "routing_role", "district", "municipality", "field"), [
    (UnitKind.MUNICIPAL, "intake", "Norr", "0180", None),
    (UnitKind.MUNICIPAL, None, None, "0180", None),
    (UnitKind.SOMATIC_WARD, None, None, None, None),
    (UnitKind.SOMATIC_WARD, "intake", None, "0180", "routing_role"),
    (UnitKind.MUNICIPAL, "intake", None, None, "municipality_code"),
    (UnitKind.MUNICIPAL, None, "Norr", "0180", "district"),
    (UnitKind.MUNICIPAL, None, None, None, "municipality_code"),
    (UnitKind.MUNICIPAL, "router", None, "0180", "routing_role"),
])
def test_unit_routing_rules(kind: UnitKind, routing_role: str | None, district: str | None,
                            municipality: str | None, field: str | None) -> None:
    if field is None:
        check_unit(kind=kind, routing_role=routing_role, district=district, municipality_code=municipality)
        return
    with pytest.raises(InvalidValue) as refused:
        check_unit(kind=kind, routing_role=routing_role, district=district, municipality_code=municipality)
    assert refused.value.field == field


def test_the_tree_stays_a_tree() -> None:
    parents: dict[str, str | None] = {"a": None, "b": "a", "c": "b"}
    check_parent("c", "a", parents)
    with pytest.raises(InvalidValue):
        check_parent("a", "c", parents)
    with pytest.raises(InvalidValue):
        check_parent("a", "a", parents)


def test_deactivation_waits_for_open_cases() -> None:
    assert deactivation_refusal(0) is None
    assert deactivation_refusal(2)


def test_retention_is_at_least_five_years() -> None:
    now = datetime(2026, 11, 26, tzinfo=UTC)
    assert purge_cutoff(now, MIN_LOG_RETENTION_DAYS) <= now.replace(year=2021)
    assert purge_cutoff(now, 3650) == now - timedelta(days=3650)
    with pytest.raises(InvalidValue):
        purge_cutoff(now, MIN_LOG_RETENTION_DAYS - 1)


def test_samples_are_reproducible_and_ordered() -> None:
    population = list(range(100, 200))
    first = draw_sample(population, 10, seed=7)
    assert first == draw_sample(population, 10, seed=7)
    assert first != draw_sample(population, 10, seed=8)
    assert first == sorted(first)
    assert len(set(first)) == 10
    assert draw_sample([1, 2], 10, seed=1) == [1, 2]
    with pytest.raises(InvalidValue):
        draw_sample(population, 0, seed=1)


def test_summary_counts_findings() -> None:
    assert summarise(["justified", None, "justified"]) == {"no_remark": 0, "justified": 2, "unjustified": 0,
                                                          "needs_follow_up": 0, "unreviewed": 1}
