"""A real SMTP server for tests (aiosmtpd, in the test's event loop, on a free port), and dispatchers on it."""

from __future__ import annotations

import asyncio
import email
import email.policy
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from server.mail_dispatcher import MailDispatcher
from server.runtime import Runtime
from server.services.escalation import EscalationScan


@dataclass(frozen=True)
class Received:
    at: datetime
    to: list[str]
    message: EmailMessage

    @property
    def text(self) -> str:
        body = self.message.get_body(("plain",))
        assert body is not None
        return f"{self.message['Subject']}\n{body.get_content()}"


class Inbox:
    """The aiosmtpd handler: keeps every accepted message; refuses recipients whose address starts with "bounce"."""

    def __init__(self, delay: float = 0.0) -> None:
        self.messages: list[Received] = []
        self.delay = delay  # seconds before accepting each message (a slow server)
        self._changed = asyncio.Condition()

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        if address.startswith("bounce"):
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        raw = envelope.original_content or b""
        parsed: Any = email.message_from_bytes(raw, policy=email.policy.default)
        async with self._changed:
            self.messages.append(Received(datetime.now(UTC), list(envelope.rcpt_tos), parsed))
            self._changed.notify_all()
        return "250 Message accepted for delivery"

    async def wait_for(self, count: int, within: float = 10.0) -> list[Received]:
        """Until `count` messages have arrived in all (a condition with a timeout, no sleeps)."""
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: len(self.messages) >= count), within)
        return list(self.messages)

    def to(self, address: str) -> list[Received]:
        return [m for m in self.messages if address in m.to]


@dataclass
class SmtpServer:
    inbox: Inbox
    port: int

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"


async def smtp_server(inbox: Inbox) -> AsyncIterator[SmtpServer]:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(inbox, hostname="mail.samplan.test"), "127.0.0.1", 0)
    try:
        yield SmtpServer(inbox, server.sockets[0].getsockname()[1])
    finally:
        server.close()
        await server.wait_closed()


def dispatcher(runtime: Runtime, smtp: SmtpServer, *, escalation: EscalationScan | None = None,
               clock: Callable[[], datetime] = lambda: datetime.now(UTC), **settings: Any) -> MailDispatcher:
    chosen = {"smtp_url": smtp.url, "mail_poll_seconds": 0.05, "mail_lease_seconds": 2,
              "ui_base_url": "https://samplan.region.test", "mail_from": "Samplan <noreply@samplan.test>", **settings}
    configured = replace(runtime.settings, **chosen)
    return MailDispatcher(runtime.sessions, configured, clock, escalation)
