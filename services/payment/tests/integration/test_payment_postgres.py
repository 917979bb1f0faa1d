"""The payment service on PostgreSQL: pay, record, restart, and nothing is published twice."""

from __future__ import annotations

import json
from collections.abc import Iterator
from uuid import uuid4

import pytest

from ants_stack.testing import (
    POSTGRES_UNREACHABLE,
    postgres_connect,
    postgres_database,
    postgres_reachable,
)

CARD = "4970 1000 0006 0000"

pytestmark = pytest.mark.skipif(not postgres_reachable(), reason=POSTGRES_UNREACHABLE)


@pytest.fixture
def database() -> Iterator[str]:
    """A database of its own for this run, dropped afterwards."""
    with postgres_database("ants_payment_test") as name:
        yield name


def stored_bytes(database: str) -> bytes:
    with postgres_connect(database) as db:
        rows = db.execute("SELECT state FROM payment_events").fetchall()
    return b"".join(bytes(row[0]) for row in rows)


async def test_a_payment_survives_a_restart_on_postgres_and_is_published_once(
    start_service, tmp_path, database, new_citizen, publish, make_ready_event,
    read_payment_topic, poll,
) -> None:
    env = {"PERSISTENCE_MODULE": "eventsourcing.postgres", "PAYMENT_POSTGRES_DBNAME": database}
    service = start_service(tmp_path / "first", env)
    marie = new_citizen()
    dossier_id = uuid4()
    await publish(make_ready_event(dossier_id, marie.account_id))
    payload = {"dossier_id": str(dossier_id), "card_number": CARD, "expiry": "12/30", "cvv": "123"}

    async with service.client(marie) as http:

        async def paid():
            response = await http.post("/payments", json=payload)
            return None if response.status_code == 409 else response

        payment = (await poll(paid)).json()
        assert payment["status"] == "authorised"
        recorded = await http.post(f"/payments/{payment['payment_id']}/record")
        assert recorded.json()["status"] == "recorded"

    async def published():
        return [r for r in await read_payment_topic() if r.key == str(dossier_id).encode()]

    assert len(await poll(published)) == 1
    service.stop()

    # A new process on the same database: the payment is there, the ready event read again
    # from the topic is not processed twice, and the relay does not publish again.
    service = start_service(tmp_path / "second", env)
    async with service.client(marie) as http:
        shown = (await http.get(f"/payments/{payment['payment_id']}")).json()
        assert shown["status"] == "recorded"
        assert (await http.get(f"/dossiers/{dossier_id}")).json()["status"] == "paid"
        again = await http.post(f"/payments/{payment['payment_id']}/record")
        assert again.json() == recorded.json()
        assert (await http.post("/payments", json=payload)).status_code == 409
    records = await published()
    assert len(records) == 1
    assert json.loads(records[0].value)["payment_id"] == payment["payment_id"]
    service.stop()

    stored = stored_bytes(database)
    assert b"13.76" in stored  # the payment events are in PostgreSQL
    assert CARD.replace(" ", "").encode() not in stored and CARD.encode() not in stored
