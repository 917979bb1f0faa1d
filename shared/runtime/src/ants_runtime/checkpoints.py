"""Signed checkpoints of a service's ledger: signed every few seconds while events arrive,
kept in the store and published on the checkpoint topic with the leaves they add.

Each service signs with its own Ed25519 key (created under its data directory on first start;
production mounts it as a secret, `LEDGER_PRIVATE_KEY_FILE`). The published copies are what
make deleting the newest events detectable: a checkpoint outside the database still covers
them. Also the service's ledger endpoints: its latest checkpoint and a verification.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import Callable, AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog
from aiokafka import AIOKafkaProducer
from cryptography.hazmat.primitives import serialization
from litestar import get

from ants_events.checkpoints import (
    CheckpointSignedV1,
    LeafEntry,
    checkpoint_event_id,
    checkpoint_record,
)
from ants_events.ledger import Checkpoint, key_id
from ants_runtime.auth import Principal, ensure_keypair
from ants_runtime.http import error_responses, require_role
from ants_runtime.signing import producer_signer, public_key_file
from ants_runtime.kafka import connection_options
from ants_runtime.ledger import LedgerTables, verify_store
from ants_runtime.settings import ServiceSettings
from ants_runtime.store import ServiceApplication

log = structlog.get_logger(__name__)

# A checkpoint message carries the leaves it adds; past this many, several checkpoints are
# signed so that each message stays far below the broker's 1 MiB limit.
MAX_LEAVES_PER_CHECKPOINT = 4000
VERIFIERS = ("auditor", "operator")


class LedgerSigner:
    """The service's checkpoint key."""

    def __init__(self, private_key_file: Path) -> None:
        ensure_keypair(private_key_file, public_key_file(private_key_file))
        self._key: Any = serialization.load_pem_private_key(
            private_key_file.read_bytes(), password=None
        )
        raw = self._key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self.public_key = base64.b64encode(raw).decode()
        self.key_id = key_id(raw)

    def sign_bytes(self, statement: bytes) -> bytes:
        return self._key.sign(statement)

    def sign(self, service: str, tree_size: int, root_hash: str) -> Checkpoint:
        unsigned = Checkpoint(
            service, tree_size, root_hash, datetime.now(UTC).isoformat(), self.key_id
        )
        signature = base64.b64encode(self._key.sign(unsigned.statement())).decode()
        return Checkpoint(**{**unsigned.as_dict(), "signature": signature})


class Checkpointer:
    """Signs the ledger's new size every `interval` seconds and publishes what it signed."""

    batch = 100  # checkpoints published per turn

    def __init__(self, app: ServiceApplication, settings: ServiceSettings) -> None:
        assert app.ledger is not None
        self.app = app
        self.ledger: LedgerTables = app.ledger
        self.settings = settings
        self.service = settings.service_name
        self.interval = settings.ledger_checkpoint_seconds
        self.signer = LedgerSigner(settings.signing_key_file)
        self.record_signer = producer_signer(settings)
        self.problem: str | None = None
        self.producer: AIOKafkaProducer | None = None
        self.stopping = asyncio.Event()
        self._republish = False
        self.leading: Callable[[], bool] = lambda: True

    def republish(self) -> None:
        """The relay found that the broker forgot its topics (the embedded broker restarted, a
        topic was recreated): the checkpoint topic went with them."""
        self._republish = True

    # --- signing (synchronous: called through a thread) --------------------------------------

    def sign_new(self) -> list[Checkpoint]:
        """Sign the log's growth since the latest checkpoint, in steps of at most
        MAX_LEAVES_PER_CHECKPOINT leaves."""
        signed = []
        kept = self.ledger.checkpoints(latest=True)
        last = kept[-1].tree_size if kept else 0
        size = self.ledger.size()
        while last < size:
            step = min(size, last + MAX_LEAVES_PER_CHECKPOINT)
            root = self.ledger.root_at(step)
            if root is None:
                break
            checkpoint = self.signer.sign(self.service, step, root)
            self.ledger.keep_checkpoint(checkpoint)
            signed.append(checkpoint)
            last = step
        return signed

    def checkpoints(self) -> list[Checkpoint]:
        return [self._named(c) for c in self.ledger.checkpoints()]

    def _named(self, checkpoint: Checkpoint) -> Checkpoint:
        return Checkpoint(**{**checkpoint.as_dict(), "service": self.service})

    def messages(self) -> list[CheckpointSignedV1]:
        """The checkpoints not yet published, each with the leaves it adds."""
        messages = []
        for checkpoint in self.ledger.checkpoints(unpublished_only=True)[: self.batch]:
            previous = self.ledger.size_before(checkpoint.tree_size)
            leaves = self.ledger.leaves(previous, checkpoint.tree_size)
            messages.append(self.message(self._named(checkpoint), previous, leaves))
        return messages

    def message(
        self, checkpoint: Checkpoint, first_index: int, leaves: list[Any]
    ) -> CheckpointSignedV1:
        return CheckpointSignedV1(
            event_id=checkpoint_event_id(checkpoint.service, checkpoint.tree_size, checkpoint.root_hash),
            occurred_at=datetime.fromisoformat(checkpoint.signed_at),
            service=checkpoint.service, tree_size=checkpoint.tree_size,
            root_hash=checkpoint.root_hash, signed_at=checkpoint.signed_at,
            key_id=checkpoint.key_id, signature=checkpoint.signature,
            public_key=self.signer.public_key, first_index=first_index,
            leaves=tuple(LeafEntry(position=r[1], event=r[2], record=r[3]) for r in leaves),
        )

    # --- the loop ---------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        self.producer = AIOKafkaProducer(
            **connection_options(self.settings), acks="all", enable_idempotence=False,
            request_timeout_ms=10_000, max_request_size=4 * 1024 * 1024,
        )
        await self.producer.start()
        task = asyncio.create_task(self.run(), name="ledger-checkpoints")
        try:
            yield
        finally:
            self.stopping.set()
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(task, 10)
            await self.producer.stop()

    async def run(self) -> None:
        while not self.stopping.is_set():
            try:
                await self.tick()
                self.problem = None
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001 - keep signing whatever happens
                self.problem = f"checkpoints cannot be signed or published: {error!r}"[:300]
                log.exception("ledger.checkpoint_failed")
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), self.interval)

    async def tick(self) -> None:
        if not self.leading():
            return  # another replica of this service signs and publishes
        signed = await self.app.call(self.sign_new)
        if signed:
            log.debug("ledger.checkpoint_signed", tree_size=signed[-1].tree_size)
        if self._republish:  # the broker forgot: every checkpoint again, from the first
            self._republish = False
            await self.app.call(self.ledger.mark_published, [], False)
        await self.publish_pending()

    async def publish_pending(self) -> None:
        assert self.producer is not None
        for message in await self.app.call(self.messages):
            record = checkpoint_record(message)
            headers = self.record_signer.sign(record.headers, record.key, record.value)
            await self.producer.send_and_wait(
                record.topic, key=record.key, value=record.value,
                headers=[(k, v.encode()) for k, v in headers.items()], partition=0,
            )
            await self.app.call(self.ledger.mark_published, [message.tree_size])

    # --- verification -------------------------------------------------------------------------

    def verify(self) -> dict[str, Any]:
        checkpoints = self.checkpoints()
        problems = verify_store(
            self.app.recorder, self.ledger, checkpoints, self.signer.public_key,
            to_contract=self.app.public_view, mapper=self.app.mapper,
        )
        return {
            "service": self.service,
            "intact": not problems,
            "tree_size": self.ledger.size(),
            "checkpoints": len(checkpoints),
            "problems": [p.as_dict() for p in problems],
        }


def install_ledger(runtime: Any, to_contract: Any) -> list[Any]:
    """Wire the ledger into a service: the public form of each stored event (the ledger covers
    it; the relay publishes it with its provenance), the checkpointer, and its routes."""
    app: ServiceApplication = runtime.app
    app.public_contract = to_contract
    runtime.relay.to_contract = app.public_view
    if app.ledger is None:
        return []  # an in-memory store (unit tests): nothing to sign
    checkpointer = Checkpointer(app, runtime.settings)
    # One signer per store, the relay's, once it knows what the broker still holds: a new
    # checkpoint never goes out before the older ones that a forgetful broker lost.
    checkpointer.leading = lambda: runtime.relay.active and runtime.relay.settled
    runtime.relay.forgotten_listeners.append(checkpointer.republish)
    runtime.also_run(checkpointer)
    runtime.checkpointer = checkpointer

    @get("/ledger/checkpoint", tags=["audit"], summary="The latest signed checkpoint of this "
         "service's event log, and the key that signs it")
    async def latest_checkpoint() -> dict[str, Any]:
        kept = await checkpointer.app.call(checkpointer.ledger.checkpoints, latest=True)
        kept = [checkpointer._named(c) for c in kept]
        return {
            "service": checkpointer.service,
            "public_key": checkpointer.signer.public_key,
            "key_id": checkpointer.signer.key_id,
            "checkpoint": kept[-1].as_dict() if kept else None,
        }

    @get("/ledger/verify", tags=["audit"], summary="Check every stored event against the "
         "ledger and the signed checkpoints (auditor, operator)",
         responses=error_responses(401, 403))
    async def verify(principal: Principal) -> dict[str, Any]:
        require_role(principal, *VERIFIERS)
        return await asyncio.to_thread(checkpointer.verify)  # every stored event: off the loop

    return [latest_checkpoint, verify]
