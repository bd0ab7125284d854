"""Swedish patient identities: personnummer, samordningsnummer and reserve numbers.

Privacy: ``str()`` and ``repr()`` of every identity give only the masked form, so an
identity passed to a log call or an f-string never shows the full number. Error messages
never contain the number either. Use ``.value`` (or ``.formatted``) only where the full
number is genuinely needed.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import InitVar, dataclass
from datetime import date
from enum import StrEnum
from typing import ClassVar, NamedTuple

__all__ = [
    "IdentityKind",
    "InvalidIdentity",
    "PatientIdentity",
    "Personnummer",
    "Reservnummer",
    "Samordningsnummer",
    "Sex",
    "generate_test_personnummer",
    "luhn_check_digit",
    "parse_patient_identity",
]

_COORDINATION_DAY_OFFSET = 60
_DIGITS = frozenset("0123456789")
_ALLOWED = _DIGITS | {"-", "+"}
_RESERVE_PREFIX = "99"
_RESERVE_LENGTH = 12
_RESERVE_KEEP = 4
# A '+' number belongs to someone 100 or older. If the latest such birth date lies further back than this, nobody
# alive holds the number (the oldest verified person reached 122): it is refused, never read as a second person.
MAX_PLUS_AGE = 125


class InvalidIdentity(ValueError):
    """Raised when a text is not a valid patient identity; the message says why."""


class IdentityKind(StrEnum):
    """Which kind of identity number a patient has."""

    PERSONNUMMER = "personnummer"
    SAMORDNINGSNUMMER = "samordningsnummer"
    RESERVNUMMER = "reservnummer"


class Sex(StrEnum):
    """Legal sex as encoded in the number's second-last digit (even: female)."""

    FEMALE = "female"
    MALE = "male"


def luhn_check_digit(nine_digits: str) -> int:
    """Return the Luhn check digit for YYMMDDNNN (weights 2,1,2,... from the left)."""
    if len(nine_digits) != 9 or not set(nine_digits) <= _DIGITS:
        raise ValueError("luhn_check_digit expects exactly nine ASCII digits")
    total = 0
    for index, char in enumerate(nine_digits):
        product = int(char) * (2 if index % 2 == 0 else 1)
        total += product // 10 + product % 10
    return (10 - total % 10) % 10


@dataclass(frozen=True, repr=False)
class PatientIdentity(ABC):
    """Common base: construct with any accepted text; ``value`` holds the normalised 12 characters.

    ``today`` (default ``date.today()``) resolves the century of 10-digit numbers and rejects
    birth dates in the future.
    """

    value: str
    today: InitVar[date | None] = None

    kind: ClassVar[IdentityKind]

    def __post_init__(self, today: date | None) -> None:
        if not isinstance(self.value, str):
            raise TypeError(f"{type(self).__name__} expects a str, got {type(self.value).__name__}")
        normalised = self._normalise(self.value.strip(), today if today is not None else date.today())
        object.__setattr__(self, "value", normalised)

    @classmethod
    @abstractmethod
    def _normalise(cls, text: str, today: date) -> str:
        """Validate the stripped text and return the 12-character normalised form."""

    @property
    @abstractmethod
    def formatted(self) -> str:
        """Human-readable full form (contains the full number)."""

    @property
    @abstractmethod
    def birth_date(self) -> date | None:
        """Date of birth, or None when the number does not encode one."""

    @property
    @abstractmethod
    def masked(self) -> str:
        """Form safe for logs and UI, with the identifying part replaced by '*'."""

    def __str__(self) -> str:
        return self.masked

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.masked}>"


class _Parts(NamedTuple):
    year: int
    month: int
    day: int  # as written, i.e. including the +60 of a samordningsnummer
    serial: str
    check: int


def _split(text: str, today: date) -> _Parts:
    """Check the shape of a personnummer-like text and resolve the full year."""
    if not text:
        raise InvalidIdentity("empty identity number")
    if not set(text) <= _ALLOWED:
        raise InvalidIdentity("invalid characters: only digits and one '-' or '+' separator are allowed")
    separators = [char for char in text if char in "-+"]
    digits = "".join(char for char in text if char in _DIGITS)
    if len(digits) not in (10, 12):
        raise InvalidIdentity(f"wrong length: expected 10 or 12 digits, got {len(digits)}")
    separator = ""
    if separators:
        if len(separators) > 1:
            raise InvalidIdentity("more than one separator")
        separator = separators[0]
        if text[-5] != separator:
            raise InvalidIdentity("the separator must come right before the last four digits")
        if separator == "+" and len(digits) == 12:
            raise InvalidIdentity("the '+' separator is only used with 10-digit numbers")

    if len(digits) == 12:
        year = int(digits[:4])
        rest = digits[4:]
    else:
        year = _resolve_century(int(digits[:2]), int(digits[2:4]), int(digits[4:6]), today)
        if separator == "+":
            year -= 100
            if today.year - year > MAX_PLUS_AGE:
                raise InvalidIdentity(f"a '+' number means 100 years or older, which makes the birth year {year}: "
                                      "nobody alive; give the number with 12 digits")
        rest = digits[2:]
    return _Parts(year, int(rest[0:2]), int(rest[2:4]), rest[4:7], int(rest[7]))


def _resolve_century(yy: int, month: int, day: int, today: date) -> int:
    """Latest year ending in ``yy`` whose birthday is not after ``today`` (the '-' rule)."""
    year = today.year - (today.year - yy) % 100
    real_day = day - _COORDINATION_DAY_OFFSET if day > _COORDINATION_DAY_OFFSET else day
    if (month, real_day) > (today.month, today.day) and year == today.year:
        year -= 100
    return year


def _validate_dated(parts: _Parts, real_day: int, today: date) -> str:
    """Check the calendar date and the Luhn digit; return the normalised 12 digits."""
    try:
        birth = date(parts.year, parts.month, real_day)
    except ValueError:
        detail = f" (coordination day {parts.day})" if parts.day != real_day else ""
        raise InvalidIdentity(
            f"not a valid date: {parts.year:04d}-{parts.month:02d}-{real_day:02d}{detail}"
        ) from None
    if birth > today:
        raise InvalidIdentity(f"birth date is in the future: {birth.isoformat()}")
    short = f"{parts.year % 100:02d}{parts.month:02d}{parts.day:02d}{parts.serial}"
    if luhn_check_digit(short) != parts.check:
        raise InvalidIdentity("check digit does not match")
    return f"{parts.year:04d}{parts.month:02d}{parts.day:02d}{parts.serial}{parts.check}"


@dataclass(frozen=True, repr=False)
class _DatedIdentity(PatientIdentity):
    """Shared behaviour of personnummer and samordningsnummer (date + serial + Luhn digit)."""

    _day_offset: ClassVar[int] = 0

    @property
    def formatted(self) -> str:
        """``YYYYMMDD-NNNC``."""
        return f"{self.value[:8]}-{self.value[8:]}"

    @property
    def birth_date(self) -> date:
        """Date of birth (for a samordningsnummer the 60 is removed from the day)."""
        v = self.value
        return date(int(v[:4]), int(v[4:6]), int(v[6:8]) - self._day_offset)

    @property
    def sex(self) -> Sex:
        """Legal sex from the second-last digit; newer numbering rules may drop this meaning."""
        return Sex.FEMALE if int(self.value[10]) % 2 == 0 else Sex.MALE

    @property
    def masked(self) -> str:
        """``YYYYMMDD-****``."""
        return f"{self.value[:8]}-****"


@dataclass(frozen=True, repr=False)
class Personnummer(_DatedIdentity):
    """Swedish personal identity number.

    Accepts ``YYYYMMDD-NNNC``, ``YYYYMMDDNNNC``, ``YYMMDD-NNNC``, ``YYMMDDNNNC`` and
    ``YYMMDD+NNNC`` (``+``: the person is 100 or older).
    """

    kind: ClassVar[IdentityKind] = IdentityKind.PERSONNUMMER

    @classmethod
    def _normalise(cls, text: str, today: date) -> str:
        parts = _split(text, today)
        if parts.day > _COORDINATION_DAY_OFFSET:
            raise InvalidIdentity(f"day {parts.day} marks a samordningsnummer, not a personnummer")
        return _validate_dated(parts, parts.day, today)


@dataclass(frozen=True, repr=False)
class Samordningsnummer(_DatedIdentity):
    """Coordination number: like a personnummer, but the day of birth is written as day + 60 (61..91)."""

    kind: ClassVar[IdentityKind] = IdentityKind.SAMORDNINGSNUMMER
    _day_offset: ClassVar[int] = _COORDINATION_DAY_OFFSET

    @classmethod
    def _normalise(cls, text: str, today: date) -> str:
        parts = _split(text, today)
        if parts.day <= _COORDINATION_DAY_OFFSET:
            raise InvalidIdentity(f"day {parts.day} is not a coordination day (61-91)")
        return _validate_dated(parts, parts.day - _COORDINATION_DAY_OFFSET, today)


@dataclass(frozen=True, repr=False)
class Reservnummer(PatientIdentity):
    """Region Stockholm reserve number: 12 digits starting with "99", no check digit, no birth date.

    It is temporary, given when the real identity is unknown, and can later be merged
    into a personnummer or samordningsnummer once the patient is identified.
    """

    kind: ClassVar[IdentityKind] = IdentityKind.RESERVNUMMER

    @classmethod
    def _normalise(cls, text: str, today: date) -> str:
        if not set(text) <= _DIGITS:
            raise InvalidIdentity("invalid characters: a reserve number contains only digits")
        if len(text) != _RESERVE_LENGTH:
            raise InvalidIdentity(f"wrong length: a reserve number has 12 digits, got {len(text)}")
        if not text.startswith(_RESERVE_PREFIX):
            raise InvalidIdentity("a reserve number must start with '99'")
        return text

    @property
    def formatted(self) -> str:
        """The 12 digits as they are."""
        return self.value

    @property
    def birth_date(self) -> None:
        """Reserve numbers carry no birth date."""
        return None

    @property
    def masked(self) -> str:
        """First four digits kept, e.g. ``9912********``."""
        return self.value[:_RESERVE_KEEP] + "*" * (_RESERVE_LENGTH - _RESERVE_KEEP)


def parse_patient_identity(text: str, *, today: date | None = None) -> PatientIdentity:
    """Detect the kind of identity in ``text`` and return it, or raise ``InvalidIdentity``.

    Twelve characters starting with "99" and without a separator are a reserve number (a
    personnummer would need a birth year 99xx). Otherwise a day above 60 means samordningsnummer.
    """
    if not isinstance(text, str):
        raise TypeError(f"parse_patient_identity expects a str, got {type(text).__name__}")
    stripped = text.strip()
    if (
        len(stripped) == _RESERVE_LENGTH
        and stripped.startswith(_RESERVE_PREFIX)
        and not (set(stripped) & {"-", "+"})
    ):
        return Reservnummer(stripped)
    effective_today = today if today is not None else date.today()
    parts = _split(stripped, effective_today)
    if parts.day > _COORDINATION_DAY_OFFSET:
        return Samordningsnummer(stripped, today=effective_today)
    return Personnummer(stripped, today=effective_today)


def generate_test_personnummer(birth: date, serial: int) -> Personnummer:
    """Build a valid personnummer for demo/test data (serial 0..999 becomes NNN).

    Demo data must be invented: prefer Skatteverket's published test numbers
    (testpersonnummer) where possible, and never hard-code real people's numbers.
    """
    if not 0 <= serial <= 999:
        raise ValueError("serial must be between 0 and 999")
    nine = f"{birth.year % 100:02d}{birth.month:02d}{birth.day:02d}{serial:03d}"
    return Personnummer(f"{birth.year:04d}{nine[2:]}{luhn_check_digit(nine)}")
