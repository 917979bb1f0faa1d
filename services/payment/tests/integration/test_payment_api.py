"""The payment service process over HTTP, fed and read through a real Kafka-protocol broker."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID, uuid4

import pytest

from ants_events import AmountDue, FeeLine
from ants_events.requests import RequestCancelledV1

CARD = "4970 1000 0006 0000"
NOT_PAYABLE = "Ce dossier n'est pas en attente de paiement."
DECLINED = "Paiement refusé par la banque émettrice."
EXPIRED = "La carte est expirée."

# Every card number these tests send: none may show up in a log, a response or the store.
SENT_CARDS = {CARD, "4000 0000 0000 0002", "4000 0000 0000 9995", "4970 1000 0006 0001",
              "4970 10OO 0006 0000", "4111 1111 1111 1111",
              "4111 1111 1111"}


def body(
    dossier_id: UUID, card_number: str = CARD, expiry: str = "12/30", cvv: str = "123"
) -> dict:
    return {"dossier_id": str(dossier_id), "card_number": card_number, "expiry": expiry, "cvv": cvv}


def of_dossier(records: list, dossier_id: UUID) -> list:
    return [r for r in records if r.key == str(dossier_id).encode()]


async def pay_when_ready(http, poll, payload: dict, headers: dict | None = None):
    """POST /payments until it stops answering 409 (the dossier travels through Kafka)."""

    async def attempt():
        response = await http.post("/payments", json=payload, headers=headers or {})
        return None if response.status_code == 409 else response

    return await poll(attempt)


async def test_a_citizen_pays_then_records_and_one_payment_recorded_is_published(
    payment_service, new_citizen, publish, make_ready_event, read_payment_topic, poll
) -> None:
    marie = new_citizen()
    dossier_id = uuid4()
    async with payment_service.client(marie) as http:
        early = await http.post("/payments", json=body(dossier_id))
        assert early.status_code == 409
        assert early.json()["message"] == NOT_PAYABLE

        await publish(make_ready_event(dossier_id, marie.account_id))
        paid = await pay_when_ready(http, poll, body(dossier_id))
        assert paid.status_code == 201, paid.text
        payment = paid.json()
        assert payment["status"] == "authorised"
        assert payment["amount"] == {
            "total": "13.76", "currency": "EUR",
            "lines": [
                {"code": "Y4", "label": "Taxe fixe (Y.4)", "amount": "11.00"},
                {"code": "Y5", "label": "Redevance d'acheminement (Y.5)", "amount": "2.76"},
            ],
        }
        assert payment["card_last4"] == "0000"
        assert "4970100000060000" not in paid.text
        payment_id = payment["payment_id"]
        assert (await http.get(f"/payments/{payment_id}")).json()["status"] == "authorised"

        first = await http.post(f"/payments/{payment_id}/record")
        second = await http.post(f"/payments/{payment_id}/record")
        assert first.status_code == second.status_code == 200
        assert first.json() == second.json()
        assert first.json()["payment_id"] == payment_id
        assert first.json()["status"] == "recorded"
        assert (await http.get(f"/dossiers/{dossier_id}")).json()["status"] == "paid"
        again = await http.post("/payments", json=body(dossier_id))
        assert again.status_code == 409

    records = await poll(lambda: _published(read_payment_topic, dossier_id))
    records = of_dossier(await read_payment_topic(), dossier_id)  # nothing more came meanwhile
    assert len(records) == 1
    record = records[0]
    headers = {k: v.decode() for k, v in record.headers}
    assert headers["ce_type"] == "fr.ants.payment.PaymentRecorded.v1"
    assert headers["ce_subject"] == str(dossier_id)
    assert headers["ce_specversion"] == "1.0"
    assert headers["ce_source"] == "/ants/payment"
    assert headers["content-type"] == "application/json"
    assert record.key == str(dossier_id).encode()
    recorded = json.loads(record.value)
    assert headers["ce_id"] == recorded["event_id"]
    assert recorded["payment_id"] == payment_id
    assert recorded["dossier_id"] == str(dossier_id)
    assert recorded["account_id"] == str(marie.account_id)
    assert (recorded["amount"], recorded["currency"]) == ("13.76", "EUR")
    assert [line["code"] for line in recorded["lines"]] == ["Y4", "Y5"]
    assert recorded["card_last4"] == "0000"
    assert recorded["psp_reference"] == payment["psp_reference"]
    assert b"4970100000060000" not in record.value and b"4970 1000" not in record.value
    assert b"cvv" not in record.value.lower()


async def test_a_cancelled_request_releases_the_amount_authorised_on_the_card_once(
    payment_service, new_citizen, publish, make_ready_event, read_payment_topic, poll
) -> None:
    marie = new_citizen()
    dossier_id = uuid4()
    await publish(make_ready_event(dossier_id, marie.account_id))
    async with payment_service.client(marie) as http:
        paid = await pay_when_ready(http, poll, body(dossier_id))
        payment_id = paid.json()["payment_id"]

        cancellation = RequestCancelledV1(
            event_id=uuid4(), occurred_at=datetime.now(UTC), dossier_id=dossier_id,
            reason="annulée par l'usager",
        )
        await publish(cancellation)

        def voided_lines() -> list[str]:
            return [line for line in payment_service.log_text().splitlines()
                    if "payment.voided" in line and str(dossier_id) in line]

        async def released() -> bool:
            return bool(voided_lines())

        await poll(released)
        shown = (await http.get(f"/payments/{payment_id}")).json()
        assert shown["status"] == "voided"
        assert (await http.get(f"/dossiers/{dossier_id}")).json()["status"] == "withdrawn"
        refused = await http.post(f"/payments/{payment_id}/record")
        assert refused.status_code == 409
        assert refused.json()["message"] == (
            "Ce paiement a été annulé avec la demande : aucun montant ne sera prélevé."
        )

        # The same cancellation again, and another one, then a barrier behind them on the
        # same partition: once it is handled, so are they.
        await publish(cancellation)
        await publish(cancellation.model_copy(update={"event_id": uuid4()}))
        barrier = uuid4()
        await publish(make_ready_event(barrier, marie.account_id))

        async def barrier_handled() -> bool:
            return (await http.get(f"/dossiers/{barrier}")).status_code == 200

        await poll(barrier_handled)
    assert len(voided_lines()) == 1
    assert of_dossier(await read_payment_topic(), dossier_id) == []  # nothing was paid


async def test_a_payment_recorded_while_its_request_was_cancelled_is_refunded(
    payment_service, new_citizen, publish, make_ready_event, poll
) -> None:
    marie = new_citizen()
    dossier_id = uuid4()
    await publish(make_ready_event(dossier_id, marie.account_id))
    async with payment_service.client(marie) as http:
        paid = await pay_when_ready(http, poll, body(dossier_id))
        payment_id = paid.json()["payment_id"]
        assert (await http.post(f"/payments/{payment_id}/record")).status_code == 200

        await publish(RequestCancelledV1(
            event_id=uuid4(), occurred_at=datetime.now(UTC), dossier_id=dossier_id,
            reason="annulée par l'usager",
        ))

        async def refunded() -> bool:
            return (await http.get(f"/payments/{payment_id}")).json()["status"] == "refunded"

        await poll(refunded)
    assert any("payment.refunded" in line and str(dossier_id) in line
               for line in payment_service.log_text().splitlines())


async def _published(read_payment_topic, dossier_id: UUID) -> list:
    return of_dossier(await read_payment_topic(), dossier_id)


async def test_a_duplicated_ready_event_changes_nothing(
    payment_service, new_citizen, publish, make_ready_event, payable_dossier, read_payment_topic,
    poll,
) -> None:
    marie = new_citizen()
    dossier_id = uuid4()
    ready = make_ready_event(dossier_id, marie.account_id)
    sequence = await publish(ready)
    async with payment_service.client(marie) as http:
        payment_id = (await pay_when_ready(http, poll, body(dossier_id))).json()["payment_id"]
        await http.post(f"/payments/{payment_id}/record")

        # The same record again, then the same fact republished under a new position with
        # another amount (as a producer replaying its store would), then a marker dossier:
        # once the marker is known, the duplicates before it have been consumed.
        await publish(ready, sequence=sequence)
        other_amount = AmountDue(total="1.00", lines=(FeeLine(code="X", label="x", amount="1.00"),))
        await publish(make_ready_event(dossier_id, marie.account_id, other_amount))
        await payable_dossier(marie)

        dossier = (await http.get(f"/dossiers/{dossier_id}")).json()
        assert dossier["status"] == "paid"
        assert dossier["amount_due"]["total"] == "13.76"
        assert dossier["payment_id"] == payment_id
        assert (await http.post("/payments", json=body(dossier_id))).status_code == 409
    await poll(lambda: _published(read_payment_topic, dossier_id))
    assert len(of_dossier(await read_payment_topic(), dossier_id)) == 1


CVV_MESSAGE = "Le cryptogramme visuel doit comporter exactement 3 chiffres."
LUHN_MESSAGE = "Le numéro de carte n'est pas valide : vérifiez-le."
DIGITS_MESSAGE = "Le numéro de carte ne doit contenir que des chiffres."
LENGTH_MESSAGE = "Le numéro de carte doit comporter entre 13 et 19 chiffres."
FORMAT_MESSAGE = "La date d'expiration doit être au format MM/AA (par exemple 09/28)."
MONTH_MESSAGE = "Le mois de la date d'expiration doit être compris entre 01 et 12."


@pytest.mark.parametrize(
    ("card", "message", "field"),
    [
        ({"expiry": "past"}, EXPIRED, "expiry"),
        ({"card_number": "4000 0000 0000 0002"}, DECLINED, None),
        ({"card_number": "4000 0000 0000 9995"}, DECLINED, None),
        ({"cvv": "12"}, CVV_MESSAGE, "cvv"),
        ({"cvv": "1234"}, CVV_MESSAGE, "cvv"),
        ({"card_number": "4970 1000 0006 0001"}, LUHN_MESSAGE, "card_number"),
        ({"card_number": "4970 10OO 0006 0000"}, DIGITS_MESSAGE, "card_number"),
        ({"card_number": "4111 1111 1111"}, LENGTH_MESSAGE, "card_number"),
        ({"expiry": "12/2030"}, FORMAT_MESSAGE, "expiry"),
        ({"expiry": "13/30"}, MONTH_MESSAGE, "expiry"),
    ],
)
async def test_a_refused_card_is_explained_and_the_dossier_stays_payable(
    payment_service, new_citizen, payable_dossier, expiry_in, card: dict, message: str,
    field: str | None,
) -> None:
    marie = new_citizen()
    dossier_id = await payable_dossier(marie)
    payload = body(dossier_id) | card
    if payload["expiry"] == "past":
        payload["expiry"] = expiry_in(-1)
    async with payment_service.client(marie) as http:
        refused = await http.post("/payments", json=payload)
        assert refused.status_code == 422, refused.text
        assert refused.json()["message"] == message
        if field:  # the form can point at the input to correct
            assert refused.json()["errors"] == [{"field": field, "message": message}]
        assert payload["card_number"].replace(" ", "") not in refused.text
        dossier = (await http.get(f"/dossiers/{dossier_id}")).json()
        assert (dossier["status"], dossier["payment_id"]) == ("payable", None)
        assert (await http.post("/payments", json=body(dossier_id))).status_code == 201


async def test_a_card_expiring_this_month_is_accepted(
    payment_service, new_citizen, payable_dossier, expiry_in
) -> None:
    marie = new_citizen()
    dossier_id = await payable_dossier(marie)
    async with payment_service.client(marie) as http:
        paid = await http.post("/payments", json=body(dossier_id, expiry=expiry_in(0)))
    assert paid.status_code == 201, paid.text


async def test_someone_else_can_neither_pay_nor_see_nor_record(
    payment_service, new_citizen, payable_dossier
) -> None:
    marie, intruder = new_citizen(), new_citizen()
    dossier_id = await payable_dossier(marie)
    async with payment_service.client(intruder) as http:
        refused = await http.post("/payments", json=body(dossier_id))
        assert refused.status_code == 403
        assert refused.json()["message"] == "Vous n'avez pas accès à ce dossier."
        assert (await http.get(f"/dossiers/{dossier_id}")).status_code == 403
    async with payment_service.client(marie) as http:
        payment_id = (await http.post("/payments", json=body(dossier_id))).json()["payment_id"]
    async with payment_service.client(intruder) as http:
        for response in (
            await http.post(f"/payments/{payment_id}/record"),
            await http.get(f"/payments/{payment_id}"),
        ):
            assert response.status_code == 403
            assert response.json()["message"] == "Vous n'avez pas accès à ce paiement."
    async with payment_service.client(marie) as http:
        assert (await http.get(f"/payments/{payment_id}")).json()["status"] == "authorised"


async def test_nothing_is_possible_without_a_valid_token(payment_service) -> None:
    some_id = uuid4()
    async with payment_service.client() as http:
        responses = [
            await http.post("/payments", json=body(some_id)),
            await http.post(f"/payments/{some_id}/record"),
            await http.get(f"/payments/{some_id}"),
            await http.get(f"/dossiers/{some_id}"),
            await http.post("/payments", json=body(some_id), headers={"Authorization": "Bearer x"}),
        ]
    for response in responses:
        assert response.status_code == 401
        assert response.json()["message"].startswith("Vous devez être connecté")


async def test_an_unknown_payment_is_not_found(payment_service, new_citizen) -> None:
    async with payment_service.client(new_citizen()) as http:
        response = await http.post(f"/payments/{uuid4()}/record")
        assert response.status_code == 404
        assert response.json()["message"] == "Paiement introuvable."
        assert (await http.get(f"/payments/{uuid4()}")).status_code == 404


async def test_a_retry_with_the_same_idempotency_key_returns_the_same_payment(
    payment_service, new_citizen, payable_dossier
) -> None:
    marie = new_citizen()
    dossier_id = await payable_dossier(marie)
    key = {"Idempotency-Key": str(uuid4())}
    async with payment_service.client(marie) as http:
        first = await http.post("/payments", json=body(dossier_id), headers=key)
        retry = await http.post("/payments", json=body(dossier_id), headers=key)
        assert first.status_code == 201
        assert retry.status_code == 200
        assert retry.headers["Idempotent-Replayed"] == "true"
        assert retry.json()["payment_id"] == first.json()["payment_id"]
        assert retry.json()["psp_reference"] == first.json()["psp_reference"]  # one authorisation

        other_key = await http.post(
            "/payments", json=body(dossier_id), headers={"Idempotency-Key": str(uuid4())}
        )
        assert other_key.status_code == 409
        no_key = await http.post("/payments", json=body(dossier_id))
        assert no_key.status_code == 409
        assert "déjà été autorisé" in no_key.json()["message"]

        reused = await http.post(
            "/payments", json=body(dossier_id, card_number="4111 1111 1111 1111"), headers=key
        )
        assert reused.status_code == 422
        assert reused.json()["message"] == (
            "Cette clé d'idempotence a déjà servi pour une autre demande."
        )

        payment_id = first.json()["payment_id"]
        await http.post(f"/payments/{payment_id}/record")
        late_retry = await http.post("/payments", json=body(dossier_id), headers=key)
        assert late_retry.status_code == 200
        assert late_retry.json()["status"] == "recorded"


async def test_a_malformed_request_is_refused_without_echoing_the_card(
    payment_service, new_citizen, payable_dossier
) -> None:
    marie = new_citizen()
    dossier_id = await payable_dossier(marie)
    async with payment_service.client(marie) as http:
        as_number = await http.post(
            "/payments", json=body(dossier_id) | {"card_number": 4970100000060000}
        )
        assert as_number.status_code == 422
        assert "card_number" in as_number.json()["message"]
        assert "4970100000060000" not in as_number.text
        missing = await http.post("/payments", json={"dossier_id": str(dossier_id)})
        assert missing.status_code == 422
        assert missing.json()["message"].startswith("Les données envoyées sont invalides")


async def test_the_fee_schedule_in_force_today_is_public(payment_service, today) -> None:
    async with payment_service.client() as http:
        response = await http.get("/fees")
    assert response.status_code == 200
    assert response.json() == {
        "valid_on": today.isoformat(),
        "total": "13.76",
        "currency": "EUR",
        "lines": [
            {"code": "Y4", "label": "Taxe fixe (Y.4)", "amount": "11.00"},
            {"code": "Y5", "label": "Redevance d'acheminement (Y.5)", "amount": "2.76"},
        ],
    }


async def test_another_fee_schedule_file_can_be_configured(
    start_service, tmp_path: Path, today
) -> None:
    schedule = tmp_path / "fees.json"
    def period(valid_from: str, *amounts: str) -> dict:
        codes = ("Y4", "Y5")
        lines = [{"code": c, "label": f"Taxe {c}", "amount": a} for c, a in zip(codes, amounts, strict=False)]
        return {"valid_from": valid_from, "lines": lines}

    schedule.write_text(json.dumps({"periods": [
        period("2020-01-01", "9.00"), period(today.isoformat(), "12.00", "2.76"),
        period("2999-01-01", "99.00"),
    ]}))
    service = start_service(tmp_path / "data", {"FEE_SCHEDULE_FILE": str(schedule)})
    async with service.client() as http:
        fees = (await http.get("/fees")).json()
    assert fees["total"] == "14.76"
    assert [line["amount"] for line in fees["lines"]] == ["12.00", "2.76"]
    service.stop()


def test_no_card_number_reaches_the_logs_nor_the_store(payment_service) -> None:
    """Runs after the tests above, which sent every card in SENT_CARDS to this process."""
    log = payment_service.log_text()
    assert "payment.authorised" in log  # the log is the service's, and it did log payments
    stored = b"".join(
        path.read_bytes() for path in (payment_service.data_dir / "payment").rglob("*")
        if path.is_file()
    )
    assert stored, "the SQLite store should hold the payments"
    for number in SENT_CARDS:
        for spelling in (number, number.replace(" ", "")):
            assert spelling not in log
            assert spelling.encode() not in stored
    assert "cvv" not in log.lower()
