"""A realistic export bundle built offline by the real exporter (AuditTrail.bundle) from
records and checkpoints made here: four services' logs, other dossiers' events interleaved."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from eventsourcing.sqlite import SQLiteDatastore

from ants_events.checkpoints import CheckpointSignedV1, LeafEntry, checkpoint_event_id, checkpoint_record
from ants_events.ledger import leaf_data, leaf_hash, record_digest, tree_root
from ants_runtime.audit_trail import AuditTrail
from ants_runtime.checkpoints import LedgerSigner
from ants_runtime.settings import ServiceSettings

SERVICES = ("requests", "documents", "cert", "payment")


@dataclass
class FakeRecord:
    topic: str
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]
    offset: int = 0
    partition: int = 0


class ProducerNamedBySource:
    """Believes each record's `ce_source`: these bundles test the ledger's proofs; the
    records' signatures have their own tests (shared/events, test_forged_events)."""

    def verify(self, topic: str, headers: dict[str, str], key: bytes, value: bytes) -> str:
        return headers["ce_source"].rsplit("/", 1)[1]


def sample_bundle(directory: Path, events: int = 50, others_per_event: int = 3) -> dict[str, Any]:
    dossier = str(uuid.uuid4())
    signers = {s: LedgerSigner(directory / "keys" / f"{s}-ledger-private.pem") for s in SERVICES}
    leaves: dict[str, list[tuple[int, str, str | None]]] = {s: [] for s in SERVICES}
    records: list[FakeRecord] = []
    start = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    for n in range(events):
        service = SERVICES[n % len(SERVICES)]
        for _ in range(others_per_event):  # other dossiers' and private events in between
            leaves[service].append((len(leaves[service]) + 1, _digest(), None))
        position = len(leaves[service]) + 1
        headers = {
            "ce_specversion": "1.0", "ce_id": str(uuid.uuid4()), "ce_source": f"/ants/{service}",
            "ce_type": f"fr.ants.{service}.Step{n}.v1",
            "ce_time": (start + timedelta(seconds=n)).isoformat(), "ce_subject": dossier,
            "ce_sequence": str(position), "content-type": "application/json",
            "ce_actor": f"service:{service}", "ce_actorrole": "service",
            "ce_correlationid": uuid.uuid4().hex,
        }
        value = json.dumps({"dossier_id": dossier, "step": n, "note": f"étape {n}"})
        leaves[service].append((position, _digest(), record_digest(headers, dossier, value)))
        records.append(FakeRecord(f"ants.{service}.v1", dossier.encode(), value.encode(),
                                  [(k, v.encode()) for k, v in headers.items()]))
    for service, entries in leaves.items():
        root = tree_root([leaf_hash(leaf_data(*entry)) for entry in entries]).hex()
        signed = signers[service].sign(service, len(entries), root)
        message = CheckpointSignedV1(
            event_id=checkpoint_event_id(service, len(entries), root),
            occurred_at=datetime.fromisoformat(signed.signed_at), service=service,
            tree_size=len(entries), root_hash=root, signed_at=signed.signed_at,
            key_id=signed.key_id, signature=signed.signature,
            public_key=signers[service].public_key, first_index=0,
            leaves=tuple(LeafEntry(position=p, event=e, record=r) for p, e, r in entries),
        )
        record = checkpoint_record(message)
        records.append(FakeRecord(record.topic, record.key, record.value,
                                  [(k, v.encode()) for k, v in record.headers.items()]))
    datastore = SQLiteDatastore(str(directory / "trail.sqlite"))
    trail = AuditTrail(datastore, ServiceSettings(service_name="requests"))
    trail.trusted = ProducerNamedBySource()  # type: ignore[assignment]
    trail.keep(records)  # type: ignore[arg-type]
    return trail.bundle(dossier, signers["requests"], "requests")


def _digest() -> str:
    return hashlib.sha256(uuid.uuid4().bytes).hexdigest()
