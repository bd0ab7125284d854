"""The payment-liability policy in force, with the amounts per day of care entered so far."""

from __future__ import annotations

from collections.abc import Callable

from domain.payment import PaymentPolicy
from server.persistence.unit_of_work import UnitOfWork
from server.schemas.cases import PaymentAmountOut, PaymentPolicyOut


class PaymentQuery:
    def __init__(self, uow: Callable[[], UnitOfWork], policy: PaymentPolicy) -> None:
        self._uow = uow
        self._policy = policy

    async def policy(self) -> PaymentPolicyOut:
        p = self._policy
        async with self._uow() as uow:
            amounts = await uow.directory.payment_amounts()
        return PaymentPolicyOut(
            name=p.name, model=str(p.model), first_liable_day_somatic=p.first_liable_day_somatic,
            first_liable_day_psychiatric=p.first_liable_day_psychiatric, day0_cutoff_hour=p.day0_cutoff_hour,
            day_counting=str(p.day_counting), discharge_day_charged=p.discharge_day_charged,
            average_threshold_days=p.average_threshold_days,
            switch_to_individual_after_days=p.switch_to_individual_after_days,
            amounts=[PaymentAmountOut(year=y, amount_sek=a) for y, a in sorted(amounts.items())])
