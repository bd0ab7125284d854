"""Tests for domain.identity (Swedish patient identities). All numbers here are invented."""

from __future__ import annotations

from datetime import date

import pytest

from domain.identity import (
    IdentityKind,
    InvalidIdentity,
    PatientIdentity,
    Personnummer,
    Reservnummer,
    Samordningsnummer,
    Sex,
    generate_test_personnummer,
    luhn_check_digit,
    parse_patient_identity,
)

TODAY = date(2024, 6, 15)


def _reference_luhn_valid(ten_digits: str) -> bool:
    """Independent textbook Luhn: double every second digit from the right."""
    total = 0
    for position, char in enumerate(reversed(ten_digits)):
        digit = int(char)
        if position % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


@pytest.mark.parametrize(
    "text",
    ["1212121212", "0001010008", "0002291235", "1212721235", "2406151239", "9912315554"],
)
def test_luhn_check_digit_matches_reference(text: str) -> None:
    assert _reference_luhn_valid(text)
    assert luhn_check_digit(text[:9]) == int(text[9])


@pytest.mark.parametrize("bad", ["", "12345678", "1234567890", "12345678a", "١٢٣٤٥٦٧٨٩"])
def test_luhn_check_digit_rejects_bad_input(bad: str) -> None:
    with pytest.raises(ValueError, match="nine ASCII digits"):
        luhn_check_digit(bad)


@pytest.mark.parametrize(
    ("text", "value", "birth"),
    [
        ("19121212-1212", "191212121212", date(1912, 12, 12)),
        ("191212121212", "191212121212", date(1912, 12, 12)),
        ("121212-1212", "201212121212", date(2012, 12, 12)),
        ("1212121212", "201212121212", date(2012, 12, 12)),
        ("121212+1212", "191212121212", date(1912, 12, 12)),
        ("20000101-0008", "200001010008", date(2000, 1, 1)),
        ("000101-0008", "200001010008", date(2000, 1, 1)),
        ("000101+0008", "190001010008", date(1900, 1, 1)),
        ("20000229-1235", "200002291235", date(2000, 2, 29)),
        ("18991231-5554", "189912315554", date(1899, 12, 31)),
        ("991231+5554", "189912315554", date(1899, 12, 31)),
        ("991231-5554", "199912315554", date(1999, 12, 31)),
    ],
)
def test_valid_personnummer_formats(text: str, value: str, birth: date) -> None:
    pnr = Personnummer(text, today=TODAY)
    assert pnr.value == value
    assert pnr.birth_date == birth
    assert pnr.formatted == f"{value[:8]}-{value[8:]}"
    assert pnr.kind is IdentityKind.PERSONNUMMER


@pytest.mark.parametrize(
    ("text", "birth"),
    [
        ("240615-1239", date(2024, 6, 15)),  # birthday today: still this century
        ("240616-1238", date(1924, 6, 16)),  # birthday later this year: previous century
        ("000229-1235", date(2000, 2, 29)),
    ],
)
def test_century_rule_for_dash(text: str, birth: date) -> None:
    assert Personnummer(text, today=TODAY).birth_date == birth


def test_plus_on_leap_day_moves_to_non_leap_1900() -> None:
    with pytest.raises(InvalidIdentity, match=r"not a valid date: 1900-02-29"):
        Personnummer("000229+1235", today=TODAY)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("19121212-1213", "check digit does not match"),
        ("20230230-1235", "not a valid date: 2023-02-30"),
        ("20231301-1237", "not a valid date: 2023-13-01"),
        ("20230229-1238", "not a valid date: 2023-02-29"),
        ("20230100-1232", "not a valid date: 2023-01-00"),
        ("20990101-1230", "birth date is in the future"),
        ("1912121212121", "wrong length"),
        ("191212-121", "wrong length"),
        ("", "empty"),
        ("   ", "empty"),
        ("19121212-12A2", "invalid characters"),
        ("19121212 1212", "invalid characters"),
        ("19121212+1212", "only used with 10-digit"),
        ("1912-12121212", "separator must come right before the last four digits"),
        ("121212--1212", "more than one separator"),
        ("19121272-1235", "marks a samordningsnummer"),
    ],
)
def test_invalid_personnummer(text: str, reason: str) -> None:
    with pytest.raises(InvalidIdentity, match=reason):
        Personnummer(text, today=TODAY)


def test_invalid_identity_is_value_error_and_hides_number() -> None:
    with pytest.raises(ValueError, match="check digit") as excinfo:
        parse_patient_identity("19121212-1213", today=TODAY)
    assert isinstance(excinfo.value, InvalidIdentity)
    assert "1213" not in str(excinfo.value)


@pytest.mark.parametrize(
    ("text", "value", "birth"),
    [
        ("19121272-1235", "191212721235", date(1912, 12, 12)),
        ("121272-1235", "201212721235", date(2012, 12, 12)),
        ("121272+1235", "191212721235", date(1912, 12, 12)),
    ],
)
def test_samordningsnummer_birth_date_strips_sixty(text: str, value: str, birth: date) -> None:
    number = Samordningsnummer(text, today=TODAY)
    assert number.value == value
    assert number.birth_date == birth
    assert number.kind is IdentityKind.SAMORDNINGSNUMMER


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("19121212-1212", "not a coordination day"),
        ("20230290-1232", r"not a valid date: 2023-02-30 \(coordination day 90\)"),
    ],
)
def test_invalid_samordningsnummer(text: str, reason: str) -> None:
    with pytest.raises(InvalidIdentity, match=reason):
        Samordningsnummer(text, today=TODAY)


@pytest.mark.parametrize(
    ("text", "value"), [("991234567890", "991234567890"), (" 990000000001\n", "990000000001")]
)
def test_valid_reservnummer(text: str, value: str) -> None:
    number = Reservnummer(text)
    assert number.value == value
    assert number.formatted == value
    assert number.birth_date is None
    assert number.kind is IdentityKind.RESERVNUMMER


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("981234567890", "must start with '99'"),
        ("99123456789", "wrong length"),
        ("9912345678901", "wrong length"),
        ("99123456789A", "invalid characters"),
        ("9912-3456789", "invalid characters"),
    ],
)
def test_invalid_reservnummer(text: str, reason: str) -> None:
    with pytest.raises(InvalidIdentity, match=reason):
        Reservnummer(text)


@pytest.mark.parametrize(
    ("text", "kind", "cls"),
    [
        ("19121212-1212", IdentityKind.PERSONNUMMER, Personnummer),
        ("121212+1212", IdentityKind.PERSONNUMMER, Personnummer),
        ("19121272-1235", IdentityKind.SAMORDNINGSNUMMER, Samordningsnummer),
        ("121272-1235", IdentityKind.SAMORDNINGSNUMMER, Samordningsnummer),
        ("991234567890", IdentityKind.RESERVNUMMER, Reservnummer),
        ("\t 19121212-1212 \n", IdentityKind.PERSONNUMMER, Personnummer),
    ],
)
def test_parse_detects_kind(text: str, kind: IdentityKind, cls: type[PatientIdentity]) -> None:
    identity = parse_patient_identity(text, today=TODAY)
    assert identity.kind is kind
    assert type(identity) is cls


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("19121212-1213", "check digit does not match"),
        ("20230230-1235", "not a valid date: 2023-02-30"),
        ("12345", "wrong length"),
        ("99123456789A", "invalid characters"),
        ("abc", "invalid characters"),
    ],
)
def test_parse_rejects_invalid(text: str, reason: str) -> None:
    with pytest.raises(InvalidIdentity, match=reason):
        parse_patient_identity(text, today=TODAY)


def test_parse_defaults_today() -> None:
    assert parse_patient_identity("121212-1212").birth_date == date(2012, 12, 12)


@pytest.mark.parametrize(
    ("identity", "masked"),
    [
        (Personnummer("19121212-1212", today=TODAY), "19121212-****"),
        (Samordningsnummer("19121272-1235", today=TODAY), "19121272-****"),
        (Reservnummer("991234567890"), "9912********"),
    ],
)
def test_masking_and_no_leak_in_str_or_repr(identity: PatientIdentity, masked: str) -> None:
    assert identity.masked == masked
    assert str(identity) == masked
    assert f"{identity}" == masked
    for rendered in (str(identity), repr(identity), f"{identity!r}", str([identity])):
        assert identity.value not in rendered
        assert identity.formatted not in rendered
        assert "-" + identity.value[8:] not in rendered


@pytest.mark.parametrize(("text", "sex"), [("19121212-1212", Sex.MALE), ("20000101-0008", Sex.FEMALE)])
def test_sex(text: str, sex: Sex) -> None:
    assert Personnummer(text, today=TODAY).sex == sex


def test_equal_across_input_formats_and_hashable() -> None:
    a = Personnummer("19121212-1212", today=TODAY)
    b = parse_patient_identity("121212+1212", today=TODAY)
    assert a == b
    assert len({a, b}) == 1
    with pytest.raises(AttributeError):
        a.value = "191212121212"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("birth", "serial"),
    [(date(1912, 12, 12), 121), (date(2000, 2, 29), 0), (date(1985, 7, 31), 999), (date(2024, 6, 1), 42)],
)
def test_generate_test_personnummer_round_trips(birth: date, serial: int) -> None:
    pnr = generate_test_personnummer(birth, serial)
    assert pnr.birth_date == birth
    assert pnr.value[8:11] == f"{serial:03d}"
    assert _reference_luhn_valid(pnr.value[2:])
    assert parse_patient_identity(pnr.formatted) == pnr


@pytest.mark.parametrize("serial", [-1, 1000])
def test_generate_test_personnummer_rejects_bad_serial(serial: int) -> None:
    with pytest.raises(ValueError, match="serial"):
        generate_test_personnummer(date(1990, 1, 1), serial)


@pytest.mark.parametrize(
    ("text", "today", "birth"),
    [
        ("350207+9902", date(2035, 2, 7), date(1935, 2, 7)),  # turned 100 today
        ("250301+4561", date(2026, 12, 7), date(1925, 3, 1)),
        ("991231+5554", date(2024, 6, 15), date(1899, 12, 31)),  # 124: still a living person's number
    ],
)
def test_plus_means_a_hundred_or_older_on_the_day(text: str, today: date, birth: date) -> None:
    assert Personnummer(text, today=today).birth_date == birth


@pytest.mark.parametrize(("text", "today"), [("350207+9902", date(2026, 12, 7)), ("350207+9902", date(2035, 2, 6))])
def test_plus_number_nobody_alive_holds_is_refused(text: str, today: date) -> None:
    """Born 1835 (the 1935 person is not 100 yet): refused, not read as a second person beside 19350207-9902."""
    with pytest.raises(InvalidIdentity, match="nobody alive") as excinfo:
        parse_patient_identity(text, today=today)
    assert "9902" not in str(excinfo.value)
