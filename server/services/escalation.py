"""Deadlines that nobody met: the periodic scan that notifies and escalates (run by `server/mail_dispatcher.py`).

Three levels per case and threshold (`case_participants.at_risk_from` / `overdue_from`, written with every save):

0. at risk: the responsible unit's users who chose deadline notices get "en tidsfrist går snart ut";
1. overdue (passed unmet): the same users get "en tidsfrist har passerats";
2. still unmet `escalate_after` later: the responsible unit's super users (samordnare) and local access
   administrators get "Eskalerad", and the board shows the case as escalated.

The responsible unit is the one whose part must act (`DeadlineKind.responsible_part`). A level is recorded once per
case and threshold (`deadline_escalations`, its key), in the same transaction as its mails, so two API instances
scanning at once notify once, and a met deadline (a new threshold) starts over. The scan reads only cases whose
threshold has passed and is not yet recorded (indexed on the thresholds), at most `batch` per round.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select

from domain.deadlines import DeadlineState, case_deadlines
from domain.mail_notices import Category
from domain.payment import PaymentPolicy
from realtime.envelope import AggregateType
from server.persistence import mail_outbox
from server.persistence.models import CaseParticipantRow
from server.persistence.unit_of_work import UnitOfWork

KINDS = {0: "deadline_at_risk", 1: "deadline_overdue", 2: "escalation"}


@dataclass(frozen=True)
class EscalationRules:
    escalate_after: timedelta = timedelta(hours=4)
    lookback: timedelta = timedelta(days=7)
    batch: int = 200


class EscalationScan:
    def __init__(self, uow: Callable[[], UnitOfWork], policy: PaymentPolicy, clock: Callable[[], datetime],
                 rules: EscalationRules = EscalationRules()) -> None:
        self._uow = uow
        self._policy = policy
        self._clock = clock
        self._rules = rules

    async def run_once(self) -> int:
        """One round; returns how many (case, level) were recorded."""
        now = self._clock()
        done = 0
        for level in (2, 1, 0):
            for case_id, threshold in await self._candidates(level, now):
                done += await self._escalate(case_id, level, threshold, now)
        return done

    async def _candidates(self, level: int, now: datetime) -> list[tuple[str, datetime]]:
        p = CaseParticipantRow
        column: Any = p.at_risk_from if level == 0 else p.overdue_from
        passed = now - (self._rules.escalate_after if level == 2 else timedelta(0))
        where = [column <= passed, column > passed - self._rules.lookback,
                 mail_outbox.not_escalated(p.case_id, level, column)]
        if level == 0:  # only while not yet overdue: then level 1 says more
            where.append(or_(p.overdue_from.is_(None), p.overdue_from > now))
        async with self._uow() as uow:
            rows = await uow.session.execute(select(p.case_id, column).where(*where).distinct()
                                             .order_by(p.case_id).limit(self._rules.batch))
            return [(case_id, threshold) for case_id, threshold in rows.tuples()]

    async def _escalate(self, case_id: str, level: int, threshold: datetime, now: datetime) -> int:
        async with self._uow() as uow:
            case = await uow.cases.get(case_id)
            if case is None:
                return 0
            wanted = DeadlineState.AT_RISK if level == 0 else DeadlineState.OVERDUE
            parts = {d.kind.responsible_part for d in case_deadlines(case, self._policy, now)
                     if d.open and d.state is wanted}
            units = sorted({p.unit_id for p in case.participants if p.active and p.part in parts})
            if not await mail_outbox.record_escalation(uow.session, case_id, level, threshold, units, now):
                await uow.commit()
                return 0
            found = (await mail_outbox.recipients(uow.session, units, None, mail_outbox.ESCALATION_ROLES) if level == 2
                     else await mail_outbox.recipients(uow.session, units, Category.DEADLINES))
            key = f"esc:{case_id}:{level}:{threshold.isoformat()}"
            await mail_outbox.enqueue(uow.session, [
                mail_outbox.Notice(f"{key}:{settings.user_id}", settings, unit_id, KINDS[level], None,
                                   str(AggregateType.DISCHARGE_CASE), case_id) for settings, unit_id in found], now)
            await uow.commit()
            return 1
