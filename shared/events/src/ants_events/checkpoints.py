"""Checkpoints of the services' tamper-evident logs, published on a topic of their own.

Every service signs the root of its log (see `ants_events.ledger`) every few seconds while
events arrive and publishes it here, with the leaves added since its previous checkpoint: a
reader of this topic holds a copy of every service's log outside that service's database and
can check any published record, or the whole log, against it.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, ClassVar

from pydantic import BaseModel, ConfigDict

from ants_events import topics
from ants_events.base import IntegrationEvent
from ants_events.ledger import Checkpoint

if TYPE_CHECKING:
    from ants_events.cloudevents import KafkaRecord

CHECKPOINT_NAMESPACE = uuid.UUID("0b1e7f5c-55a3-4a8e-9c7e-3f1d2b6a9e41")


class LeafEntry(BaseModel):
    """One event of the log: its position (notification id) and its two digests."""

    model_config = ConfigDict(frozen=True)

    position: int
    event: str
    record: str | None = None


class CheckpointSignedV1(IntegrationEvent):
    """A service signed the root of its event log."""

    producer: ClassVar[str] = "checkpoints"
    type_name: ClassVar[str] = "CheckpointSigned"

    service: str
    tree_size: int
    root_hash: str
    signed_at: str
    key_id: str
    signature: str
    public_key: str  # Ed25519, raw 32 bytes, base64: pin it, compare its key_id
    first_index: int  # the index of leaves[0] in the log
    leaves: tuple[LeafEntry, ...]

    @property
    def subject(self) -> str:
        return self.service

    def checkpoint(self) -> Checkpoint:
        return Checkpoint(
            self.service, self.tree_size, self.root_hash, self.signed_at, self.key_id,
            self.signature,
        )


def checkpoint_event_id(service: str, tree_size: int, root_hash: str) -> uuid.UUID:
    return uuid.uuid5(CHECKPOINT_NAMESPACE, f"{service}:{tree_size}:{root_hash}")


def checkpoint_record(event: CheckpointSignedV1) -> KafkaRecord:
    """The Kafka record of a checkpoint: key and subject the signing service, source it."""
    from ants_events.cloudevents import CONTENT_TYPE, SPEC_VERSION, KafkaRecord

    return KafkaRecord(
        topic=topics.CHECKPOINTS,
        key=event.service.encode(),
        value=event.model_dump_json().encode(),
        headers={
            "ce_specversion": SPEC_VERSION,
            "ce_id": str(event.event_id),
            "ce_source": f"/ants/{event.service}",
            "ce_type": event.ce_type(),
            "ce_time": event.occurred_at.isoformat(),
            "ce_subject": event.service,
            "ce_sequence": str(event.tree_size),
            "content-type": CONTENT_TYPE,
        },
    )
