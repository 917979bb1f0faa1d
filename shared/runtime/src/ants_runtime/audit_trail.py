"""A dossier's whole history across services, kept from the topics alone (a read model).

It reads every service topic and the checkpoint topic from the start, as an outside agency
would, and keeps each record exactly as published (headers, key, value) and every service's
log leaves and signed checkpoints. From these it answers the history of a subject in causal
order, and an export bundle in which each event carries its inclusion proof in its
producer's signed log (format: docs/audit-bundle.md). Nothing here reads another service's
database: it trusts only signatures. A record is kept only when the pinned key of the service
that produces its topic verifies its producer signature (`ants_events.signatures`), so a
record produced by hand is never part of a history; a checkpoint must also be signed by the
key its service signed its first checkpoint with.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition

from ants_events import topics
from ants_events.checkpoints import CheckpointSignedV1
from ants_events.cloudevents import PROVENANCE_HEADERS
from ants_events.signatures import UntrustedRecord
from ants_events.ledger import (
    COVERED_HEADERS,
    Checkpoint,
    canonical,
    checkpoint_valid,
    inclusion_proof,
    leaf_data,
    leaf_hash,
    record_digest,
)
from ants_runtime.kafka import connection_options, fetch_ends, records_in_place
from ants_runtime.settings import ServiceSettings
from ants_runtime.signing import trusted_producers
from ants_runtime.store import run_in_store

log = structlog.get_logger(__name__)

BUNDLE_FORMAT = "ants-audit-bundle/1"


class AuditTrail:
    """Runs beside a service (`ServiceRuntime.also_run`), in that service's database."""

    def __init__(self, datastore: Any, settings: ServiceSettings) -> None:
        self.datastore = datastore
        self.settings = settings
        self.sqlite = type(datastore).__module__.endswith("sqlite")
        self.p = "?" if self.sqlite else "%s"
        self.problem: str | None = None
        self.positions: dict[TopicPartition, int] = {}
        self.trusted = trusted_producers(settings)
        # Which producer keys this trail believes: records it refused under other keys (one
        # not pinned yet) are read again when they change.
        self.trusted_keys = hashlib.sha256(" ".join(sorted(
            f"{service}:{key_id}" for service, keys in self.trusted.keys.items() for key_id in keys
        )).encode()).hexdigest()[:16]
        self._progress = asyncio.Event()
        self.stopping = asyncio.Event()
        self._create_tables()

    def _create_tables(self) -> None:
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(
                "CREATE TABLE IF NOT EXISTS audit_records (event_id TEXT PRIMARY KEY, "
                "service TEXT NOT NULL, subject TEXT NOT NULL, position BIGINT NOT NULL, "
                "ce_time TEXT NOT NULL, headers TEXT NOT NULL, record_key TEXT NOT NULL, "
                "value TEXT NOT NULL)"
            )
            cursor.execute(
                "CREATE INDEX IF NOT EXISTS audit_records_subject ON audit_records (subject)"
            )
            cursor.execute(
                "CREATE TABLE IF NOT EXISTS audit_leaves (service TEXT NOT NULL, "
                "leaf_index BIGINT NOT NULL, position BIGINT NOT NULL, event_digest TEXT NOT NULL, "
                "record_digest TEXT, PRIMARY KEY (service, leaf_index))"
            )
            cursor.execute(
                "CREATE TABLE IF NOT EXISTS audit_checkpoints (service TEXT NOT NULL, "
                "tree_size BIGINT NOT NULL, root_hash TEXT NOT NULL, signed_at TEXT NOT NULL, "
                "key_id TEXT NOT NULL, signature TEXT NOT NULL, public_key TEXT NOT NULL, "
                "PRIMARY KEY (service, tree_size))"
            )
            # Where the trail stopped reading each partition, saved with what it kept there
            # and the producer keys it trusted then: a restart with the same keys resumes from
            # it instead of reading and verifying every topic again.
            cursor.execute(
                "CREATE TABLE IF NOT EXISTS audit_positions (topic TEXT NOT NULL, "
                "topic_partition INTEGER NOT NULL, next_offset BIGINT NOT NULL, "
                "last_id TEXT NOT NULL, trusted_keys TEXT NOT NULL, "
                "PRIMARY KEY (topic, topic_partition))"
            )

    # --- reading the topics -----------------------------------------------------------------

    @property
    def partitions(self) -> list[TopicPartition]:
        count = self.settings.kafka_topic_partitions
        return [TopicPartition(t, p) for t in topics.ALL for p in range(count)]

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        task = asyncio.create_task(self.run(), name="audit-trail")
        try:
            yield
        finally:
            self.stopping.set()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def run(self) -> None:
        while not self.stopping.is_set():
            try:
                await self._consume()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001 - keep reading whatever happens
                self.problem = f"audit trail cannot read the topics: {error!r}"[:300]
                log.exception("audit_trail.failed")
                await asyncio.sleep(1.0)

    async def _consume(self) -> None:
        consumer = AIOKafkaConsumer(
            **connection_options(self.settings), enable_auto_commit=False,
            auto_offset_reset="earliest", fetch_max_wait_ms=self.settings.kafka_fetch_max_wait_ms,
            max_partition_fetch_bytes=8 * 1024 * 1024,
        )
        await consumer.start()
        try:
            consumer.assign(self.partitions)
            self.positions = await self._resume(consumer)
            while not self.stopping.is_set():
                # Batches of 250: each is verified on the loop (about 80 us a record).
                batches = await consumer.getmany(timeout_ms=500, max_records=250)
                for tp, records in batches.items():
                    await run_in_store(self.datastore, self.keep, records)
                    self.positions[tp] = records[-1].offset + 1
                for tp in self.partitions:
                    end = consumer.highwater(tp)
                    if end is not None and end < self.positions[tp]:
                        # The embedded broker forgot the topic: the producers publish it again.
                        await consumer.seek_to_beginning(tp)
                        self.positions[tp] = 0
                self._progress.set()
                self._progress = asyncio.Event()
        finally:
            await consumer.stop()

    async def caught_up(self, timeout: float) -> bool:
        """Whether everything published before this call has been read, waiting for it."""
        deadline = time.monotonic() + timeout
        try:
            ends = await asyncio.wait_for(
                fetch_ends(self.settings, {tp: self.positions.get(tp, 0) for tp in self.partitions}),
                timeout,
            )
        except Exception:  # noqa: BLE001 - the broker cannot tell: answer with what we have
            return False
        while any(self.positions.get(tp, 0) < end for tp, end in ends.items()):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._progress.wait(), remaining)
        return True

    async def _resume(self, consumer: AIOKafkaConsumer) -> dict[TopicPartition, int]:
        """Seek each partition where the trail stopped, if it trusted the same producer keys
        then and the record it kept last is still there; from the start otherwise (kept
        records are kept once whatever is read again)."""
        saved = await run_in_store(self.datastore, self.saved_positions)
        expected = {}
        for tp in self.partitions:
            offset, last_id, keys = saved.get(tp, (0, "", ""))
            if offset > 0 and keys == self.trusted_keys:
                expected[tp] = (offset - 1, last_id.encode() or None)
        try:
            in_place = await records_in_place(self.settings, expected)
        except Exception:  # noqa: BLE001 - from the start: slower, never wrong
            log.warning("audit_trail.positions_unchecked", exc_info=True)
            in_place = set()
        positions = {}
        for tp in self.partitions:
            if tp in in_place:
                positions[tp] = saved[tp][0]
                consumer.seek(tp, positions[tp])
            else:
                positions[tp] = 0
                await consumer.seek_to_beginning(tp)
        return positions

    def saved_positions(self) -> dict[TopicPartition, tuple[int, str, str]]:
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(
                "SELECT topic, topic_partition, next_offset, last_id, trusted_keys FROM audit_positions"
            )
            return {
                TopicPartition(_col(row, 0, "topic"), int(_col(row, 1, "topic_partition"))):
                (int(_col(row, 2, "next_offset")), str(_col(row, 3, "last_id")),
                 str(_col(row, 4, "trusted_keys")))
                for row in cursor.fetchall()
            }

    def keep(self, records: list[Any]) -> None:
        """Keep a batch of records of one partition, and where the trail is in it."""
        p = self.p
        with self.datastore.transaction(commit=True) as cursor:
            last = records[-1]
            cursor.execute(
                f"INSERT INTO audit_positions VALUES ({p}, {p}, {p}, {p}, {p}) "
                "ON CONFLICT (topic, topic_partition) DO UPDATE SET next_offset = "
                "excluded.next_offset, last_id = excluded.last_id, trusted_keys = excluded.trusted_keys",
                [last.topic, last.partition, last.offset + 1,
                 dict(last.headers or []).get("ce_id", b"").decode(errors="replace"),
                 self.trusted_keys],
            )
            for record in records:
                headers = {k: v.decode(errors="replace") for k, v in record.headers or []}
                try:
                    producer = self.trusted.verify(record.topic, headers, record.key, record.value)
                except UntrustedRecord as error:
                    log.warning("audit_trail.untrusted_record", topic=record.topic,
                                offset=record.offset, reason=str(error))
                    continue
                if record.topic == topics.CHECKPOINTS:
                    self._keep_checkpoint(cursor, producer, record.value)
                    continue
                if "ce_id" not in headers or "ce_source" not in headers:
                    continue  # not a CloudEvent: the producer's consumers dead-letter it
                cursor.execute(
                    f"INSERT INTO audit_records VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}) "
                    "ON CONFLICT (event_id) DO NOTHING",
                    [headers["ce_id"], headers["ce_source"].rsplit("/", 1)[-1],
                     headers.get("ce_subject", ""), int(headers.get("ce_sequence", "0") or 0),
                     headers.get("ce_time", ""), json.dumps(headers),
                     (record.key or b"").decode(errors="replace"),
                     (record.value or b"").decode(errors="replace")],
                )

    def _keep_checkpoint(self, cursor: Any, producer: str, value: bytes) -> None:
        p = self.p
        try:
            message = CheckpointSignedV1.model_validate_json(value)
        except ValueError:
            log.warning("audit_trail.checkpoint_unreadable")
            return
        if message.service != producer:
            log.warning("audit_trail.checkpoint_of_another", producer=producer)
            return
        pinned = self._pinned_key(cursor, message.service)
        if pinned is not None and pinned != message.public_key:
            self.problem = f"a checkpoint of {message.service} is signed by an unknown key"
            log.warning("audit_trail.checkpoint_foreign_key", service=message.service)
            return
        if not checkpoint_valid(message.checkpoint(), message.public_key):
            log.warning("audit_trail.checkpoint_bad_signature", service=message.service)
            return
        cursor.executemany(
            f"INSERT INTO audit_leaves VALUES ({p}, {p}, {p}, {p}, {p}) "
            "ON CONFLICT (service, leaf_index) DO NOTHING",
            [(message.service, message.first_index + i, leaf.position, leaf.event, leaf.record)
             for i, leaf in enumerate(message.leaves)],
        )
        cursor.execute(
            f"INSERT INTO audit_checkpoints VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p}) "
            "ON CONFLICT (service, tree_size) DO NOTHING",
            [message.service, message.tree_size, message.root_hash, message.signed_at,
             message.key_id, message.signature, message.public_key],
        )

    def _pinned_key(self, cursor: Any, service: str) -> str | None:
        cursor.execute(
            f"SELECT public_key FROM audit_checkpoints WHERE service = {self.p} "
            "ORDER BY tree_size LIMIT 1", [service],
        )
        row = cursor.fetchone()
        return _col(row, 0, "public_key") if row else None

    # --- answering ----------------------------------------------------------------------------

    def records(self, subject: str) -> list[dict[str, Any]]:
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(
                "SELECT event_id, service, position, ce_time, headers, record_key, value "
                f"FROM audit_records WHERE subject = {self.p}", [subject],
            )
            rows = cursor.fetchall()
        names = ("event_id", "service", "position", "ce_time", "headers", "record_key", "value")
        found = [{n: _col(r, i, n) for i, n in enumerate(names)} for r in rows]
        for row in found:
            row["headers"] = json.loads(row["headers"])
        return causal_order(found)

    def correlation_of(self, event_id: str, depth: int = 10) -> str | None:
        """The correlation id of the request at the origin of a chain of reactions."""
        for _ in range(depth):
            with self.datastore.transaction(commit=False) as cursor:
                cursor.execute(f"SELECT headers FROM audit_records WHERE event_id = {self.p}", [event_id])
                row = cursor.fetchone()
            if row is None:
                return None
            headers = json.loads(_col(row, 0, "headers"))
            if headers.get("ce_correlationid"):
                return str(headers["ce_correlationid"])
            if not headers.get("ce_causationid"):
                return None
            event_id = headers["ce_causationid"]
        return None

    def history(self, subject: str) -> list[dict[str, Any]]:
        return [self.entry(row) for row in self.records(subject)]

    def entry(self, row: dict[str, Any]) -> dict[str, Any]:
        headers = row["headers"]
        ce_type = headers.get("ce_type", "")
        type_name, _, version = ce_type.rpartition(".")  # fr.ants.<service>.<Type>.v<N>
        type_name = type_name.rpartition(".")[2]
        provenance = {name: headers.get(header) for name, header in PROVENANCE_HEADERS.items()}
        correlation = provenance["correlation_id"]
        if not correlation and provenance["causation_id"]:
            correlation = self.correlation_of(provenance["causation_id"])
        return {
            "service": row["service"],
            "type": type_name,
            "version": int(version.lstrip("v") or 0),
            "position": row["position"],
            "at": row["ce_time"],
            "event_id": row["event_id"],
            "actor": actor_of(provenance.get("actor"), provenance.get("actor_role")),
            "correlation_id": correlation,
            "causation_id": provenance["causation_id"],
            "data": json.loads(row["value"]),
        }

    # --- export ---------------------------------------------------------------------------------

    def latest_checkpoints(self) -> dict[str, tuple[Checkpoint, str]]:
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(
                "SELECT service, tree_size, root_hash, signed_at, key_id, signature, public_key "
                "FROM audit_checkpoints ORDER BY service, tree_size"
            )
            rows = cursor.fetchall()
        latest: dict[str, tuple[Checkpoint, str]] = {}
        names = ("service", "tree_size", "root_hash", "signed_at", "key_id", "signature", "public_key")
        for row in rows:
            r = {n: _col(row, i, n) for i, n in enumerate(names)}
            latest[r["service"]] = (Checkpoint.from_dict(r), r["public_key"])
        return latest

    def leaves(self, service: str, size: int) -> list[tuple[int, str, str | None]]:
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(
                "SELECT position, event_digest, record_digest FROM audit_leaves "
                f"WHERE service = {self.p} AND leaf_index < {self.p} ORDER BY leaf_index",
                [service, size],
            )
            rows = cursor.fetchall()
        return [(int(_col(r, 0, "position")), _col(r, 1, "event_digest"), _col(r, 2, "record_digest"))
                for r in rows]

    def uncovered(self, subject: str) -> int:
        """How many of the subject's events no checkpoint read so far covers."""
        latest = self.latest_checkpoints()
        covered = {s: {p for p, _, _ in self.leaves(s, c.tree_size)} for s, (c, _) in latest.items()}
        return sum(
            1 for r in self.records(subject) if r["position"] not in covered.get(r["service"], set())
        )

    def bundle(self, subject: str, signer: Any, exporter: str) -> dict[str, Any]:
        """The subject's events, each with its record and its inclusion proof, the checkpoints
        they are proved against and their keys; signed by the exporter (docs/audit-bundle.md)."""
        latest = self.latest_checkpoints()
        trees: dict[str, tuple[list[bytes], dict[int, tuple[int, str]]]] = {}
        for service, (checkpoint, _) in latest.items():
            entries = self.leaves(service, checkpoint.tree_size)
            hashes = [leaf_hash(leaf_data(p, e, r)) for p, e, r in entries]
            trees[service] = (hashes, {p: (i, e) for i, (p, e, _) in enumerate(entries)})
        events = []
        for row in self.records(subject):
            entry = self.entry(row)
            covered = {k: v for k, v in row["headers"].items() if k in COVERED_HEADERS}
            entry["record"] = {"headers": covered, "key": row["record_key"], "value": row["value"]}
            tree = trees.get(row["service"])
            found = tree[1].get(row["position"]) if tree else None
            if tree is not None and found is not None:
                index, digest = found
                entry["proof"] = {
                    "leaf_index": index,
                    "tree_size": len(tree[0]),
                    "event_digest": digest,
                    "path": [h.hex() for h in inclusion_proof(tree[0], index)],
                }
            else:
                entry["proof"] = None  # published after the latest checkpoint read
            events.append(entry)
        services = sorted({e["service"] for e in events})
        checkpoints = {s: latest[s][0].as_dict() for s in services if s in latest}
        manifest = {
            "format": BUNDLE_FORMAT,
            "dossier_id": subject,
            "exported_at": datetime.now(UTC).isoformat(),
            "exporter": exporter,
            "key_id": signer.key_id,
            "events": [
                [e["service"], e["position"], record_digest(
                    e["record"]["headers"], e["record"]["key"], e["record"]["value"])]
                for e in events
            ],
            "checkpoints": [[s, c["tree_size"], c["root_hash"]] for s, c in checkpoints.items()],
        }
        public_keys = {s: latest[s][1] for s in services if s in latest}
        public_keys[exporter] = signer.public_key
        return {
            "format": BUNDLE_FORMAT,
            "dossier_id": subject,
            "events": events,
            "checkpoints": checkpoints,
            "public_keys": public_keys,
            "manifest": manifest,
            "manifest_signature": base64.b64encode(signer.sign_bytes(canonical(manifest))).decode(),
        }


def actor_of(actor: str | None, role: str | None) -> dict[str, Any] | None:
    if not actor:
        return None
    kind, _, name = actor.partition(":")
    if kind == "account":
        return {"account_id": name, "roles": [r for r in (role or "").split(",") if r]}
    return {"service": name}


def causal_order(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """By time, each event after the event it reacts to (clocks of services may differ)."""
    ordered = sorted(rows, key=lambda r: (r["ce_time"], r["service"], r["position"]))
    placed: list[dict[str, Any]] = []
    ids: set[str] = set()
    waiting: dict[str, list[dict[str, Any]]] = {}
    known = {r["event_id"] for r in rows}

    def place(row: dict[str, Any]) -> None:
        placed.append(row)
        ids.add(row["event_id"])
        for follower in waiting.pop(row["event_id"], []):
            place(follower)

    for row in ordered:
        cause = row["headers"].get("ce_causationid")
        if cause and cause in known and cause not in ids:
            waiting.setdefault(cause, []).append(row)
        else:
            place(row)
    for followers in waiting.values():
        placed.extend(followers)
    return placed


def _col(row: Any, index: int, name: str) -> Any:
    if isinstance(row, dict):
        return row[name]
    return row[index]
