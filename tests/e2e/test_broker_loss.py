"""The embedded broker forgets everything on restart: nothing is lost, nothing done twice."""

from __future__ import annotations

import json

from ants_stack.stack import Stack
from tests.e2e.client import Api, eventually, fleet_plate, read_topic


# After a broker loss every consumer reads every topic again from the start: allow time.
CATCH_UP = 120.0


def complete(api: Api, plate: str) -> tuple[object, str]:
    owner = api.new_citizen("Flotte", "ESSAI")
    dossier_id = api.start_and_submit(owner, plate)["dossier_id"]
    payment = eventually(lambda: (r := api.pay(owner, dossier_id)).status_code == 201 and r, CATCH_UP)
    assert api.record(owner, payment.json()["payment_id"]).status_code == 200
    api.wait_status(owner, dossier_id, "completed", timeout=CATCH_UP)
    return owner, dossier_id


def all_logs_start_at_zero(stack: Stack) -> bool:
    first: dict[str, int] = {}
    for record in read_topic(stack.config, "ants.checkpoints.v1"):
        data = json.loads(record.value)
        first.setdefault(data["service"], data["first_index"])
    return set(first) >= {"requests", "payment", "documents"} and not any(first.values())


def test_after_the_broker_lost_its_memory_new_dossiers_still_complete(api: Api, stack: Stack) -> None:
    owner, before_id = complete(api, fleet_plate())
    before = api.dossier(owner, before_id)  # type: ignore[arg-type]

    assert stack.broker is not None
    stack.broker.kill()
    stack.broker.wait()
    assert stack.supervise_once() == ["broker"]

    # Every relay republished its store into the empty broker, once.
    key = before_id.encode()
    republished = eventually(
        lambda: (r := [x for x in read_topic(stack.config, "ants.requests.v1") if x.key == key])
        and len(r) == 4 and r,
        CATCH_UP,
    )
    assert [r.ce_type.split(".")[3] for r in republished] == [
        "RequestStarted", "RequestSubmitted", "RequestReadyForPayment", "RequestCompleted"
    ]
    # And every service's signed checkpoints, from its first leaf: an agency reading the
    # checkpoint topic from its start can verify every service's log again.
    eventually(lambda: all_logs_start_at_zero(stack), CATCH_UP)

    # Offsets started again at 0: a consumer resuming from "its last offset" would skip these.
    _, after_id = complete(api, fleet_plate())
    assert api.dossier(owner, before_id) == before  # type: ignore[arg-type]
    certificates = [
        r for r in read_topic(stack.config, "ants.documents.v1")
        if r.ce_type.endswith("CertificateIssued.v1")
    ]
    assert sorted(r.key for r in certificates if r.key in (key, after_id.encode())) == sorted(
        [key, after_id.encode()]
    )


def test_stopping_and_starting_the_whole_system_keeps_every_dossier(api: Api, stack: Stack) -> None:
    owner, finished_id = complete(api, fleet_plate())
    open_dossier = api.start_and_submit(owner, fleet_plate())  # type: ignore[arg-type]
    finished = api.dossier(owner, finished_id)  # type: ignore[arg-type]

    stack.stop_services()
    assert stack.broker is not None
    stack.broker.terminate()
    stack.broker.wait()
    stack.start(timeout=90)

    owner = api.login(owner.email)  # type: ignore[attr-defined]
    assert api.dossier(owner, finished_id) == finished
    basket = api.call("GET", "requests", "/dossiers", owner).json()
    assert [d["dossier_id"] for d in basket] == [open_dossier["dossier_id"]]
    # The dossier left waiting for payment can still be paid after the restart.
    payment = api.pay(owner, open_dossier["dossier_id"])
    assert payment.status_code == 201, payment.text
    assert api.record(owner, payment.json()["payment_id"]).status_code == 200
    api.wait_status(owner, open_dossier["dossier_id"], "completed", timeout=CATCH_UP)
