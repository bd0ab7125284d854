"""The API process's infrastructure (engine, token verifier, live pipeline, sealer), built once; the use cases
and queries on it are composed by `server/composition.py`, called from `build_runtime`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from domain.payment import PRESETS, PaymentPolicy
from server.access_log_keys import keyring
from server.access_log_sealer import Sealer
from server.auth.revocation import RevocationList, revocations
from server.auth.tokens import DevSigningKey, TokenVerifier
from server.composition import Queries, Services, build_queries, build_services
from server.live import LivePipeline
from server.mail_dispatcher import MailDispatcher
from server.persistence.database import create_engine, session_factory
from server.persistence.event_log import StoredEvent
from server.persistence.unit_of_work import UnitOfWork
from server.services.escalation import EscalationRules, EscalationScan
from server.settings import Settings


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    verifier: TokenVerifier
    policy: PaymentPolicy
    services: Services
    queries: Queries
    live: LivePipeline
    sealer: Sealer
    revocations: RevocationList  # access tokens revoked at sign-out (server/auth/revocation.py)
    mail: MailDispatcher  # e-mail notices and deadline escalation (server/mail_dispatcher.py)

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.sessions, self.publish, self.policy)

    async def publish(self, stored: Sequence[StoredEvent]) -> None:
        """After a commit: the events to the broker, and the mail dispatcher looks at once (mail they queued)."""
        await self.live.publish(stored)
        self.mail.wake()

    async def start(self) -> None:
        await self.live.start()
        self.sealer.start()
        if self.settings.mail_dispatcher:
            self.mail.start()

    async def close(self) -> None:
        await self.mail.stop()
        await self.sealer.stop()
        await self.live.stop()
        await self.revocations.close()
        await self.engine.dispose()


def payment_policy(name: str) -> PaymentPolicy:
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown SAMPLAN_PAYMENT_POLICY {name!r}; known: {', '.join(sorted(PRESETS))}") from None


def token_verifier(settings: Settings) -> TokenVerifier:
    if settings.oidc_jwks_url:
        return TokenVerifier(issuer=settings.oidc_issuer, audience=settings.oidc_audience,
                             algorithms=settings.oidc_algorithms, jwks_url=settings.oidc_jwks_url)
    if problem := settings.identity_provider_problem():
        raise ValueError(problem)
    key = DevSigningKey.load_or_create(settings.dev_key_path)
    return TokenVerifier(issuer=settings.oidc_issuer, audience=settings.oidc_audience,
                         algorithms=settings.oidc_algorithms, jwks=key.jwks())


def mail_dispatcher(settings: Settings, sessions: async_sessionmaker[AsyncSession],
                    uow: Callable[[], UnitOfWork], policy: PaymentPolicy) -> MailDispatcher:
    """The e-mail dispatcher with the escalation scan (started by `Runtime.start` unless SAMPLAN_MAIL_DISPATCHER=0;
    `samplan mail-dispatcher` runs one on its own)."""
    rules = EscalationRules(escalate_after=timedelta(hours=settings.escalation_after_hours),
                            lookback=timedelta(days=settings.escalation_lookback_days))
    return MailDispatcher(sessions, settings, utc_now, EscalationScan(uow, policy, utc_now, rules))


def build_runtime(settings: Settings) -> Runtime:
    """Everything of one API process; `start()` connects the live pipeline (broker, relay) and starts the
    access-log sealer. Outside development mode it needs OIDC_JWKS_URL and SAMPLAN_ACCESS_LOG_KEY (ValueError)."""
    engine = create_engine(settings.database_url)
    sessions = session_factory(engine)
    policy = payment_policy(settings.payment_policy)
    live = LivePipeline(settings, sessions)
    sealer = Sealer(sessions, keyring(settings), interval=settings.access_log_seal_interval_seconds)

    def uow() -> UnitOfWork:
        return UnitOfWork(sessions, publish, policy)

    async def publish(stored: Sequence[StoredEvent]) -> None:
        await live.publish(stored)
        mail.wake()  # the commit may have queued mail: no need to wait for the next poll

    mail = mail_dispatcher(settings, sessions, uow, policy)

    return Runtime(settings=settings, engine=engine, sessions=sessions, verifier=token_verifier(settings),
                   policy=policy, live=live, sealer=sealer, revocations=revocations(settings.redis_url),
                   mail=mail,
                   services=build_services(uow, settings, policy, utc_now, seal=sealer.run_once,
                                           keyring=sealer.keyring),
                   queries=build_queries(uow, policy, utc_now))
