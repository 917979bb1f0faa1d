"""The aggregates: payable dossier life, payment recording, idempotency keys, amounts."""

from decimal import Decimal
from uuid import uuid4

import pytest

from payment_service.domain.model import (
    AlreadyAuthorised,
    AlreadyPaid,
    IdempotencyKey,
    IdempotencyKeyReused,
    InvalidAmountDue,
    InvalidIdempotencyKey,
    Money,
    NotPayable,
    NotYourDossier,
    NotYourPayment,
    PayableDossier,
    Payment,
    check_amount_due,
    check_idempotency_key,
    request_fingerprint,
)

LINES = [
    {"code": "Y4", "label": "Taxe fixe (Y.4)", "amount": "11.00"},
    {"code": "Y5", "label": "Redevance d'acheminement (Y.5)", "amount": "2.76"},
]


def a_dossier(account_id=None) -> PayableDossier:
    return PayableDossier(uuid4(), account_id or uuid4(), "13.76", "EUR", LINES)


def a_payment(dossier: PayableDossier) -> Payment:
    return Payment(
        dossier.id, dossier.account_id, dossier.total, dossier.currency, dossier.lines, "0000",
        "SIM-1",
    )


def test_a_payable_dossier_is_identified_by_the_dossier_id_and_owes_its_amount() -> None:
    dossier_id, account_id = uuid4(), uuid4()
    dossier = PayableDossier(dossier_id, account_id, "13.76", "EUR", LINES)
    assert dossier.id == dossier_id
    assert dossier.status == "payable"
    assert dossier.amount_due == Money(Decimal("13.76"), "EUR")


def test_a_dossier_goes_payable_then_authorised_then_paid() -> None:
    dossier = a_dossier()
    payment = a_payment(dossier)
    dossier.authorise_payment(payment.id)
    assert (dossier.status, dossier.payment_id) == ("authorised", payment.id)
    dossier.mark_paid(payment.id)
    assert dossier.status == "paid"


def test_a_dossier_with_an_authorised_payment_cannot_be_authorised_again() -> None:
    dossier = a_dossier()
    dossier.authorise_payment(uuid4())
    with pytest.raises(AlreadyAuthorised):
        dossier.authorise_payment(uuid4())


def test_a_paid_dossier_is_not_payable() -> None:
    dossier = a_dossier()
    payment_id = uuid4()
    dossier.authorise_payment(payment_id)
    dossier.mark_paid(payment_id)
    with pytest.raises(AlreadyPaid) as refusal:
        dossier.authorise_payment(uuid4())
    assert isinstance(refusal.value, NotPayable)
    assert str(refusal.value).startswith("Ce dossier n'est pas en attente de paiement")


def test_only_the_authorised_payment_can_pay_a_dossier() -> None:
    dossier = a_dossier()
    dossier.authorise_payment(uuid4())
    with pytest.raises(NotPayable):
        dossier.mark_paid(uuid4())
    with pytest.raises(NotPayable):
        a_dossier().mark_paid(uuid4())


def test_only_the_owner_may_pay_a_dossier() -> None:
    owner = uuid4()
    dossier = a_dossier(owner)
    dossier.check_owner(owner)
    with pytest.raises(NotYourDossier):
        dossier.check_owner(uuid4())


def test_recording_a_payment_twice_records_it_once_with_its_whole_receipt() -> None:
    dossier = a_dossier()
    payment = a_payment(dossier)
    payment.record()
    payment.record()
    events = payment.collect_events()
    recorded = [e for e in events if isinstance(e, Payment.Recorded)]
    assert len(recorded) == 1
    assert payment.is_recorded and payment.status == "recorded"
    assert (recorded[0].dossier_id, recorded[0].account_id) == (dossier.id, dossier.account_id)
    assert (recorded[0].total, recorded[0].lines) == ("13.76", LINES)
    assert (recorded[0].card_last4, recorded[0].psp_reference) == ("0000", "SIM-1")


def test_a_payment_keeps_no_card_number_nor_cvv() -> None:
    payment = a_payment(a_dossier())
    assert not {"card_number", "number", "cvv", "expiry"} & set(vars(payment))


def test_only_the_owner_may_see_or_record_a_payment() -> None:
    dossier = a_dossier()
    payment = a_payment(dossier)
    payment.check_owner(dossier.account_id)
    with pytest.raises(NotYourPayment):
        payment.check_owner(uuid4())


def test_an_idempotency_key_is_unique_per_account_and_key() -> None:
    account, other = uuid4(), uuid4()
    assert IdempotencyKey.create_id(account, "k") == IdempotencyKey.create_id(account, "k")
    assert IdempotencyKey.create_id(account, "k") != IdempotencyKey.create_id(other, "k")
    assert IdempotencyKey.create_id(account, "k") != IdempotencyKey.create_id(account, "k2")
    used = IdempotencyKey(account, "k", "fingerprint", uuid4())
    assert used.id == IdempotencyKey.create_id(account, "k")


def test_an_idempotency_key_answers_only_the_same_request() -> None:
    used = IdempotencyKey(uuid4(), "k", "fingerprint", uuid4())
    used.check_same_request("fingerprint")
    with pytest.raises(IdempotencyKeyReused) as refusal:
        used.check_same_request("another")
    assert str(refusal.value) == "Cette clé d'idempotence a déjà servi pour une autre demande."


def test_a_request_fingerprint_ignores_spaces_but_not_the_dossier_card_end_or_expiry() -> None:
    dossier = uuid4()
    same = request_fingerprint(dossier, "4970 1000 0006 0000", "12/28")
    assert same == request_fingerprint(dossier, "4970100000060000", "12/28")
    assert same != request_fingerprint(uuid4(), "4970 1000 0006 0000", "12/28")
    assert same != request_fingerprint(dossier, "4111 1111 1111 1111", "12/28")
    assert same != request_fingerprint(dossier, "4970 1000 0006 0000", "11/28")
    assert len(same) == 64 and "4970" not in same  # a digest, not card data


@pytest.mark.parametrize("key", ["", "k" * 256, "bad\nkey"])
def test_an_idempotency_key_must_be_short_and_printable(key: str) -> None:
    with pytest.raises(InvalidIdempotencyKey):
        check_idempotency_key(key)


def test_an_amount_due_must_add_up() -> None:
    check_amount_due("13.76", "EUR", LINES)
    with pytest.raises(InvalidAmountDue):
        check_amount_due("13.75", "EUR", LINES)
    with pytest.raises(InvalidAmountDue):
        check_amount_due("0.00", "EUR", [])
    with pytest.raises(InvalidAmountDue):
        check_amount_due("-1.00", "EUR", [{"code": "X", "label": "x", "amount": "-1.00"}])
    with pytest.raises(InvalidAmountDue):
        check_amount_due("13.76", "EUR", [{"code": "X", "label": "x", "amount": "abc"}])
    with pytest.raises(InvalidAmountDue):
        check_amount_due("13.76", "euros", LINES)
