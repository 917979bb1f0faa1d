"""The embedded broker forgets everything on restart: the payment service loses nothing and
does nothing twice, although Kafka offsets start again at 0."""

from __future__ import annotations

from uuid import uuid4

CARD = {"card_number": "4970 1000 0006 0000", "expiry": "12/30", "cvv": "123"}


async def test_after_the_broker_forgot_everything_nothing_is_lost_nor_done_twice(
    own_broker, start_service, tmp_path, new_citizen, publish, make_ready_event,
    read_payment_topic, poll,
) -> None:
    address = own_broker.address
    service = start_service(tmp_path / "data", on_broker=address)
    marie = new_citizen()
    paid_id, later_id = uuid4(), uuid4()
    ready = make_ready_event(paid_id, marie.account_id)
    sequence = await publish(ready, on_broker=address)

    async def recorded_for(dossier_id) -> list:
        return [
            r for r in await read_payment_topic(on_broker=address)
            if r.key == str(dossier_id).encode()
        ]

    async with service.client(marie) as http:

        async def paid():
            response = await http.post("/payments", json={"dossier_id": str(paid_id), **CARD})
            return None if response.status_code == 409 else response

        payment_id = (await poll(paid)).json()["payment_id"]
        await http.post(f"/payments/{payment_id}/record")
    await poll(lambda: recorded_for(paid_id))

    # The broker restarts empty; the service restarts on its store; the requests service
    # republishes its events from offset 0, followed by a new dossier.
    service.stop()
    own_broker.stop()
    own_broker.start()
    service = start_service(tmp_path / "data", on_broker=address)
    await publish(ready, sequence=sequence, on_broker=address)
    await publish(make_ready_event(later_id, marie.account_id), on_broker=address)

    async with service.client(marie) as http:

        async def known_later() -> bool:
            return (await http.get(f"/dossiers/{later_id}")).status_code == 200

        await poll(known_later)  # not skipped although its offset is one already seen
        before = (await http.get(f"/dossiers/{paid_id}")).json()
        assert (before["status"], before["payment_id"]) == ("paid", payment_id)
        later = await http.post("/payments", json={"dossier_id": str(later_id), **CARD})
        assert later.status_code == 201

    republished = await poll(lambda: recorded_for(paid_id))
    assert len(republished) == 1  # the relay republished its store into the empty broker
    assert len(await recorded_for(paid_id)) == 1
    service.stop()
