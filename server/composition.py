"""Where the use cases and the queries are built: once per API process, from the runtime's infrastructure.

`server/runtime.py` builds the infrastructure (engine, live pipeline, sealer, verifier) and calls `build_services`
and `build_queries` here; routes receive what they need through the Litestar dependencies of
`server/api/dependencies.py` (`cases`, `sip`, `admin`, `audit`, `payment`, `queries`), never by building a
service themselves. Every service and query is stateless between calls, so one instance serves every request.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from domain.payment import PaymentPolicy
from server.access_log import Keyring
from server.persistence.unit_of_work import UnitOfWork
from server.queries.cases import CaseListQuery
from server.queries.directory import DirectoryQuery
from server.queries.feeds import FeedQuery
from server.queries.inbox import InboxQuery
from server.queries.payment import PaymentQuery
from server.queries.reserve import ReserveQuery
from server.queries.search import PatientSearchQuery
from server.queries.staff import StaffQuery
from server.services.admin import AdminService
from server.services.audit import AuditService
from server.services.cases import CaseService
from server.services.notifications import NotificationService
from server.services.payment import PaymentService
from server.services.sip import SipService
from server.settings import Settings


@dataclass(frozen=True)
class Services:
    """The use cases (write side; the audit service also searches the access log, which logs the search)."""

    cases: CaseService
    sip: SipService
    admin: AdminService
    audit: AuditService
    payment: PaymentService
    notifications: NotificationService  # e-mail notice settings and health


@dataclass(frozen=True)
class Queries:
    """The reads that are not a use case's answer (`server/queries/`)."""

    cases: CaseListQuery
    inbox: InboxQuery
    staff: StaffQuery
    directory: DirectoryQuery
    feeds: FeedQuery
    payment: PaymentQuery
    reserve: ReserveQuery
    search: PatientSearchQuery


def build_services(uow: Callable[[], UnitOfWork], settings: Settings, policy: PaymentPolicy,
                   clock: Callable[[], datetime], *, seal: Callable[[], Awaitable[int]],
                   keyring: Keyring) -> Services:
    return Services(
        cases=CaseService(uow, policy, clock, settings.time_limits),
        sip=SipService(uow, clock, settings.time_limits),
        admin=AdminService(uow, clock),
        audit=AuditService(uow, clock, seal=seal, keyring=keyring,
                           checkpoint_file=settings.access_log_checkpoint_file,
                           warn_without_checkpoint_file=not settings.dev_mode,
                           unsealed_grace=timedelta(seconds=settings.access_log_unsealed_warning_seconds),
                           limits=settings.time_limits),
        payment=PaymentService(uow, clock),
        notifications=NotificationService(uow, clock, smtp_configured=bool(settings.smtp_url)),
    )


def build_queries(uow: Callable[[], UnitOfWork], policy: PaymentPolicy, clock: Callable[[], datetime]) -> Queries:
    return Queries(cases=CaseListQuery(uow, policy, clock), inbox=InboxQuery(uow, policy, clock),
                   staff=StaffQuery(uow), directory=DirectoryQuery(uow),
                   feeds=FeedQuery(uow), payment=PaymentQuery(uow, policy),
                   reserve=ReserveQuery(uow, policy, clock), search=PatientSearchQuery(uow, clock))
