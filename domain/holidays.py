"""Swedish public holidays and working days (stdlib only).

Public holidays (*allmänna helgdagar*) follow lag (1989:253) om allmänna helgdagar. Sundays are holidays
in that law too; they are covered by the weekday test in :func:`is_working_day`. Midsummer Eve, Christmas
Eve and New Year's Eve are not holidays in law but are non-working days in practice (see
:data:`DE_FACTO_HOLIDAYS`), so :func:`is_working_day` treats them as such.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache
from typing import Final

from domain.errors import OutOfRange

DE_FACTO_HOLIDAYS: Final[tuple[str, ...]] = ("midsummer_eve", "christmas_eve", "new_years_eve")
"""Eves that are not public holidays but are non-working in practice; dates: :func:`de_facto_holidays`."""

_SATURDAY: Final = 5


def easter_sunday(year: int) -> date:
    """Easter Sunday by the anonymous Gregorian algorithm (Meeus/Jones/Butcher)."""
    a = year % 19
    century, year_of_century = divmod(year, 100)
    leap_centuries, century_rest = divmod(century, 4)
    f = (century + 8) // 25
    g = (century - f + 1) // 3
    h = (19 * a + century - leap_centuries - g + 15) % 30
    i, k = divmod(year_of_century, 4)
    weekday_shift = (32 + 2 * century_rest + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * weekday_shift) // 451
    month, day = divmod(h + weekday_shift - 7 * m + 114, 31)
    return date(year, month, day + 1)


def _saturday_on_or_after(d: date) -> date:
    return d + timedelta(days=(_SATURDAY - d.weekday()) % 7)


def midsummer_day(year: int) -> date:
    """Midsummer Day (*midsommardagen*): the Saturday between 20 and 26 June."""
    return _saturday_on_or_after(date(year, 6, 20))


def all_saints_day(year: int) -> date:
    """All Saints' Day (*alla helgons dag*): the Saturday between 31 October and 6 November."""
    return _saturday_on_or_after(date(year, 10, 31))


@lru_cache(maxsize=64)  # one frozenset per year; bounded, whatever years stored data names
def swedish_public_holidays(year: int) -> frozenset[date]:
    """The thirteen dated public holidays of ``year`` (Sundays in general are not listed)."""
    easter = easter_sunday(year)
    return frozenset(
        {
            date(year, 1, 1),  # New Year's Day
            date(year, 1, 6),  # Epiphany
            easter - timedelta(days=2),  # Good Friday
            easter,  # Easter Sunday
            easter + timedelta(days=1),  # Easter Monday
            date(year, 5, 1),  # May Day
            easter + timedelta(days=39),  # Ascension Day
            easter + timedelta(days=49),  # Whit Sunday (pingstdagen)
            date(year, 6, 6),  # National Day
            midsummer_day(year),
            all_saints_day(year),
            date(year, 12, 25),  # Christmas Day
            date(year, 12, 26),  # Boxing Day
        }
    )


@lru_cache(maxsize=64)
def de_facto_holidays(year: int) -> frozenset[date]:
    """Midsummer Eve, Christmas Eve and New Year's Eve of ``year``."""
    return frozenset({midsummer_day(year) - timedelta(days=1), date(year, 12, 24), date(year, 12, 31)})


def is_working_day(d: date) -> bool:
    """Monday to Friday, not a public holiday and not one of the de facto holiday eves."""
    if d.weekday() >= _SATURDAY:
        return False
    return d not in swedish_public_holidays(d.year) and d not in de_facto_holidays(d.year)


def next_working_day(d: date) -> date:
    """The first working day strictly after ``d`` (a few days on at most); OutOfRange past the calendar's end."""
    try:
        d += timedelta(days=1)
        while not is_working_day(d):
            d += timedelta(days=1)
    except OverflowError:
        raise OutOfRange("there is no working day after this date in the calendar") from None
    return d


def add_working_days(d: date, n: int) -> date:
    """The date ``n`` working days after ``d``; ``d`` itself for ``n == 0``."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    for _ in range(n):
        d = next_working_day(d)
    return d
