"""Care types: the distinction the payment rules and statistics make between wards."""

from __future__ import annotations

from enum import StrEnum


class CareType(StrEnum):
    """Somatic or psychiatric inpatient care (different free days, separate statistics)."""

    SOMATIC = "somatic"
    PSYCHIATRIC = "psychiatric"
