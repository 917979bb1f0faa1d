"""Card payments of a dossier, the dossier's payment status and the fee schedule."""

from __future__ import annotations

import asyncio
from typing import Annotated
from uuid import UUID

import structlog
from litestar import Controller, Response, get, post
from litestar.openapi import ResponseSpec
from litestar.params import Parameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED
from msgspec import Struct

from ants_runtime.auth import Principal
from ants_runtime.fees import FeeSchedule, today_in_france
from ants_runtime.http import error_responses, rule
from ants_runtime.service import ServiceRuntime
from payment_service.application import PaymentApplication
from payment_service.domain.model import (
    MAX_IDEMPOTENCY_KEY_LENGTH,
    PayableDossier,
    Payment,
    PaymentError,
)


class PaymentRequest(Struct):
    dossier_id: UUID
    card_number: Annotated[str, rule(
        pattern=r"^ *([0-9] *){13,19}$", description="13 to 19 digits (Luhn), spaces allowed",
    )]
    expiry: Annotated[str, rule(
        pattern=r"^\s*(0[1-9]|1[0-2])/[0-9]{2}\s*$", description="MM/YY, e.g. 09/28",
    )]
    cvv: Annotated[str, rule(pattern=r"^\s*[0-9]{3}\s*$", description="3 digits")]


class FeeLineView(Struct):
    code: str
    label: str
    amount: str


class AmountView(Struct):
    total: str
    currency: str
    lines: list[FeeLineView]


class PaymentView(Struct):
    payment_id: UUID
    dossier_id: UUID
    # "authorised", then "recorded"; "voided" when the request was cancelled before the
    # payment was recorded, "refunded" when the cancellation came after it
    status: str
    amount: AmountView
    card_last4: str
    psp_reference: str


class DossierView(Struct):
    dossier_id: UUID
    status: str  # "payable", "authorised", "paid", or "withdrawn" (the request was cancelled)
    amount_due: AmountView
    payment_id: UUID | None


class FeesView(Struct):
    valid_on: str
    total: str
    currency: str
    lines: list[FeeLineView]


WHY = {
    403: "Not the caller's dossier or payment",
    404: "Unknown payment, or a dossier never made payable",
    409: "The dossier is not awaiting payment (unknown, already authorised or paid, cancelled),"
    " or the payment was voided with its request",
    422: "Invalid input or card, card declined, or Idempotency-Key reused for another request",
    503: "No fee schedule in force today, or the dossier's news still on its way (Retry-After)",
}


def errors(*codes: int) -> dict[int, ResponseSpec]:
    return error_responses(*codes, why=WHY)


class NoFeeSchedule(PaymentError):
    def __init__(self) -> None:
        super().__init__("Aucun barème des taxes n'est en vigueur aujourd'hui.")


def amount_view(total: str, currency: str, lines: list[dict[str, str]]) -> AmountView:
    return AmountView(total, currency, [FeeLineView(**line) for line in lines])


def payment_view(payment: Payment) -> PaymentView:
    return PaymentView(
        payment.id, payment.dossier_id, payment.status,
        amount_view(payment.total, payment.currency, payment.lines), payment.card_last4,
        payment.psp_reference,
    )


def dossier_view(dossier: PayableDossier) -> DossierView:
    return DossierView(
        dossier.id, dossier.status, amount_view(dossier.total, dossier.currency, dossier.lines),
        dossier.payment_id,
    )


class PaymentsController(Controller):
    tags = ["payments"]

    @post(
        "/payments", status_code=HTTP_201_CREATED, summary="Pay a dossier's taxes by card",
        description="Authorises the amount due on the card (« Valider »); the payment still has "
        "to be recorded. With an Idempotency-Key, a retry returns the same payment (200, "
        "header Idempotent-Replayed) and never authorises twice.",
        responses=errors(400, 401, 403, 409, 422, 503),
    )
    async def authorise(
        self,
        data: PaymentRequest,
        principal: Principal,
        payments: PaymentApplication,
        runtime: ServiceRuntime,
        idempotency_key: Annotated[str | None, Parameter(
            header="Idempotency-Key", min_length=1, max_length=MAX_IDEMPOTENCY_KEY_LENGTH,
        )] = None,
    ) -> Response[PaymentView]:
        structlog.contextvars.bind_contextvars(dossier_id=str(data.dossier_id))
        payments.check_card(data.card_number, data.expiry, data.cvv)  # input before state
        await runtime.wait_for_fact(data.dossier_id, lambda: payments.knows(data.dossier_id))
        # The card goes to the payment provider, a bank's service behind a synchronous port:
        # off the loop, whatever the store.
        payment, created = await asyncio.to_thread(
            payments.authorise_payment, principal.account_id, data.dossier_id, data.card_number,
            data.expiry, data.cvv, idempotency_key,
        )
        if created:
            return Response(payment_view(payment), status_code=HTTP_201_CREATED)
        return Response(
            payment_view(payment), status_code=HTTP_200_OK, headers={"Idempotent-Replayed": "true"}
        )

    @post(
        "/payments/{payment_id:uuid}/record", status_code=HTTP_200_OK,
        summary="Record an authorised payment (« enregistrer votre paiement »)",
        description="Recording twice answers the same and publishes one PaymentRecorded.",
        responses=errors(400, 401, 403, 404, 409),
    )
    async def record(
        self, payment_id: UUID, principal: Principal, payments: PaymentApplication
    ) -> PaymentView:
        recorded = await payments.call(
            payments.record_payment, principal.account_id, payment_id
        )
        return payment_view(recorded)

    @get(
        "/payments/{payment_id:uuid}", summary="A payment of the caller",
        responses=errors(400, 401, 403, 404),
    )
    async def show(
        self, payment_id: UUID, principal: Principal, payments: PaymentApplication
    ) -> PaymentView:
        found = await payments.call(payments.get_payment, principal.account_id, payment_id)
        return payment_view(found)

    @get(
        "/dossiers/{dossier_id:uuid}", summary="Whether a dossier of the caller awaits payment",
        description="404 when the dossier was never declared ready for payment.",
        responses=errors(400, 401, 403, 404, 503),
    )
    async def dossier(
        self, dossier_id: UUID, principal: Principal, payments: PaymentApplication,
        runtime: ServiceRuntime,
    ) -> DossierView:
        await runtime.wait_for_fact(dossier_id, lambda: payments.knows(dossier_id))
        found = await payments.call(payments.get_dossier, principal.account_id, dossier_id)
        return dossier_view(found)


class FeesController(Controller):
    tags = ["fees"]

    @get(
        "/fees", summary="The fees of a duplicate in force today (public)",
        responses=errors(503),
    )
    async def fees(self, fee_schedule: FeeSchedule) -> FeesView:
        today = today_in_france()
        try:
            quote = fee_schedule.quote(today)
        except LookupError:
            raise NoFeeSchedule() from None
        return FeesView(
            today.isoformat(), str(quote.total), quote.currency,
            [FeeLineView(f.code, f.label, str(f.amount)) for f in quote.lines],
        )
