"""Routes of the payment-liability configuration: the policy in force and the amounts per year."""

from __future__ import annotations

from typing import Annotated

from litestar import get, put
from litestar.params import Parameter

from server.api.dependencies import Payment, Reads
from server.api.openapi import PROBLEMS
from server.principal import CurrentUser
from server.schemas.cases import PaymentAmountInput, PaymentAmountOut, PaymentPolicyOut


@get("/payment/policy", operation_id="getPaymentPolicy", summary="The payment-liability policy in force",
     responses=PROBLEMS, tags=["payment"],
     description="The agreement's parameters and Socialstyrelsen's amounts per day of care entered so far.")
async def get_payment_policy(current_user: CurrentUser, queries: Reads) -> PaymentPolicyOut:
    return await queries.payment.policy()


@put("/payment/amounts/{year:int}", operation_id="setPaymentAmount", summary="Enter the amount per day for a year",
     responses=PROBLEMS, tags=["payment"],
     description="Central administrators enter Socialstyrelsen's national amount per day of care for a year.")
async def set_payment_amount(current_user: CurrentUser, payment: Payment,
                             year: Annotated[int, Parameter(ge=2018, le=2100)],
                             data: PaymentAmountInput) -> PaymentAmountOut:
    return await payment.set_amount(current_user, year, data)


PAYMENT_ROUTES = [get_payment_policy, set_payment_amount]
