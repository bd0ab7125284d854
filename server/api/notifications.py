"""Routes of e-mail notices: the signed-in user's own settings, and the health of notices for administrators."""

from __future__ import annotations

from litestar import get, put

from server.api.openapi import PROBLEMS
from server.principal import CurrentUser
from server.runtime import Runtime
from server.schemas.notifications import MailHealth, NotificationSettings, NotificationSettingsOut


@get("/me/notification-settings", operation_id="getMyNotificationSettings", summary="My e-mail notice settings",
     responses=PROBLEMS, tags=["notifications"],
     description="Which unit events reach the signed-in user by e-mail, how (immediately or as a daily digest) and "
                 "when not (quiet hours), and whether the mail server refused the address. Only one's own.")
async def get_settings(current_user: CurrentUser, runtime: Runtime) -> NotificationSettingsOut:
    return await runtime.services.notifications.settings(current_user)


@put("/me/notification-settings", operation_id="putMyNotificationSettings", summary="Change my e-mail notices",
     responses=PROBLEMS, tags=["notifications"],
     description="Replaces the whole choice. E-mails name the unit, the kind of event and a link, never a patient.")
async def put_settings(current_user: CurrentUser, runtime: Runtime,
                       data: NotificationSettings) -> NotificationSettingsOut:
    return await runtime.services.notifications.change_settings(current_user, data)


@get("/admin/mail-health", operation_id="adminMailHealth", summary="Health of e-mail notices per unit",
     responses=PROBLEMS, tags=["admin"],
     description="Queued, sent and failed e-mail notices per unit of the organisations the administrator sees; "
                 "counts only, no addresses, users or cases.")
async def mail_health(current_user: CurrentUser, runtime: Runtime) -> MailHealth:
    return await runtime.services.notifications.health(current_user)


NOTIFICATION_ROUTES = [get_settings, put_settings, mail_health]
