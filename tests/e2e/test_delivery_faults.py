"""Delivery under faults, as users see it: facts out of order, a paused or killed service, a
replayed record, the broker restarted alone, and clients acting right after another service
answered (no retry on their side)."""

from __future__ import annotations

import signal
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from ants_events.signatures import RecordSigner
from ants_stack.stack import Stack
from tests.e2e import files
from tests.e2e.client import Api, User, eventually, fleet_plate, read_topic, republish

# After a fault a consumer may read a whole topic again: allow time on a loaded machine.
CATCH_UP = 120.0


def citizen(api: Api) -> User:
    return api.new_citizen("Flotte", "ESSAI")


def certificates_issued(stack: Stack, dossier_ids: list[str]) -> bool:
    wanted = {d.encode() for d in dossier_ids}
    issued = {
        r.key for r in read_topic(stack.config, "ants.documents.v1")
        if r.ce_type.endswith("CertificateIssued.v1")
    }
    return wanted <= issued


def pay_and_record(api: Api, owner: User, dossier_id: str) -> None:
    payment = api.pay(owner, dossier_id)
    assert payment.status_code == 201, payment.text
    assert api.record(owner, payment.json()["payment_id"]).status_code == 200


def pay_all_while_requests_is_stopped(api: Api, stack: Stack, count: int) -> list[tuple[User, str]]:
    """Dossiers made payable, then paid and their certificates issued while the requests
    service is frozen: when it looks again, certificates and payments wait in two topics."""
    dossiers = []
    for _ in range(count):
        owner = citizen(api)
        dossiers.append((owner, api.start_and_submit(owner, fleet_plate())["dossier_id"]))
    requests = stack.processes["requests"]
    requests.send_signal(signal.SIGSTOP)
    try:
        with ThreadPoolExecutor(6) as pool:
            list(pool.map(lambda d: pay_and_record(api, *d), dossiers))
        eventually(lambda: certificates_issued(stack, [d for _, d in dossiers]), CATCH_UP, 0.5)
    except BaseException:
        requests.send_signal(signal.SIGCONT)
        raise
    return dossiers


def all_complete(api: Api, dossiers: list[tuple[User, str]]) -> None:
    for owner, dossier_id in dossiers:
        assert api.wait_status(owner, dossier_id, "completed", timeout=CATCH_UP)["certificate"]
    # Every vehicle is free again: a new request for it may start.
    owner, dossier_id = dossiers[0]
    plate = api.dossier(owner, dossier_id)["vehicle"]["plate"]
    again = api.start(owner, plate)
    assert again.status_code == 201, again.text
    api.call("POST", "requests", f"/dossiers/{again.json()['dossier_id']}/cancel", owner)


def test_dossiers_paid_while_the_requests_service_is_paused_all_complete(api: Api, stack: Stack) -> None:
    dossiers = pay_all_while_requests_is_stopped(api, stack, 30)
    stack.processes["requests"].send_signal(signal.SIGCONT)
    all_complete(api, dossiers)


def test_dossiers_paid_while_the_requests_service_is_killed_all_complete(api: Api, stack: Stack) -> None:
    dossiers = pay_all_while_requests_is_stopped(api, stack, 30)
    requests = stack.processes["requests"]
    requests.send_signal(signal.SIGKILL)
    requests.wait()
    assert stack.supervise_once() == ["requests"]
    stack.wait_healthy(60)
    all_complete(api, dossiers)


def upload(api: Api, user: User, dossier_id: str) -> httpx.Response:
    return api.call("POST", "documents", f"/dossiers/{dossier_id}/attachments", user,
                    files={"file": ("recepisse.pdf", files.pdf(), "application/pdf")})


def accept(api: Api, agent: User, document_id: str) -> None:
    review = eventually(lambda: next(
        (r for r in api.call("GET", "cert", "/reviews?status=pending", agent).json()
         if r["document_id"] == document_id), None))
    assert api.call("POST", "cert", f"/reviews/{review['review_id']}/claim", agent).status_code == 200
    accepted = api.call("POST", "cert", f"/reviews/{review['review_id']}/accept", agent,
                        json={"note": "Pièce conforme."})
    assert accepted.status_code == 200, accepted.text


def test_an_acceptance_seen_before_its_upload_still_makes_the_dossier_payable(api: Api, stack: Stack) -> None:
    agent = api.login("agent.cert@example.fr")
    owner = citizen(api)
    dossier_id = api.start_and_submit(owner, fleet_plate(), reason="vol")["dossier_id"]
    requests = stack.processes["requests"]
    requests.send_signal(signal.SIGSTOP)
    try:
        sent = upload(api, owner, dossier_id)
        assert sent.status_code == 201, sent.text
        accept(api, agent, sent.json()["document_id"])
    finally:
        requests.send_signal(signal.SIGCONT)
    dossier = api.wait_status(owner, dossier_id, "ready_for_payment", timeout=CATCH_UP)
    assert dossier["latest_cert_decision"]["decision"] == "accepted"
    pay_and_record(api, owner, dossier_id)
    api.wait_status(owner, dossier_id, "completed", timeout=CATCH_UP)


def test_a_replayed_record_claiming_a_huge_position_silences_nothing(api: Api, stack: Stack) -> None:
    owner = citizen(api)
    first = api.start_and_submit(owner, fleet_plate())["dossier_id"]
    ready = next(r for r in read_topic(stack.config, "ants.requests.v1")
                 if r.key == first.encode() and r.ce_type.endswith("RequestReadyForPayment.v1"))
    # A copy signed by the producer itself (a store restored from a backup, say).
    signer = RecordSigner.from_file(stack.config.var_dir / "requests" / "keys" / "ledger-private.pem")
    headers = signer.sign(
        {**ready.headers, "ce_id": str(uuid.uuid4()), "ce_sequence": str(10**9)}, ready.key, ready.value
    )
    republish(stack.config, type(ready)(
        ready.topic, ready.offset, ready.key, ready.value, headers,
        [(k, v.encode()) for k, v in headers.items()],
    ))
    # Genuine events after it are still processed: a later dossier completes.
    later = api.start_and_submit(owner, fleet_plate())["dossier_id"]
    pay_and_record(api, owner, later)
    api.wait_status(owner, later, "completed", timeout=CATCH_UP)
    pay_and_record(api, owner, first)
    api.wait_status(owner, first, "completed", timeout=CATCH_UP)


def test_the_broker_restarted_alone_mid_load_is_noticed_and_every_dossier_completes(
    api: Api, stack: Stack
) -> None:
    owners = [citizen(api) for _ in range(12)]
    done: list[tuple[User, str]] = []
    errors: list[str] = []

    def one(owner: User) -> None:
        try:
            dossier_id = api.start_and_submit(owner, fleet_plate())["dossier_id"]
            # While the broker restarts a payment may be answered 503 (Retry-After).
            payment = eventually(
                lambda: (r := api.pay(owner, dossier_id)).status_code == 201 and r, CATCH_UP, 0.5
            )
            assert api.record(owner, payment.json()["payment_id"]).status_code == 200
            done.append((owner, dossier_id))
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(repr(error))

    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(one, owner) for owner in owners]
        eventually(lambda: len(done) >= 4, CATCH_UP)
        assert stack.broker is not None
        stack.broker.kill()
        stack.broker.wait()
        stack.start_broker()  # the services are not restarted
        for future in futures:
            future.result()
    assert errors == []

    def a_recovery_is_reported() -> list[dict[str, Any]]:
        health = api.call("GET", "requests", "/health").json()
        return health["delivery"]["recoveries"]

    recoveries = eventually(a_recovery_is_reported, CATCH_UP)
    assert "broker forgot" in recoveries[-1]["reason"]
    for owner, dossier_id in done:
        api.wait_status(owner, dossier_id, "completed", timeout=CATCH_UP)
    for service in ("requests", "payment", "documents", "cert"):
        def healthy(s: str = service) -> httpx.Response | None:
            h = api.call("GET", s, "/health")
            return h if h.status_code == 200 else None

        health = eventually(healthy, CATCH_UP)
        assert health.json()["checks"]["delivery"] == "ok"
    assert all(p.poll() is None for p in stack.processes.values()), "a service was restarted"


def test_clients_act_right_after_another_service_answered_without_retrying(api: Api, stack: Stack) -> None:
    agent = api.login("agent.cert@example.fr")

    def loss_case(_: int) -> str:
        owner = citizen(api)
        dossier_id = api.start_and_submit(owner, fleet_plate())["dossier_id"]
        bad = api.call("POST", "payment", "/payments", owner, json={
            "dossier_id": dossier_id, "card_number": "4970 1000 0600 0001", "expiry": "12/30",
            "cvv": "123"})
        assert bad.status_code == 422, bad.text
        assert bad.json()["errors"][0]["field"] == "card_number"
        payment = api.call("POST", "payment", "/payments", owner,
                           json={"dossier_id": dossier_id, **GOOD})
        assert payment.status_code == 201, payment.text
        assert api.record(owner, payment.json()["payment_id"]).status_code == 200
        api.wait_status(owner, dossier_id, "completed", timeout=CATCH_UP)
        return dossier_id

    def theft_case(_: int) -> str:
        owner = citizen(api)
        dossier_id = api.start_and_submit(owner, fleet_plate(), reason="vol")["dossier_id"]
        sent = upload(api, owner, dossier_id)
        assert sent.status_code == 201, sent.text
        api.wait_status(owner, dossier_id, "under_review", timeout=CATCH_UP)
        accept(api, agent, sent.json()["document_id"])
        return dossier_id

    with ThreadPoolExecutor(18) as pool:
        losses = [pool.submit(loss_case, i) for i in range(12)]
        thefts = [pool.submit(theft_case, i) for i in range(6)]
        assert len({f.result() for f in losses + thefts}) == 18


GOOD = {"card_number": "4970 1000 0600 0000", "expiry": "12/30", "cvv": "123"}


def test_a_dossier_can_be_awaited_without_polling(api: Api, stack: Stack) -> None:
    owner = citizen(api)
    dossier = api.start_and_submit(owner, fleet_plate())
    url = f"/dossiers/{dossier['dossier_id']}"
    # Already past the version: answered at once.
    now = api.call("GET", "requests", f"{url}?wait_version={dossier['version'] - 1}", owner)
    assert now.json()["version"] == dossier["version"]
    # Nothing happens: answered at the timeout with the dossier as it is.
    same = api.call("GET", "requests", f"{url}?wait_version={dossier['version']}&timeout=0.5", owner)
    assert same.status_code == 200 and same.json()["version"] == dossier["version"]
    # A payment recorded elsewhere wakes the waiting client.
    with ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(api.call, "GET", "requests",
                              f"{url}?wait_version={dossier['version']}&timeout=30", owner)
        pay_and_record(api, owner, dossier["dossier_id"])
        changed = waiting.result()
    assert changed.json()["version"] > dossier["version"]
    assert changed.json()["status"] in {"paid", "completed"}
