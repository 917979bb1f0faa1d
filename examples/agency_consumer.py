"""An administration's consumer of the duplicata event topics (see docs/agencies.md).

It reads every service topic and the checkpoint topic from the start, as an outside agency
would, and for each record:
1. checks the producer's signature with the public keys it pinned (`<service>.pem` files),
   and refuses what does not verify (an agency would park it in its own dead-letter store);
2. parses it with the official CloudEvents SDK (Kafka binding, binary mode);
3. drops a duplicate by its `ce_id` (delivery is at least once);
4. prints the dossier's progress.
It also checks every checkpoint (signed by the pinned key, and the Merkle root of all the
leaves received so far) and says how many records a verified checkpoint covers.

    python examples/agency_consumer.py --bootstrap 127.0.0.1:9092 --keys var/keys/producers

Only the CloudEvents SDK, aiokafka and cryptography are needed: nothing of the services'
code, so that it shows what another administration has to write.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from cloudevents.core.bindings.kafka import KafkaMessage, from_binary
from cloudevents.core.formats.json import JSONFormat
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

SERVICE_TOPICS = {
    "ants.identity.v1": "identity", "ants.requests.v1": "requests", "ants.cert.v1": "cert",
    "ants.payment.v1": "payment", "ants.documents.v1": "documents",
}
CHECKPOINTS = "ants.checkpoints.v1"
# What each event says of a dossier's progress (the type name, without its version).
PROGRESS = {
    "RequestStarted": "request started",
    "RequestSubmitted": "declarations signed",
    "TheftDeclarationRequested": "on hold: police theft declaration needed",
    "DocumentsRequested": "on hold: supporting documents needed",
    "DeclarationUploaded": "document sent",
    "AttachmentRejected": "document rejected by the CERT",
    "AttachmentAccepted": "document accepted by the CERT",
    "MessagePosted": "message",
    "RequestReadyForPayment": "ready for payment",
    "PaymentRecorded": "paid",
    "CertificateIssued": "provisional certificate issued",
    "RequestCompleted": "completed",
    "RequestCancelled": "cancelled",
    "CertificateProductionStarted": "completed, definitive certificate in production",
    "CertificateDispatched": "completed, definitive certificate sent",
}
# The headers a checkpoint's record digest covers (docs/audit-bundle.md).
COVERED_HEADERS = (
    "ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time", "ce_subject", "ce_sequence",
    "ce_actor", "ce_actorrole", "ce_correlationid", "ce_causationid", "content-type",
)


def canonical(document: Any) -> bytes:
    """JSON with keys sorted, no spaces, ASCII only: what digests and signatures cover."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


# --- signatures -----------------------------------------------------------------------------


class Untrusted(Exception):
    pass


class PinnedKeys:
    """The producers' public keys, read once from a folder of `<service>.pem` files (and
    `<service>.<label>.pem`: two keys of a service while the operator replaces one)."""

    def __init__(self, folder: Path) -> None:
        self.keys: dict[str, dict[str, Ed25519PublicKey]] = defaultdict(dict)  # by key id
        for path in sorted(folder.glob("*.pem")):
            key = serialization.load_pem_public_key(path.read_bytes())
            if isinstance(key, Ed25519PublicKey):
                raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
                self.keys[path.name.split(".", 1)[0]][hashlib.sha256(raw).hexdigest()[:16]] = key
        if not self.keys:
            raise SystemExit(f"no <service>.pem public key in {folder}")

    def verify_record(self, topic: str, headers: dict[str, str], key: bytes, value: bytes) -> str:
        """The producing service, once its pinned key verified the record."""
        source = headers.get("ce_source", "")
        service = source.removeprefix("/ants/")
        if topic not in (CHECKPOINTS, f"ants.{service}.v1") or service not in self.keys:
            raise Untrusted(f"{source!r} may not publish on {topic}")
        signed = {
            name: text for name, text in headers.items()
            if (name.startswith("ce_") and name != "ce_signature") or name == "content-type"
        }
        statement = canonical({
            "headers": signed, "key": key.decode(),
            "value_sha256": hashlib.sha256(value).hexdigest(),
        })
        self._verify(service, headers.get("ce_signingkeyid", ""), headers.get("ce_signature", ""),
                     statement)
        return service

    def verify_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        statement = canonical({
            "format": "ants-checkpoint/1", "key_id": checkpoint["key_id"],
            "root_hash": checkpoint["root_hash"], "service": checkpoint["service"],
            "signed_at": checkpoint["signed_at"], "tree_size": checkpoint["tree_size"],
        })
        self._verify(checkpoint["service"], checkpoint["key_id"], checkpoint["signature"], statement)

    def _verify(self, service: str, key_id: str, signature: str, statement: bytes) -> None:
        public_key = self.keys.get(service, {}).get(key_id)
        if public_key is None:
            raise Untrusted(f"not signed with a pinned key of {service}")
        try:
            public_key.verify(base64.b64decode(signature, validate=True), statement)
        except (InvalidSignature, ValueError) as error:
            raise Untrusted(f"bad signature for {service}") from error


# --- the services' logs, as the checkpoint topic copies them (RFC 9162 Merkle trees) --------


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


@dataclass
class ServiceLog:
    """What a service's checkpoints told so far: the roots of the perfect subtrees its log
    splits into (largest first), enough to extend it and give its RFC 9162 root."""

    size: int = 0
    frontier: list[tuple[int, bytes]] = field(default_factory=list)  # (height, hash)
    record_digests: set[str] = field(default_factory=set)

    # Checkpoints whose leaves start past what was received (read before the ones that
    # precede them, as after a broker that lost its topics and had them published again).
    waiting: dict[int, dict[str, Any]] = field(default_factory=dict)

    def add(self, checkpoint: dict[str, Any]) -> int:
        """How many checkpoints this one lets verify (0 while it waits for earlier leaves)."""
        if checkpoint["tree_size"] <= self.size:
            return 0  # a checkpoint delivered again
        if checkpoint["first_index"] > self.size:
            self.waiting[checkpoint["first_index"]] = checkpoint
            return 0
        self._extend(checkpoint)
        verified = 1
        while (following := self.waiting.pop(self.size, None)) is not None:
            self._extend(following)
            verified += 1
        return verified

    def _extend(self, checkpoint: dict[str, Any]) -> None:
        if checkpoint["first_index"] != self.size:
            raise Untrusted(f"checkpoint leaves start at {checkpoint['first_index']}, "
                            f"{self.size} received so far")
        if checkpoint["first_index"] + len(checkpoint["leaves"]) != checkpoint["tree_size"]:
            raise Untrusted("checkpoint leaves do not add up to its size")
        frontier = list(self.frontier)
        for leaf in checkpoint["leaves"]:
            data = canonical({"event": leaf["event"], "position": leaf["position"],
                              "record": leaf["record"]})
            frontier.append((0, hashlib.sha256(b"\x00" + data).digest()))
            while len(frontier) > 1 and frontier[-1][0] == frontier[-2][0]:
                (height, right), (_, left) = frontier.pop(), frontier.pop()
                frontier.append((height + 1, node_hash(left, right)))
        root = frontier[-1][1] if frontier else hashlib.sha256(b"").digest()
        for _, node in reversed(frontier[:-1]):
            root = node_hash(node, root)
        if root.hex() != checkpoint["root_hash"]:
            raise Untrusted(f"{checkpoint['service']} log does not hash to its signed root")
        self.size, self.frontier = checkpoint["tree_size"], frontier
        self.record_digests.update(leaf["record"] for leaf in checkpoint["leaves"] if leaf["record"])


def record_digest(headers: dict[str, str], key: bytes, value: bytes) -> str:
    covered = {name: headers[name] for name in COVERED_HEADERS if name in headers}
    return hashlib.sha256(canonical(
        {"headers": covered, "key": key.decode(), "value": value.decode()}
    )).hexdigest()


# --- the consumer ---------------------------------------------------------------------------


@dataclass
class Agency:
    keys: PinnedKeys
    quiet: bool = False
    seen: set[str] = field(default_factory=set)  # ce_id of every event processed
    dossiers: dict[str, list[tuple[str, str]]] = field(default_factory=lambda: defaultdict(list))
    logs: dict[str, ServiceLog] = field(default_factory=lambda: defaultdict(ServiceLog))
    digests: dict[str, str] = field(default_factory=dict)  # ce_id -> record digest
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def handle(self, topic: str, headers: dict[str, str], key: bytes, value: bytes) -> None:
        try:
            service = self.keys.verify_record(topic, headers, key, value)
        except Untrusted as why:
            self.counts["refused"] += 1
            print(f"REFUSED {topic} {headers.get('ce_type', '?')}: {why}", file=sys.stderr)
            return
        message = KafkaMessage(
            headers={k: v.encode() for k, v in headers.items()}, key=key, value=value
        )
        event = from_binary(message, JSONFormat())
        if event.get_id() in self.seen:
            self.counts["duplicates"] += 1
            return
        self.seen.add(event.get_id())
        self.counts["events"] += 1
        if topic == CHECKPOINTS:
            data = event.get_data()
            assert isinstance(data, dict), "a checkpoint is a JSON object (its schema says so)"
            self.checkpoint(data)
            return
        self.digests[event.get_id()] = record_digest(headers, key, value)
        type_name, _, version = event.get_type().removeprefix(f"fr.ants.{service}.").rpartition(".")
        if service == "identity":
            return  # accounts, not dossiers
        step = PROGRESS.get(type_name, type_name)
        dossier = event.get_subject() or key.decode()
        self.dossiers[dossier].append((str(event.get_time()), step))
        if not self.quiet:
            print(f"{event.get_time():%Y-%m-%d %H:%M:%S}  dossier {dossier}  "
                  f"{service:<9} {type_name} {version:<3} -> {step}")

    def checkpoint(self, data: dict[str, Any]) -> None:
        try:
            self.keys.verify_checkpoint(data)
            self.counts["checkpoints"] += self.logs[data["service"]].add(data)
        except Untrusted as why:
            self.counts["refused checkpoints"] += 1
            print(f"REFUSED checkpoint: {why}", file=sys.stderr)

    def summary(self) -> str:
        covered_digests = set().union(*(log.record_digests for log in self.logs.values()))
        covered = sum(1 for d in self.digests.values() if d in covered_digests)
        waiting = sum(len(log.waiting) for log in self.logs.values())
        lines = [f"{len(self.dossiers)} dossiers:"]
        for dossier, steps in sorted(self.dossiers.items(), key=lambda item: min(item[1])):
            lines.append(f"  {dossier}  {sorted(steps)[-1][1]}  ({len(steps)} events)")
        lines.append(
            f"{self.counts['events']} events verified, {self.counts['duplicates']} duplicates "
            f"dropped, {self.counts['refused']} records refused; {self.counts['checkpoints']} "
            f"checkpoints verified ({self.counts['refused checkpoints']} refused, {waiting} "
            f"waiting for earlier leaves), covering "
            f"{covered} of {len(self.digests)} service records"
        )
        return "\n".join(lines)


async def consume(args: argparse.Namespace, agency: Agency) -> None:
    consumer = AIOKafkaConsumer(bootstrap_servers=args.bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = []
        for topic in [*SERVICE_TOPICS, CHECKPOINTS]:
            found = consumer.partitions_for_topic(topic) or {0}
            partitions += [TopicPartition(topic, p) for p in sorted(found)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)  # replay: the topics hold every event
        idle_since = time.monotonic()
        while args.idle_exit <= 0 or time.monotonic() - idle_since < args.idle_exit:
            batches = await consumer.getmany(timeout_ms=500, max_records=1000)
            for records in batches.values():
                for r in records:
                    headers = {k: v.decode() for k, v in r.headers}
                    agency.handle(r.topic, headers, r.key or b"", r.value or b"")
            if batches:
                idle_since = time.monotonic()
    finally:
        await consumer.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", default="127.0.0.1:9092", help="Kafka bootstrap servers")
    parser.add_argument("--keys", type=Path, default=Path("var/keys/producers"),
                        help="folder of the producers' pinned public keys, <service>.pem")
    parser.add_argument("--idle-exit", type=float, default=0.0,
                        help="stop after this many seconds without a record (default: never)")
    parser.add_argument("--quiet", action="store_true", help="print the summary only")
    args = parser.parse_args()
    agency = Agency(PinnedKeys(args.keys), quiet=args.quiet)
    try:
        asyncio.run(consume(args, agency))
    except KeyboardInterrupt:
        pass
    print(agency.summary())


if __name__ == "__main__":
    main()
