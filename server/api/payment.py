"""Routes of the payment-liability configuration: the policy in force and the amounts per year."""

from __future__ import annotations

from typing import Annotated

from litestar import get, put
from litestar.params import Parameter
from sqlalchemy import delete, insert

from server import authorization
from server.api.openapi import PROBLEMS
from server.persistence.models import PaymentAmountRow
from server.principal import CurrentUser
from server.runtime import Runtime, utc_now
from server.schemas.cases import PaymentAmountInput, PaymentAmountOut, PaymentPolicyOut


@get("/payment/policy", operation_id="getPaymentPolicy", summary="The payment-liability policy in force",
     responses=PROBLEMS, tags=["payment"],
     description="The agreement's parameters and Socialstyrelsen's amounts per day of care entered so far.")
async def get_payment_policy(current_user: CurrentUser, runtime: Runtime) -> PaymentPolicyOut:
    p = runtime.policy
    async with runtime.uow() as uow:
        amounts = await uow.directory.payment_amounts()
    return PaymentPolicyOut(
        name=p.name, model=str(p.model), first_liable_day_somatic=p.first_liable_day_somatic,
        first_liable_day_psychiatric=p.first_liable_day_psychiatric, day0_cutoff_hour=p.day0_cutoff_hour,
        day_counting=str(p.day_counting), discharge_day_charged=p.discharge_day_charged,
        average_threshold_days=p.average_threshold_days,
        switch_to_individual_after_days=p.switch_to_individual_after_days,
        amounts=[PaymentAmountOut(year=y, amount_sek=a) for y, a in sorted(amounts.items())])


@put("/payment/amounts/{year:int}", operation_id="setPaymentAmount", summary="Enter the amount per day for a year",
     responses=PROBLEMS, tags=["payment"],
     description="Central administrators enter Socialstyrelsen's national amount per day of care for a year.")
async def set_payment_amount(current_user: CurrentUser, runtime: Runtime,
                             year: Annotated[int, Parameter(ge=2018, le=2100)],
                             data: PaymentAmountInput) -> PaymentAmountOut:
    authorization.require_central(current_user, "enters payment amounts")
    async with runtime.uow() as uow:
        await uow.session.execute(delete(PaymentAmountRow).where(PaymentAmountRow.year == year))
        await uow.session.execute(insert(PaymentAmountRow).values(
            year=year, amount_sek=data.amount_sek, entered_by_user_id=current_user.id, entered_at=utc_now()))
        await uow.commit()
    return PaymentAmountOut(year=year, amount_sek=data.amount_sek)


PAYMENT_ROUTES = [get_payment_policy, set_payment_amount]
