"""Use case of the payment-liability configuration: a central administrator enters the amount per day of a year."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import delete, insert

from server import authorization
from server.persistence.models import PaymentAmountRow
from server.persistence.unit_of_work import UnitOfWork
from server.principal import CurrentUser
from server.schemas.cases import PaymentAmountInput, PaymentAmountOut


class PaymentService:
    def __init__(self, uow: Callable[[], UnitOfWork], clock: Callable[[], datetime]) -> None:
        self._uow = uow
        self._clock = clock

    async def set_amount(self, current_user: CurrentUser, year: int, data: PaymentAmountInput) -> PaymentAmountOut:
        """Replaces the year's amount (403 unless central administrator)."""
        authorization.require_central(current_user, "enters payment amounts")
        async with self._uow() as uow:
            await uow.session.execute(delete(PaymentAmountRow).where(PaymentAmountRow.year == year))
            await uow.session.execute(insert(PaymentAmountRow).values(
                year=year, amount_sek=data.amount_sek, entered_by_user_id=current_user.id, entered_at=self._clock()))
            await uow.commit()
        return PaymentAmountOut(year=year, amount_sek=data.amount_sek)
