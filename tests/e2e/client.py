"""A small client of the public HTTP APIs and of the Kafka topics, as an outside party sees them."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Self, TypeVar

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from ants_identity_provider.enrolment import enrol, person, sign_in
from ants_stack.stack import IDENTITY_PROVIDER, StackConfig

T = TypeVar("T")
PASSWORD = "demo-2026"
GOOD_CARD = {"card_number": "4970 1000 0600 0000", "expiry": "12/30", "cvv": "123"}


_fleet_numbers = itertools.count(1)


def fleet_plate() -> str:
    """A vehicle of the test fleet held by "Flotte ESSAI" in the seeded SIV, new each call."""
    return f"ZZ-{next(_fleet_numbers):03d}-AA"


def eventually(
    check: Callable[[], T | Literal[False] | None], timeout: float = 30.0, interval: float = 0.2
) -> T:
    """Wait for an asynchronous outcome (events cross the broker between services)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"not reached within {timeout} s; last value: {last!r}")


@dataclass
class User:
    email: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


class Api:
    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.http = httpx.Client(timeout=60.0)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.http.close()

    def url(self, service: str, path: str) -> str:
        return f"{self.config.url(service)}{path}"

    def call(self, method: str, service: str, path: str, user: User | None = None, **kw: Any) -> httpx.Response:
        headers = {**kw.pop("headers", {}), **(user.headers if user else {})}
        return self.http.request(method, self.url(service, path), headers=headers, **kw)

    # --- accounts -------------------------------------------------------------------------

    def login(self, email: str, password: str = PASSWORD) -> User:
        response = self.call("POST", "identity", "/sessions", json={"email": email, "password": password})
        assert response.status_code == 200, response.text
        return User(email, response.json()["access_token"])

    def new_citizen(self, given_name: str, family_name: str) -> User:
        """A new person whose identity the demo provider vouches for (born on the day of the
        demo person of that name): an account with a password (PASSWORD), linked to that
        identity through the provider's flow over HTTP, as a browser would. Signing in again
        with the password gives the verified identity too."""
        user = self.self_registered(given_name, family_name)
        subject = enrol(
            self.http, self.config.url(IDENTITY_PROVIDER), person(given_name, family_name, user.email)
        )
        linked = sign_in(self.http, self.config.url("identity"), subject, user.token)
        assert linked.status_code == 200, linked.text
        return User(user.email, linked.json()["access_token"])

    def self_registered(self, given_name: str, family_name: str) -> User:
        """An account created with an e-mail address and a password alone: its names are
        only what was typed."""
        email = f"{given_name}.{family_name}.{uuid.uuid4().hex[:8]}@example.fr".lower()
        response = self.call(
            "POST", "identity", "/accounts",
            json={"email": email, "password": PASSWORD, "given_name": given_name, "family_name": family_name},
        )
        assert response.status_code == 202, response.text
        return self.login(email)

    # --- the loss case, step by step ------------------------------------------------------

    def start(self, user: User, plate: str, reason: str = "perte", person: str = "titulaire") -> httpx.Response:
        return self.call("POST", "requests", "/dossiers", user,
                         json={"reason": reason, "person": person, "special_case": False, "plate": plate})

    def dossier(self, user: User, dossier_id: str) -> dict[str, Any]:
        response = self.call("GET", "requests", f"/dossiers/{dossier_id}", user)
        assert response.status_code == 200, response.text
        return response.json()

    def start_and_submit(self, user: User, plate: str, reason: str = "perte") -> dict[str, Any]:
        response = self.start(user, plate, reason)
        assert response.status_code == 201, response.text
        dossier_id = response.json()["dossier_id"]
        declared = self.call("POST", "requests", f"/dossiers/{dossier_id}/declarations", user,
                             json={"sworn_statement": True, "legal_terms": True})
        assert declared.status_code == 200, declared.text
        submitted = self.call("POST", "requests", f"/dossiers/{dossier_id}/submit", user)
        assert submitted.status_code == 200, submitted.text
        return submitted.json()

    def pay(self, user: User, dossier_id: str, card: dict[str, str] | None = None,
            idempotency_key: str | None = None) -> httpx.Response:
        """POST /payments, once: the payment service waits for the dossier's news itself."""
        body = {"dossier_id": dossier_id, **(card or GOOD_CARD)}
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        return self.call("POST", "payment", "/payments", user, json=body, headers=headers)

    def record(self, user: User, payment_id: str) -> httpx.Response:
        return self.call("POST", "payment", f"/payments/{payment_id}/record", user)

    def wait_status(self, user: User, dossier_id: str, status: str, timeout: float = 30) -> dict[str, Any]:
        """Wait for a status, each call answering at the dossier's next change (no polling)."""
        deadline = time.monotonic() + timeout
        dossier = self.dossier(user, dossier_id)
        while dossier["status"] != status:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"status {dossier['status']!r}, not {status!r}, after {timeout} s"
            response = self.call(
                "GET", "requests",
                f"/dossiers/{dossier_id}?wait_version={dossier['version']}&timeout={min(remaining, 30):.1f}",
                user,
            )
            assert response.status_code == 200, response.text
            dossier = response.json()
        return dossier


@dataclass(frozen=True)
class Record:
    topic: str
    offset: int
    key: bytes
    value: bytes
    headers: dict[str, str]
    raw_headers: list[tuple[str, bytes]]
    partition: int = 0

    @property
    def ce_type(self) -> str:
        return self.headers["ce_type"]


def read_topic(config: StackConfig, topic: str) -> list[Record]:
    """Every record of every partition of the topic, partition after partition."""

    async def read() -> list[Record]:
        consumer = AIOKafkaConsumer(bootstrap_servers=config.bootstrap, enable_auto_commit=False)
        await consumer.start()
        try:
            partitions = [TopicPartition(topic, p) for p in sorted(await _partitions(consumer, topic))]
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            records: list[Record] = []
            deadline = asyncio.get_running_loop().time() + 30
            # Read up to the end a fetch reports (its high watermark), not until a fetch comes
            # back empty: on a loaded machine an empty fetch says nothing about the end.
            while True:
                behind = [
                    tp for tp in partitions
                    if (end := consumer.highwater(tp)) is None or await consumer.position(tp) < end
                ]
                if not behind:
                    return sorted(records, key=lambda r: (r.partition, r.offset))
                assert asyncio.get_running_loop().time() < deadline, f"{topic} not read to its end"
                batch = await consumer.getmany(timeout_ms=200)
                for items in batch.values():
                    records += [
                        Record(r.topic, r.offset, r.key, r.value,
                               {k: v.decode() for k, v in r.headers}, list(r.headers), r.partition)
                        for r in items
                    ]
        finally:
            await consumer.stop()

    return asyncio.run(read())


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    for _ in range(50):
        found = consumer.partitions_for_topic(topic)
        if found:
            return set(found)
        await consumer._client.force_metadata_update()  # a topic not yet in the client's metadata
        await asyncio.sleep(0.1)
    return {0}


def republish(config: StackConfig, record: Record) -> None:
    """Deliver a record a second time, exactly as it was (what an at-least-once broker may do)."""

    async def send() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=config.bootstrap)
        await producer.start()
        try:
            await producer.send_and_wait(
                record.topic, record.value, key=record.key, headers=record.raw_headers,
                partition=record.partition,
            )
        finally:
            await producer.stop()

    asyncio.run(send())
