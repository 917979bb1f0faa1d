"""Outbox relay, inbound processing and the audit trail against a real broker: order,
duplicates, facts out of order, poison records, a broker that forgets everything while the
services run, and a trail that resumes where it stopped."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar
from uuid import uuid4

import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from ants_events import IntegrationEvent, topics
from ants_events.base import FeeLine
from ants_events.payment import PaymentRecordedV1
from ants_events.requests import RequestCancelledV1
from ants_runtime.audit_trail import AuditTrail
from ants_runtime.inbound import InboundEvents, NotReady
from ants_runtime.kafka import ensure_topics
from ants_runtime.outbox import OutboxRelay
from ants_runtime.settings import ServiceSettings
from ants_runtime.store import ServiceApplication, event_id_of, stop_gracefully
from ants_stack.testing import install_test_producer_keys, producer_signer_of, publish, read_topic
from eventsourcing.domain import Aggregate, event


class Counter(Aggregate):
    if TYPE_CHECKING:  # the event classes @event makes from the methods below
        Cancelled: ClassVar[type[Any]]

    @event("Created")
    def __init__(self) -> None:
        self.seen: list[str] = []

    @event("Cancelled")
    def cancel(self, reason: str) -> None:
        self.seen.append(reason)


class Producer(ServiceApplication):
    name = "requests"


class Consumer(ServiceApplication):
    name = "consumer"


def to_contract(e: Any) -> IntegrationEvent | None:
    if isinstance(e, Counter.Cancelled):
        return RequestCancelledV1(event_id=event_id_of(e), occurred_at=e.timestamp,
                                  dossier_id=e.originator_id, reason=e.reason)
    return None


def settings_for(bootstrap: str, tmp: Path, name: str) -> ServiceSettings:
    install_test_producer_keys(tmp)  # the relay signs as requests; the consumer pins that key
    return ServiceSettings(service_name=name, kafka_bootstrap_servers=bootstrap, data_dir=tmp)


def sqlite_app(cls: type[ServiceApplication], path: Path) -> Any:
    return cls(env={"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(path)})


def make_producer(tmp: Path, *reasons: str) -> tuple[Producer, Counter]:
    app = sqlite_app(Producer, tmp / "p.sqlite")
    counter = Counter()
    for reason in reasons or ("un", "deux", "trois"):
        counter.cancel(reason)
    app.save(counter)
    return app, counter


async def until(fact: Callable[[], Awaitable[bool]], timeout: float = 20.0) -> None:
    """Wait for an observable fact, checking every 100 ms; fail with the fact's name."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await fact():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not observed within {timeout} s: {fact.__name__}")
        await asyncio.sleep(0.1)


@contextlib.asynccontextmanager
async def running(*loops: Any) -> AsyncIterator[None]:
    tasks = [asyncio.create_task(loop.run()) for loop in loops]
    try:
        yield
    finally:
        for loop, task in zip(loops, tasks, strict=True):
            await stop_gracefully(task, loop.stopping)


@contextlib.asynccontextmanager
async def started_relay(app: Producer, settings: ServiceSettings) -> AsyncIterator[OutboxRelay]:
    relay = OutboxRelay(app, to_contract, settings, topics.REQUESTS, idle_seconds=0.05)
    relay.check_seconds = 0.2
    await relay.start()
    try:
        async with running(relay):
            yield relay
    finally:
        await relay.stop()


async def reasons_on_topic(bootstrap: str) -> list[str]:
    return [RequestCancelledV1.model_validate_json(r.value).reason
            for r in await read_topic(bootstrap, topics.REQUESTS)]


async def caught_up(inbound: InboundEvents) -> None:
    """Barrier: everything on the followed topics now has been handled."""
    ends: dict[Any, int] = {}
    for _ in range(100):
        ends = await inbound.end_offsets()
        if ends:
            break
        await asyncio.sleep(0.1)

    async def reached_the_end() -> bool:
        return inbound.reached(ends)

    await until(reached_the_end)


async def test_the_relay_publishes_in_order_once_and_resumes_after_its_position(broker, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings = settings_for(broker.bootstrap, tmp_path, "requests")
    await ensure_topics(settings)
    app, counter = make_producer(tmp_path)
    async with started_relay(app, settings) as relay:
        await until(lambda: relay.wait_published(4, timeout=0.1))
    records = await read_topic(broker.bootstrap, topics.REQUESTS)
    assert [dict(r.headers)["ce_sequence"] for r in records] == [b"2", b"3", b"4"]
    assert [RequestCancelledV1.model_validate_json(r.value).reason for r in records] == ["un", "deux", "trois"]
    assert {r.key for r in records} == {str(counter.id).encode()}

    # A restarted relay resumes after its saved position: the next event is the only new one.
    counter.cancel("quatre")
    app.save(counter)
    async with started_relay(app, settings) as relay:
        await until(lambda: relay.wait_published(5, timeout=0.1))
    assert await reasons_on_topic(broker.bootstrap) == ["un", "deux", "trois", "quatre"]


async def test_a_broker_that_forgets_while_the_relay_runs_gets_everything_again(broker, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings = settings_for(broker.bootstrap, tmp_path, "requests")
    await ensure_topics(settings)
    app, counter = make_producer(tmp_path)
    async with started_relay(app, settings) as relay:
        await until(lambda: relay.wait_published(4, timeout=0.1))
        broker.restart_empty()

        async def republished_everything() -> bool:
            return await reasons_on_topic(broker.bootstrap) == ["un", "deux", "trois"]

        await until(republished_everything)
        assert relay.recoveries and "republishing" in relay.recoveries[-1]["reason"]

        counter.cancel("quatre")
        app.save(counter)

        async def the_new_event_follows() -> bool:
            return await reasons_on_topic(broker.bootstrap) == ["un", "deux", "trois", "quatre"]

        await until(the_new_event_follows)


def consumer_of(bootstrap: str, tmp: Path, app: Consumer, seen: list[str], dlq: AIOKafkaProducer) -> InboundEvents:
    def on_cancelled(e: RequestCancelledV1) -> list[Any]:
        seen.append(e.reason)
        return []

    inbound = InboundEvents(app, settings_for(bootstrap, tmp, "consumer"))
    inbound.on(RequestCancelledV1, on_cancelled)
    inbound.dead_letters = dlq
    return inbound


async def test_each_event_is_processed_once_and_every_poison_record_is_dead_lettered_once(broker, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings = settings_for(broker.bootstrap, tmp_path, "requests")
    await ensure_topics(settings)
    app, _ = make_producer(tmp_path)
    async with started_relay(app, settings) as relay:
        await until(lambda: relay.wait_published(4, timeout=0.1))
    records = await read_topic(broker.bootstrap, topics.REQUESTS)

    headers = dict(records[0].headers)
    unknown_type = {**headers, "ce_id": str(uuid4()).encode(), "ce_type": b"fr.ants.requests.Unheard.v1"}
    no_id = {k: v for k, v in headers.items() if k != "ce_id"}
    not_json = {**headers, "ce_id": str(uuid4()).encode()}
    huge = {**headers, "ce_id": str(uuid4()).encode()}
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, max_request_size=4 * 1024 * 1024)
    await producer.start()
    try:
        for value, hdrs in [
            (records[0].value, headers),  # a duplicate delivery
            (b"not json", not_json),
            (records[1].value, no_id),
            (records[2].value, unknown_type),
            (b'{"reason": "' + b"x" * (2 * 1024 * 1024) + b'"}', huge),
        ]:
            await producer.send_and_wait(topics.REQUESTS, value, key=records[0].key,
                                         headers=list(hdrs.items()), partition=0)

        consumer_app = sqlite_app(Consumer, tmp_path / "c.sqlite")
        seen: list[str] = []
        inbound = consumer_of(broker.bootstrap, tmp_path, consumer_app, seen, producer)
        async with running(inbound):
            await caught_up(inbound)
        assert seen == ["un", "deux", "trois"]
        dead = await read_topic(broker.bootstrap, topics.dead_letter(topics.REQUESTS))
        assert len(dead) == 4
        errors = [dict(r.headers)["dlq_error"].decode() for r in dead]
        assert any("ce_id" in e for e in errors) and any("Unheard" in e for e in errors)
        oversized = [r for r in dead if "dlq_value_ref" in dict(r.headers)]
        assert len(oversized) == 1 and oversized[0].value == b""
        assert int(dict(oversized[0].headers)["dlq_value_size"]) > 2 * 1024 * 1024
        kept_key = dict(oversized[0].headers)["dlq_key"].decode()
        assert len(inbound.inbox.dead_letter_value(kept_key) or b"") > 2 * 1024 * 1024

        # A new consumer process (same store) reads the topic from the start: nothing is
        # processed again and nothing is dead-lettered again.
        again = consumer_of(broker.bootstrap, tmp_path, consumer_app, seen, producer)
        async with running(again):
            await caught_up(again)
        assert seen == ["un", "deux", "trois"]
        assert again.processed == 0
        assert len(await read_topic(broker.bootstrap, topics.dead_letter(topics.REQUESTS))) == 4
    finally:
        await producer.stop()


async def test_a_record_claiming_a_huge_position_silences_nothing(broker, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings = settings_for(broker.bootstrap, tmp_path, "requests")
    await ensure_topics(settings)
    app, counter = make_producer(tmp_path, "un")
    async with started_relay(app, settings) as relay:
        await until(lambda: relay.wait_published(2, timeout=0.1))
        record = (await read_topic(broker.bootstrap, topics.REQUESTS))[0]
        # A copy signed by the producer itself (a store restored from a backup, say).
        headers = {k: v.decode() for k, v in record.headers}
        replayed = producer_signer_of("requests").sign(
            {**headers, "ce_id": str(uuid4()), "ce_sequence": "1000000000"}, record.key, record.value
        )
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap)
        await producer.start()
        await producer.send_and_wait(topics.REQUESTS, record.value, key=record.key,
                                     headers=[(k, v.encode()) for k, v in replayed.items()], partition=0)
        await producer.stop()
        counter.cancel("deux")
        app.save(counter)
        await until(lambda: relay.wait_published(3, timeout=0.1))

    seen: list[str] = []
    consumer_app = sqlite_app(Consumer, tmp_path / "c.sqlite")
    inbound = consumer_of(broker.bootstrap, tmp_path, consumer_app, seen, relay.producer)  # type: ignore[arg-type]
    async with running(inbound):
        await caught_up(inbound)
    # The replayed copy is a new event id, so it is handled (handlers are idempotent by
    # business key); the genuine event after it is not silenced.
    assert seen == ["un", "un", "deux"]


async def test_a_fact_seen_before_the_one_it_follows_is_parked_then_applied(broker, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings = settings_for(broker.bootstrap, tmp_path, "requests")
    await ensure_topics(settings)
    app, _ = make_producer(tmp_path, "second", "first")
    async with started_relay(app, settings) as relay:
        await until(lambda: relay.wait_published(3, timeout=0.1))

    applied: list[str] = []

    def needs_first(e: RequestCancelledV1) -> list[Any]:
        if e.reason == "second" and "first" not in applied:
            raise NotReady("the first fact has not arrived")
        applied.append(e.reason)
        return []

    consumer_app = sqlite_app(Consumer, tmp_path / "c.sqlite")
    inbound = InboundEvents(consumer_app, settings_for(broker.bootstrap, tmp_path, "consumer"))
    inbound.on(RequestCancelledV1, needs_first)
    async with running(inbound):
        await caught_up(inbound)
    assert applied == ["first", "second"]
    assert inbound.inbox.parked() == []


async def test_a_consumer_reads_again_from_the_start_when_the_broker_forgot(broker, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings = settings_for(broker.bootstrap, tmp_path, "requests")
    await ensure_topics(settings)
    app, counter = make_producer(tmp_path, "un", "deux", "trois", "quatre")
    seen: list[str] = []
    consumer_app = sqlite_app(Consumer, tmp_path / "c.sqlite")
    async with started_relay(app, settings) as relay:
        inbound = consumer_of(broker.bootstrap, tmp_path, consumer_app, seen, relay.producer)  # type: ignore[arg-type]
        async with running(inbound):
            await caught_up(inbound)
            broker.restart_empty()
            # A new event lands at offset 0 of the new log, below the consumer's position.
            counter.cancel("cinq")
            app.save(counter)

            async def the_new_event_was_processed() -> bool:
                return "cinq" in seen

            await until(the_new_event_was_processed)
            assert any("forgot" in r["reason"] for r in [*inbound.recoveries, *relay.recoveries])
    assert seen == ["un", "deux", "trois", "quatre", "cinq"]


async def test_a_consumer_resuming_where_the_refilled_broker_holds_other_records_reads_from_the_start(broker, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings = settings_for(broker.bootstrap, tmp_path, "requests")
    await ensure_topics(settings)
    app, counter = make_producer(tmp_path, "un", "deux", "trois")
    seen: list[str] = []
    consumer_app = sqlite_app(Consumer, tmp_path / "c.sqlite")
    async with started_relay(app, settings) as relay:
        await until(lambda: relay.wait_published(4, timeout=0.1))
        # A copy of the first record (at-least-once): the topic holds four records.
        first = (await read_topic(broker.bootstrap, topics.REQUESTS))[0]
        await relay.producer.send_and_wait(  # type: ignore[union-attr]
            topics.REQUESTS, first.value, key=first.key, headers=list(first.headers), partition=0
        )
        inbound = consumer_of(broker.bootstrap, tmp_path, consumer_app, seen, relay.producer)  # type: ignore[arg-type]
        async with running(inbound):
            await caught_up(inbound)
            assert inbound.done_offsets == {TopicPartition(topics.REQUESTS, 0): 4}
        # While no consumer runs, the broker loses everything and the relay refills it: the
        # three events without the copy, then two new ones. Offset 4, where the consumer
        # stopped, now holds the second new event; the first new one sits below it.
        broker.restart_empty()
        for reason in ("quatre", "cinq"):
            counter.cancel(reason)
        app.save(counter)
        await until(lambda: relay.wait_published(6, timeout=0.1))
        await until(lambda: _topic_length(broker.bootstrap, 5))
        inbound = consumer_of(broker.bootstrap, tmp_path, consumer_app, seen, relay.producer)  # type: ignore[arg-type]
        async with running(inbound):

            async def both_new_events_were_processed() -> bool:
                return "quatre" in seen and "cinq" in seen

            await until(both_new_events_were_processed)
    assert seen == ["un", "deux", "trois", "quatre", "cinq"]


async def _topic_length(bootstrap: str, length: int) -> bool:
    return len(await read_topic(bootstrap, topics.REQUESTS)) >= length


async def test_events_of_a_producer_restored_from_an_older_backup_are_processed(broker, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings = settings_for(broker.bootstrap, tmp_path, "requests")
    await ensure_topics(settings)
    app, counter = make_producer(tmp_path, "un")
    async with started_relay(app, settings) as relay:
        await until(lambda: relay.wait_published(2, timeout=0.1))
    app.close()
    backup = (tmp_path / "p.sqlite").read_bytes()

    app = sqlite_app(Producer, tmp_path / "p.sqlite")
    counter = app.repository.get(counter.id)
    counter.cancel("deux")  # lost with the database below
    app.save(counter)
    seen: list[str] = []
    consumer_app = sqlite_app(Consumer, tmp_path / "c.sqlite")
    async with started_relay(app, settings) as relay:
        await until(lambda: relay.wait_published(3, timeout=0.1))
        inbound = consumer_of(broker.bootstrap, tmp_path, consumer_app, seen, relay.producer)  # type: ignore[arg-type]
        async with running(inbound):
            await caught_up(inbound)
    app.close()
    assert seen == ["un", "deux"]

    # The producer's database is restored from the backup: its next event reuses the
    # notification id and the aggregate version of the lost one, and is still processed.
    (tmp_path / "p.sqlite").write_bytes(backup)
    app = sqlite_app(Producer, tmp_path / "p.sqlite")
    counter = app.repository.get(counter.id)
    counter.cancel("trois")
    app.save(counter)
    async with started_relay(app, settings) as relay:
        await until(lambda: relay.wait_published(3, timeout=0.1))
        inbound = consumer_of(broker.bootstrap, tmp_path, consumer_app, seen, relay.producer)  # type: ignore[arg-type]
        async with running(inbound):
            await caught_up(inbound)
    assert seen == ["un", "deux", "trois"]
    sequences = [dict(r.headers)["ce_sequence"] for r in await read_topic(broker.bootstrap, topics.REQUESTS)]
    assert sequences == [b"2", b"3", b"3"]


class Effect(Aggregate):
    """What a handler stores: one per event it applied."""

    if TYPE_CHECKING:  # the event classes @event makes from the methods below
        Done: ClassVar[type[Any]]

    @event("Done")
    def __init__(self, reason: str) -> None:
        self.reason = reason


@pytest.mark.parametrize("failing", ["boom", "fine"])
async def test_events_of_many_dossiers_are_stored_together_and_a_failing_one_spoils_none(broker, tmp_path: Path, failing: str) -> None:  # type: ignore[no-untyped-def]
    settings = settings_for(broker.bootstrap, tmp_path, "requests")
    await ensure_topics(settings)
    app = sqlite_app(Producer, tmp_path / "p.sqlite")
    reasons = [f"r{i}" for i in range(40)]
    reasons[7], reasons[12] = failing, "later"
    for reason in reasons:
        counter = Counter()
        counter.cancel(reason)
        app.save(counter)
    async with started_relay(app, settings) as relay:
        await until(lambda: relay.wait_published(80, timeout=0.1))

    consumer_app = sqlite_app(Consumer, tmp_path / "c.sqlite")
    released = False

    def handle(e: RequestCancelledV1) -> list[Any]:
        if e.reason == "boom":
            raise RuntimeError("refused for good")
        if e.reason == "later" and not released:
            raise NotReady("not yet")
        return [Effect(e.reason)]

    inbound = InboundEvents(consumer_app, settings_for(broker.bootstrap, tmp_path, "consumer"))
    inbound.on(RequestCancelledV1, handle)
    await relay.start()
    inbound.dead_letters = relay.producer
    try:
        async with running(inbound):
            await caught_up(inbound)
            released = True
            await inbound.retry_parked()
    finally:
        await relay.stop()
    stored = [consumer_app.mapper.to_domain_event(n) for n in consumer_app.recorder.select_notifications(1, 1000)]
    applied = sorted(e.reason for e in stored if isinstance(e, Effect.Done))
    assert applied == sorted(r for r in reasons if r != "boom")  # each once, "later" included
    dead = await read_topic(broker.bootstrap, topics.dead_letter(topics.REQUESTS))
    assert [RequestCancelledV1.model_validate_json(r.value).reason for r in dead] == [
        r for r in reasons if r == "boom"
    ]


@pytest.mark.parametrize("first", ["requests", "payment"])
async def test_facts_fetched_together_are_handled_in_the_order_they_were_published(broker, tmp_path: Path, first: str) -> None:  # type: ignore[no-untyped-def]
    settings = settings_for(broker.bootstrap, tmp_path, "consumer")
    await ensure_topics(settings)
    dossier_id = uuid4()
    facts = {
        "requests": RequestCancelledV1(event_id=uuid4(), occurred_at=datetime.now(UTC),
                                       dossier_id=dossier_id, reason="abandon"),
        "payment": PaymentRecordedV1(
            event_id=uuid4(), occurred_at=datetime.now(UTC), payment_id=uuid4(),
            dossier_id=dossier_id, account_id=uuid4(), amount="13.76",
            lines=(FeeLine(code="Y4", label="Taxe fixe", amount="13.76"),),
            psp_reference="PSP-1", card_last4="0000",
        ),
    }
    order = [first, *(name for name in facts if name != first)]
    for sequence, name in enumerate(order, 1):  # both on the broker before the consumer looks
        await publish(broker.bootstrap, facts[name], sequence)
    seen: list[str] = []

    def note(e: Any) -> list[Any]:
        seen.append(e.producer)
        return []

    inbound = InboundEvents(sqlite_app(Consumer, tmp_path / "c.sqlite"), settings)
    inbound.on(RequestCancelledV1, note)
    inbound.on(PaymentRecordedV1, note)
    async with running(inbound):
        await caught_up(inbound)
    assert seen == order


# --- the audit trail ---------------------------------------------------------------------


class CountingTrail(AuditTrail):
    """The trail, counting the records of the requests topic it was handed."""

    def __init__(self, datastore: Any, settings: ServiceSettings) -> None:
        super().__init__(datastore, settings)
        self.read = 0

    def keep(self, records: list[Any]) -> None:
        self.read += sum(1 for r in records if r.topic == topics.REQUESTS)
        super().keep(records)


@contextlib.asynccontextmanager
async def trail_of(datastore: Any, settings: ServiceSettings) -> AsyncIterator[CountingTrail]:
    trail = CountingTrail(datastore, settings)
    async with trail.running():
        yield trail


async def history_length(trail: AuditTrail, subject: str, length: int) -> None:
    async def holds_it_all() -> bool:
        await trail.caught_up(5.0)
        return len(trail.history(subject)) == length

    await until(holds_it_all)


async def test_a_restarted_trail_reads_only_what_came_since(broker, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings = settings_for(broker.bootstrap, tmp_path, "requests")
    await ensure_topics(settings)
    app, counter = make_producer(tmp_path, "un", "deux", "trois")
    subject = str(counter.id)
    service = sqlite_app(Consumer, tmp_path / "audit.sqlite")  # the trail lives in its store
    store = service.recorder.datastore
    no_keys = settings.model_copy(update={"trusted_producer_keys_dir": tmp_path / "none"})

    async def publish(reason: str, topic_length: int) -> None:
        counter.cancel(reason)
        app.save(counter)
        await until(lambda: _topic_length(broker.bootstrap, topic_length))

    async with started_relay(app, settings) as relay:
        await until(lambda: relay.wait_published(4, timeout=0.1))
        # A copy of the first record (at-least-once): the topic holds four records.
        first = (await read_topic(broker.bootstrap, topics.REQUESTS))[0]
        await relay.producer.send_and_wait(  # type: ignore[union-attr]
            topics.REQUESTS, first.value, key=first.key, headers=list(first.headers), partition=0
        )
        async with trail_of(store, no_keys) as trail:  # no producer key pinned: all refused
            await trail.caught_up(10.0)
            assert (trail.read, trail.history(subject)) == (4, [])
        async with trail_of(store, settings) as trail:  # keys pinned since: read again
            await history_length(trail, subject, 3)
            assert trail.read == 4

        await publish("quatre", 5)
        async with trail_of(store, settings) as trail:
            await history_length(trail, subject, 4)
            assert trail.read == 1  # the new record only: the others were kept before

        # The broker forgets while no trail runs, and the relay refills it without the copy:
        # where the trail stopped now stands another record, so it reads from the start.
        broker.restart_empty()
        await publish("cinq", 5)
        async with trail_of(store, settings) as trail:
            await history_length(trail, subject, 5)
            assert trail.read == 5

        # Forgotten again, refilled with the same records: it resumes where it stopped.
        broker.restart_empty()
        await publish("six", 6)
        async with trail_of(store, settings) as trail:
            await history_length(trail, subject, 6)
            assert trail.read == 1
    reasons = [entry["data"]["reason"] for entry in trail.history(subject)]
    assert reasons == ["un", "deux", "trois", "quatre", "cinq", "six"]
