"""A dossier's timeline with its state after each event: from the services' APIs, from the
Kafka topics alone (as an outside agency reads them), or both, compared."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from ants_events import topics
from ants_events.signatures import TrustedProducers, UntrustedRecord

# What a reader of the topics can know of a dossier, and compare with the requests service.
PAYABLE_OR_AFTER = {"ready_for_payment", "paid", "completed"}
COMPARED = ("status", "dossier_number", "reason", "person", "plate", "amount_due", "certificate_number")


@dataclass
class TopicRecord:
    topic: str
    headers: dict[str, str]
    value: dict[str, Any]

    @property
    def service(self) -> str:
        return self.headers.get("ce_source", "").rsplit("/", 1)[-1]

    @property
    def type(self) -> str:
        return self.headers.get("ce_type", "").rsplit(".", 2)[1]

    @property
    def event_id(self) -> str:
        return self.headers.get("ce_id", "")


@dataclass
class PublicState:
    """The dossier as its public events tell it."""

    values: dict[str, Any] = field(default_factory=dict)

    def apply(self, record: TopicRecord) -> None:
        data, status = record.value, self.values.get("status")
        match (record.service, record.type):
            case ("requests", "RequestStarted"):
                self.values.update(
                    status="draft", dossier_number=data["dossier_number"], reason=data["reason"],
                    person=data["person"], plate=data["vehicle"]["plate"],
                )
            case ("requests", "RequestSubmitted"):
                self.values["status"] = "draft" if data["next_step"] == "payment" else "awaiting_declaration"
            case ("requests", "TheftDeclarationRequested"):
                self.values["status"] = "awaiting_declaration"
            case ("requests", "RequestReadyForPayment"):
                self.values.update(status="ready_for_payment", amount_due=data["amount_due"]["total"])
            case ("requests", "RequestCompleted"):
                self.values.update(status="completed", certificate_number=data["certificate_number"])
            case ("requests", "RequestCancelled"):
                self.values["status"] = "cancelled"
            case ("documents", "DeclarationUploaded") if status == "awaiting_declaration":
                self.values["status"] = "under_review"
            case ("cert", "AttachmentRejected") if status == "under_review":
                self.values["status"] = "awaiting_declaration"
            case ("payment", "PaymentRecorded") if status == "ready_for_payment":
                self.values["status"] = "paid"

    def snapshot(self) -> dict[str, Any]:
        values = {k: self.values.get(k) for k in COMPARED}
        return {**values, "amount_due": amount_if_payable(values)}


def api_view(dossier: dict[str, Any]) -> dict[str, Any]:
    """The same fields, from the requests service's view of the dossier."""
    certificate = dossier.get("certificate") or {}
    return {
        "status": dossier.get("status"), "dossier_number": dossier.get("dossier_number"),
        "reason": dossier.get("reason"), "person": dossier.get("person"),
        "plate": dossier.get("plate"),
        "amount_due": (dossier.get("amount_due") or {}).get("total"),
        "certificate_number": certificate.get("certificate_number"),
    } | {"amount_due": amount_if_payable({
        "status": dossier.get("status"), "amount_due": (dossier.get("amount_due") or {}).get("total"),
    })}


def amount_if_payable(values: dict[str, Any]) -> Any:
    """The service shows the current fees before a dossier is payable: the amount is part of
    the dossier's state only once it became payable."""
    return values.get("amount_due") if values.get("status") in PAYABLE_OR_AFTER else None


SERVICE_TOPICS = tuple(name for name in topics.ALL if name != topics.CHECKPOINTS)


async def read_topics(
    bootstrap: str, subject: str, progress: Callable[[int, int], None] | None = None,
    names: tuple[str, ...] = SERVICE_TOPICS,
    trusted: TrustedProducers | None = None, refused: list[str] | None = None,
) -> list[TopicRecord]:
    """Every record about `subject` on the service topics, read from the start to the end
    each partition had when the scan began. With `trusted`, a record its producer's pinned
    key does not verify is left out (and its reason added to `refused`): a record produced
    by hand on a topic is no part of the dossier's history."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                fetch_max_wait_ms=100, max_partition_fetch_bytes=8 * 1024 * 1024)
    await consumer.start()
    try:
        await consumer.topics()  # loads the metadata: how many partitions each topic has
        partitions = [TopicPartition(t, p) for t in names for p in sorted(consumer.partitions_for_topic(t) or [])]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        # Each partition is read up to the end its fetches report (its high watermark): the
        # embedded broker's ListOffsets answer can be below what it holds.
        found: list[TopicRecord] = []
        scanned = 0
        done: set[TopicPartition] = set()
        deadline = asyncio.get_running_loop().time() + 120
        while len(done) < len(partitions) and asyncio.get_running_loop().time() < deadline:
            batches = await consumer.getmany(timeout_ms=200, max_records=5000)
            for records in batches.values():
                scanned += len(records)
                for r in records:
                    headers = {k: v.decode(errors="replace") for k, v in r.headers or []}
                    if headers.get("ce_subject") != subject:
                        continue
                    if trusted is not None:
                        try:
                            trusted.verify(r.topic, headers, r.key, r.value)
                        except UntrustedRecord as why:
                            (refused if refused is not None else []).append(
                                f"{r.topic}[{r.partition}]@{r.offset}: {why}"
                            )
                            continue
                    found.append(TopicRecord(r.topic, headers, json.loads(r.value)))
            ends = {tp: consumer.highwater(tp) for tp in partitions}
            for tp, end in ends.items():
                if end is not None and await consumer.position(tp) >= end:
                    done.add(tp)
            if progress is not None:
                progress(scanned, sum(e or 0 for e in ends.values()))
        return found
    finally:
        await consumer.stop()


def causal(records: list[TopicRecord]) -> list[TopicRecord]:
    """By time; an event never before the event it reacts to."""
    ordered = sorted(records, key=lambda r: (r.headers.get("ce_time", ""), r.service))
    placed: list[TopicRecord] = []
    seen: set[str] = set()
    ids = {r.event_id for r in records}
    pending = list(ordered)
    while pending:
        for record in pending:
            cause = record.headers.get("ce_causationid")
            if not cause or cause not in ids or cause in seen:
                placed.append(record)
                seen.add(record.event_id)
                pending.remove(record)
                break
        else:
            placed.extend(pending)
            break
    return placed


def topic_timeline(records: list[TopicRecord]) -> list[tuple[TopicRecord, dict[str, Any]]]:
    state = PublicState()
    timeline = []
    for record in causal(records):
        state.apply(record)
        timeline.append((record, state.snapshot()))
    return timeline


def compare(
    records: list[TopicRecord], history: list[dict[str, Any]], stream_versions: dict[str, int],
    state_at: Callable[[int], dict[str, Any]],
) -> list[tuple[int, str, dict[str, Any], dict[str, Any]]]:
    """For each version of the requests stream: apply the public events it is (its own
    published form) or it reacted to (its cause), then compare with the service's state at
    that version. Returns (version, type, from topics, from the API) rows."""
    by_id = {r.event_id: r for r in records}
    own = {version: by_id[event_id] for event_id, version in stream_versions.items() if event_id in by_id}
    state = PublicState()
    applied: set[str] = set()
    rows = []
    for event in history:
        version = event["version"]
        cause = ((event.get("data") or {}).get("_provenance") or {}).get("causation_id")
        for record in (by_id.get(cause or ""), own.get(version)):
            if record is not None and record.event_id not in applied:
                state.apply(record)
                applied.add(record.event_id)
        rows.append((version, event["type"], state.snapshot(), api_view(state_at(version))))
    return rows


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)
