"""Kafka connection settings and topic administration."""

from __future__ import annotations

import asyncio
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from ants_events import topics
from ants_runtime.settings import ServiceSettings

log = structlog.get_logger(__name__)


def connection_options(settings: ServiceSettings) -> dict[str, Any]:
    options: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap_servers,
        "security_protocol": settings.kafka_security_protocol,
    }
    if settings.kafka_security_protocol.startswith("SASL"):
        options |= {
            "sasl_mechanism": settings.kafka_sasl_mechanism,
            "sasl_plain_username": settings.kafka_sasl_username,
            "sasl_plain_password": settings.kafka_sasl_password,
        }
    if settings.kafka_security_protocol.endswith("SSL"):
        from aiokafka.helpers import create_ssl_context

        options["ssl_context"] = create_ssl_context()
    return options


def all_topics() -> list[str]:
    return [t for topic in topics.ALL for t in (topic, topics.dead_letter(topic))]


async def ensure_topics(settings: ServiceSettings, names: list[str] | None = None) -> None:
    """Create the topics explicitly (auto-creation would pick its own partition count)."""
    admin = AIOKafkaAdminClient(**connection_options(settings))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [n for n in (names or all_topics()) if n not in existing]
        for name in missing:
            try:
                await admin.create_topics(
                    [NewTopic(name, settings.kafka_topic_partitions, replication_factor=1)]
                )
            except TopicAlreadyExistsError:
                pass
        if missing:
            log.info("kafka.topics_created", topics=missing)
        keyed = [n for n in (names or all_topics()) if n in existing and not n.endswith(".dlq")]
        await _check_partitions(admin, settings, keyed)
    finally:
        await admin.close()


class PartitionCountMismatch(RuntimeError):
    """A topic exists with another partition count than the services use: the key-to-partition
    mapping would differ between producers and readers."""


async def _check_partitions(admin: AIOKafkaAdminClient, settings: ServiceSettings, names: list[str]) -> None:
    if not names:
        return
    described = await admin.describe_topics(names)
    wrong = {
        t["topic"]: len(t["partitions"]) for t in described
        if t.get("error_code", 0) == 0 and t.get("partitions")
        and len(t["partitions"]) != settings.kafka_topic_partitions
    }
    if wrong:
        found = ", ".join(f"{name} has {count}" for name, count in sorted(wrong.items()))
        raise PartitionCountMismatch(
            f"KAFKA_TOPIC_PARTITIONS is {settings.kafka_topic_partitions} but {found} partitions: "
            "set it to the topics' partition count (never change the count of an existing topic)"
        )


async def fetch_ends(
    settings: ServiceSettings, positions: dict[TopicPartition, int], timeout: float = 5.0
) -> dict[TopicPartition, int]:
    """The end of each partition as a fetch reports it (its high watermark), read by a new
    client so that no earlier answer is taken for a new one.

    Not ListOffsets: the embedded broker answers it with the base offset of the last batch
    plus one, which is below the real end whenever a batch holds several records. Each
    partition is fetched just before `positions[tp]`, where a record exists unless the
    broker forgot it, so the answer comes without waiting.
    """
    consumer = AIOKafkaConsumer(
        **connection_options(settings), enable_auto_commit=False, fetch_max_wait_ms=50
    )
    await consumer.start()
    try:
        consumer.assign(list(positions))
        for tp, position in positions.items():
            consumer.seek(tp, max(position - 1, 0))
        deadline = asyncio.get_running_loop().time() + timeout
        while any(consumer.highwater(tp) is None for tp in positions):
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError("no fetch answer from the broker")
            await consumer.getmany(timeout_ms=50, max_records=1)
        return {tp: int(consumer.highwater(tp)) for tp in positions}  # type: ignore[arg-type]
    finally:
        await consumer.stop()


async def records_in_place(
    settings: ServiceSettings, expected: dict[TopicPartition, tuple[int, bytes | None]]
) -> set[TopicPartition]:
    """The partitions whose record at the given offset still carries the given ce_id, read
    with a new client: where a reader that stopped there can resume. The embedded broker may
    have forgotten a topic and been refilled since, with other records at those offsets."""
    found: set[TopicPartition] = set()
    if not expected:
        return found
    probe = AIOKafkaConsumer(**connection_options(settings), enable_auto_commit=False)
    await probe.start()
    try:
        for tp, (offset, ce_id) in expected.items():
            probe.assign([tp])
            probe.seek(tp, offset)
            got = (await probe.getmany(tp, timeout_ms=2000, max_records=1)).get(tp, [])
            if got and got[0].offset == offset and dict(got[0].headers or []).get("ce_id") == ce_id:
                found.add(tp)
    finally:
        await probe.stop()
    return found
