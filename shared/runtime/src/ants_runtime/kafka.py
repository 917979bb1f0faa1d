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
    finally:
        await admin.close()


async def topic_is_empty(settings: ServiceSettings, topic: str) -> bool:
    """True when the topic holds no record at all (e.g. the broker lost its memory)."""
    consumer = AIOKafkaConsumer(**connection_options(settings), enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(settings.kafka_topic_partitions)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        for _ in range(3):
            batch = await consumer.getmany(timeout_ms=500, max_records=1)
            if any(batch.values()):
                return False
            await asyncio.sleep(0)
        return True
    finally:
        await consumer.stop()
