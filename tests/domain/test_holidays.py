from __future__ import annotations

from datetime import date

import pytest

from domain.holidays import (
    DE_FACTO_HOLIDAYS,
    add_working_days,
    all_saints_day,
    de_facto_holidays,
    easter_sunday,
    is_working_day,
    midsummer_day,
    next_working_day,
    swedish_public_holidays,
)


@pytest.mark.parametrize(
    ("year", "expected"),
    [
        (2000, date(2000, 4, 23)),
        (2019, date(2019, 4, 21)),
        (2022, date(2022, 4, 17)),
        (2024, date(2024, 3, 31)),
        (2025, date(2025, 4, 20)),
        (2026, date(2026, 4, 5)),
        (2038, date(2038, 4, 25)),  # latest possible
        (2285, date(2285, 3, 22)),  # earliest possible
    ],
)
def test_easter_sunday(year: int, expected: date) -> None:
    assert easter_sunday(year) == expected


@pytest.mark.parametrize(
    ("year", "midsummer", "all_saints"),
    [
        (2022, date(2022, 6, 25), date(2022, 11, 5)),
        (2024, date(2024, 6, 22), date(2024, 11, 2)),
        (2025, date(2025, 6, 21), date(2025, 11, 1)),
        (2026, date(2026, 6, 20), date(2026, 10, 31)),
    ],
)
def test_midsummer_and_all_saints(year: int, midsummer: date, all_saints: date) -> None:
    assert midsummer_day(year) == midsummer
    assert all_saints_day(year) == all_saints
    assert midsummer.weekday() == all_saints.weekday() == 5


def test_public_holidays_2025_complete_and_cached() -> None:
    expected = {
        date(2025, 1, 1),
        date(2025, 1, 6),
        date(2025, 4, 18),  # Good Friday
        date(2025, 4, 20),
        date(2025, 4, 21),
        date(2025, 5, 1),
        date(2025, 5, 29),  # Ascension Day
        date(2025, 6, 6),
        date(2025, 6, 8),  # Whit Sunday
        date(2025, 6, 21),
        date(2025, 11, 1),
        date(2025, 12, 25),
        date(2025, 12, 26),
    }
    assert swedish_public_holidays(2025) == expected
    assert swedish_public_holidays(2025) is swedish_public_holidays(2025)
    assert de_facto_holidays(2025) == {date(2025, 6, 20), date(2025, 12, 24), date(2025, 12, 31)}
    assert len(DE_FACTO_HOLIDAYS) == 3


@pytest.mark.parametrize(
    ("d", "working"),
    [
        (date(2025, 3, 4), True),  # ordinary Tuesday
        (date(2025, 3, 8), False),  # Saturday
        (date(2025, 3, 9), False),  # Sunday
        (date(2025, 4, 17), True),  # Maundy Thursday is a working day
        (date(2025, 4, 18), False),  # Good Friday
        (date(2025, 4, 21), False),  # Easter Monday
        (date(2025, 5, 29), False),  # Ascension Day (Thursday)
        (date(2025, 6, 6), False),  # National Day on a Friday
        (date(2025, 6, 20), False),  # Midsummer Eve (de facto)
        (date(2025, 12, 24), False),  # Christmas Eve (de facto)
        (date(2025, 12, 31), False),  # New Year's Eve (de facto)
        (date(2026, 1, 6), False),  # Epiphany
    ],
)
def test_is_working_day(d: date, working: bool) -> None:
    assert is_working_day(d) is working


@pytest.mark.parametrize(
    ("d", "expected"),
    [
        (date(2025, 3, 4), date(2025, 3, 5)),
        (date(2025, 3, 7), date(2025, 3, 10)),  # Friday -> Monday
        (date(2025, 4, 17), date(2025, 4, 22)),  # over Easter
        (date(2025, 12, 23), date(2025, 12, 29)),  # over Christmas
        (date(2025, 12, 30), date(2026, 1, 2)),  # over New Year
    ],
)
def test_next_working_day_is_strictly_after(d: date, expected: date) -> None:
    assert next_working_day(d) == expected


def test_add_working_days() -> None:
    assert add_working_days(date(2025, 3, 8), 0) == date(2025, 3, 8)
    assert add_working_days(date(2025, 4, 16), 3) == date(2025, 4, 23)
    with pytest.raises(ValueError, match="n must be >= 0"):
        add_working_days(date(2025, 3, 4), -1)
