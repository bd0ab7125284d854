"""Bodies of the e-mail notice routes: a user's own notification settings, and the health of notices per unit."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

Clock = Annotated[str, Meta(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$", description="Local time, HH:MM (24 h).")]
Email = Annotated[str, Meta(max_length=254, pattern=r"^[^@\s<>,;]{1,64}@[^@\s<>,;]+\.[^@\s<>,;]+$",
                            description="An e-mail address (the user's own work address).")]


class NotificationSettings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """What reaches the user by e-mail. Every field has a default: a PUT replaces the whole choice."""

    email: Email | None = None
    email_enabled: bool = False  # true needs `email`
    notices: bool = True  # new notices to the user's units (admission, ready for discharge, discharge...)
    deadlines: bool = True  # deadlines at risk or overdue at the user's units
    sip_meetings: bool = True  # SIP meetings called or moved
    delivery: Literal["immediate", "digest"] = "immediate"
    digest_at: Clock = "07:00"  # when the daily digest goes (delivery "digest")
    quiet_from: Clock | None = None  # no mail from...
    quiet_to: Clock | None = None  # ...to (both or neither; may pass midnight)


class NotificationSettingsOut(NotificationSettings, kw_only=True):
    address_failed_at: datetime | None = None  # the mail server refused the address (fix it, then save)
    address_failure: str | None = None


class UnitMailHealth(msgspec.Struct, kw_only=True):
    """Counts only: no addresses, no users, no cases."""

    unit_id: str
    unit_name: str
    queued: int
    sent: int
    failed: int
    oldest_queued_at: datetime | None


class MailHealth(msgspec.Struct, kw_only=True):
    smtp_configured: bool
    units: list[UnitMailHealth]
