"""The event-sourced application base: process inbound events with tracking, wake the relay."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import random
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, ParamSpec, TypeVar

from eventsourcing.application import Application, ProcessingEvent
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import IntegrityError, Mapper, ProcessRecorder, Tracking
from eventsourcing.sqlite import SQLiteDatastore

from ants_runtime import provenance
from ants_runtime.ledger import LedgerRecording, LedgerTables, ToContract, catch_up
from ants_runtime.tracing import TracedMapper

EVENT_ID_NAMESPACE = uuid.UUID("6f1b3c52-0a44-4c1e-9d1e-5d6f3b8f2a10")
SCHEMA_LOCK = 0x616E7473  # advisory lock key held while a process creates its tables


def event_id_of(domain_event: DomainEventProtocol[Any]) -> uuid.UUID:
    """A stable public id for a stored domain event: republishing it gives the same ce_id.

    The timestamp is part of it: a store restored from an older backup records new events at
    versions it had already used before the loss, and those must not pass for the lost ones.
    """
    # Every stored event has a timestamp; eventsourcing's protocol does not declare it.
    timestamp: datetime = domain_event.timestamp  # type: ignore[attr-defined]
    return uuid.uuid5(
        EVENT_ID_NAMESPACE,
        f"{domain_event.originator_id}:{domain_event.originator_version}:"
        f"{timestamp.isoformat()}",
    )


def aggregate_id(originator_id: uuid.UUID | str) -> uuid.UUID:
    """A notification's originator id as the UUID our aggregates use (eventsourcing's
    notifications may also carry text ids, which no service makes)."""
    return originator_id if isinstance(originator_id, uuid.UUID) else uuid.UUID(originator_id)


def stable_id(*parts: object) -> uuid.UUID:
    """A deterministic aggregate id, e.g. for an index keyed by a plate or an e-mail."""
    return uuid.uuid5(EVENT_ID_NAMESPACE, ":".join(str(p) for p in parts))


async def stop_gracefully(task: asyncio.Task[Any], stopping: asyncio.Event, grace: float = 10.0) -> None:
    """Ask a loop to stop at its next safe point, then wait for it: cancelling it outright
    could leave a worker thread using the store while the store is being closed."""
    stopping.set()
    done, _ = await asyncio.wait({task}, timeout=grace)
    if not done:
        task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


P = ParamSpec("P")
R = TypeVar("R")


def retry_on_conflict(attempts: int = 8) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Rerun a load-change-save command when another writer saved the same aggregate first.

    Optimistic concurrency makes the second save fail with IntegrityError; running the whole
    command again reloads the aggregates and re-checks the rules on their new state.
    """

    def decorate(command: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(command)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            for attempt in range(1, attempts + 1):
                try:
                    return command(*args, **kwargs)
                except IntegrityError:
                    if attempt == attempts:
                        raise
                    time.sleep(random.uniform(0, 0.005 * attempt))
            raise AssertionError("unreachable")

        return run

    return decorate


SQLITE_SYNC_MODES = {"NORMAL", "FULL", "EXTRA"}  # OFF could corrupt the file on a power loss


def sync_commits(datastore: SQLiteDatastore, mode: str) -> None:
    """How SQLite commits reach the disk, on every connection the store opens.

    FULL (SQLite's default) flushes the write-ahead log to the disk at each commit: 0.3 ms
    of wall time and 0.1 ms of CPU here, dozens of times per dossier. NORMAL flushes it at
    checkpoints only: a commit survives the process being killed (the operating system
    holds it), and a power loss may take back the last transactions, as a restore from
    backup does (which the system is built to survive: see event_id_of)."""
    mode = mode.strip().upper()
    if mode not in SQLITE_SYNC_MODES:
        raise ValueError(f"SQLITE_SYNCHRONOUS must be one of {sorted(SQLITE_SYNC_MODES)}, not {mode!r}")
    pool = datastore.pool
    create = pool._create_connection

    def create_connection() -> Any:
        connection = create()
        connection._sqlite_conn.execute(f"PRAGMA synchronous={mode}")
        return connection

    pool._create_connection = create_connection  # type: ignore[method-assign]


async def run_in_store(
    datastore: Any, operation: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs
) -> R:
    """Run a store operation (a command, a query, a batch of inbound events) from the event
    loop. On an embedded store (SQLite; none: memory, in unit tests) it runs right here: it
    takes tens of microseconds, less than handing it to a worker thread and the GIL back and
    forth (measured: a third of the whole system's CPU per dossier). On PostgreSQL it runs on
    a worker thread: it waits on the network and on other replicas' locks, and the loop must
    go on serving meanwhile. Work that waits on something else or takes milliseconds (a
    password hash, a mail server, re-encoding an uploaded image, a whole audit bundle) uses
    `asyncio.to_thread` whatever the store."""
    if datastore is None or isinstance(datastore, SQLiteDatastore):
        result = operation(*args, **kwargs)
        await asyncio.sleep(0)  # a turn for the other tasks: loops of operations never starve them
        return result
    return await asyncio.to_thread(operation, *args, **kwargs)


class BatchTracking:
    """Recorder mixin: several tracking rows stored with the events, in their transaction
    (the library takes one; a consumer handling a batch of events records one each)."""

    def _insert_events(self, c: Any, stored_events: Any, **kwargs: Any) -> Any:
        returning = super()._insert_events(c, stored_events, **kwargs)  # type: ignore[misc]
        for tracking in kwargs.get("more_tracking", ()):
            self._insert_tracking(c, tracking)  # type: ignore[attr-defined]
        return returning


class MemoryBatchTracking:
    """The same for the in-memory recorder (unit tests)."""

    def _assert_uniqueness(self, stored_events: Any, **kwargs: Any) -> None:
        super()._assert_uniqueness(stored_events, **kwargs)  # type: ignore[misc]
        for tracking in kwargs.get("more_tracking", ()):
            self._assert_tracking_uniqueness(tracking)  # type: ignore[attr-defined]

    def _update_table(self, stored_events: Any, **kwargs: Any) -> Any:
        ids = super()._update_table(stored_events, **kwargs)  # type: ignore[misc]
        for tracking in kwargs.get("more_tracking", ()):
            self._insert_tracking(tracking)  # type: ignore[attr-defined]
        return ids


class ServiceApplication(Application[uuid.UUID]):
    """An Application whose recorder also stores tracking records of consumed events."""

    # Aggregates read lately stay in memory (eventsourcing's LRU cache) and are brought up to
    # date with the events stored after their cached version only ("fast-forward"): a dossier
    # read at every step is no longer replayed from its first event each time. Each read asks
    # the store for newer events, so the cache stays right with several replicas; a read gets
    # a copy, so a command that fails leaves the cached aggregate untouched.
    env = {"AGGREGATE_CACHE_MAXSIZE": "1000"}

    def __init__(self, env: dict[str, str] | None = None) -> None:
        self._startup_lock: Any = None
        self.public_contract: ToContract | None = None  # set by the runtime: see _record
        super().__init__(env)
        self._listeners: list[Callable[[int, set[uuid.UUID]], None]] = []
        self._type_listeners: list[Callable[[list[str]], None]] = []

    def construct_mapper(self) -> Mapper[uuid.UUID]:
        """Stored events keep the trace context they were stored under (see tracing.py)."""
        return self.factory.mapper(
            transcoder=self.construct_transcoder(), mapper_class=TracedMapper
        )

    def construct_recorder(self) -> ProcessRecorder:
        self._lock_schema()
        datastore = getattr(self.factory, "datastore", None)
        if isinstance(datastore, SQLiteDatastore):
            sync_commits(datastore, self.env.get("SQLITE_SYNCHRONOUS") or "FULL")
        recorder = self.factory.process_recorder()
        base = type(recorder)
        if not hasattr(recorder, "datastore"):
            recorder.__class__ = type(f"Batch{base.__name__}", (MemoryBatchTracking, base), {})
            return recorder
        recorder.__class__ = type(
            f"BatchLedger{base.__name__}", (BatchTracking, LedgerRecording, base), {}
        )
        recorder.ledger = LedgerTables(recorder.datastore)  # type: ignore[attr-defined]
        recorder.ledger.create()  # type: ignore[attr-defined]
        catch_up(recorder, recorder.ledger)  # type: ignore[attr-defined]
        return recorder

    @property
    def ledger(self) -> LedgerTables | None:
        return getattr(self.recorder, "ledger", None)

    def _record(self, processing_event: ProcessingEvent[uuid.UUID]) -> Any:
        """Store events with their provenance, and give the ledger the public form of each
        (the record the outbox will publish) so that it covers what the topics show."""
        provenance.stamp(processing_event.events, provenance.of_request())
        if self.public_contract is not None and self.ledger is not None:
            processing_event.saved_kwargs["ledger_contracts"] = [
                self.public_view(e) for e in processing_event.events
            ]
        return super()._record(processing_event)

    def public_view(self, domain_event: Any) -> Any:
        """The public contract of a stored event, with its provenance, or None."""
        contract = self.public_contract(domain_event) if self.public_contract else None
        if contract is not None:
            contract.with_provenance(provenance.of_event(domain_event))
        return contract

    async def call(self, operation: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
        """Run a store operation of this application from the event loop (see run_in_store)."""
        datastore = getattr(self.recorder, "datastore", None)
        return await run_in_store(datastore, operation, *args, **kwargs)

    @property
    def process_recorder(self) -> ProcessRecorder:
        assert isinstance(self.recorder, ProcessRecorder)
        return self.recorder

    def on_recorded(self, listener: Callable[[int, set[uuid.UUID]], None]) -> None:
        """Called (from the saving thread) after new events are stored, with the largest
        notification id and the ids of the aggregates that changed: the relay and the
        waiters of changes use it."""
        self._listeners.append(listener)

    def on_stored_types(self, listener: Callable[[list[str]], None]) -> None:
        """Called (from the saving thread) with the type of each event stored (metrics)."""
        self._type_listeners.append(listener)

    def _notify(self, recordings: Any) -> None:
        if not recordings:
            return
        last = max(r.notification.id for r in recordings)
        changed = {r.domain_event.originator_id for r in recordings}
        for listener in self._listeners:
            listener(last, changed)
        if self._type_listeners:
            types = [type(r.domain_event).__qualname__ for r in recordings]
            for type_listener in self._type_listeners:
                type_listener(types)

    def already_processed(self, tracking: Tracking) -> bool:
        return self.process_recorder.has_tracking_id(
            tracking.application_name, tracking.notification_id
        )

    def process(self, tracking: Tracking, handle: Callable[[], Iterable[Any]]) -> bool:
        """Run an inbound handler once per tracking key; store its events with the tracking.

        Returns False when the key was already processed (a duplicate delivery).
        """
        if self.already_processed(tracking):
            return False
        processing_event: ProcessingEvent[uuid.UUID] = ProcessingEvent(tracking=tracking)
        processing_event.collect_events(*handle())
        provenance.stamp(
            processing_event.events, provenance.of_reaction(self.name, tracking.application_name)
        )
        try:
            recordings = self._record(processing_event)
        except IntegrityError:
            if self.already_processed(tracking):
                return False  # a concurrent delivery of the same event won
            raise
        self._take_snapshots(processing_event)
        self._notify(recordings)
        return True

    def process_batch(
        self, items: Sequence[tuple[Tracking, Callable[[], Iterable[Any]]]],
        not_ready: type[Exception],
    ) -> list[Exception | None]:
        """Run several inbound handlers and store all their events and tracking rows in one
        transaction. A handler raising `not_ready` is left out (its outcome is the exception);
        any other failure, or a conflict on save, raises and stores nothing: the caller then
        handles the items one by one."""
        outcomes: list[Exception | None] = []
        trackings: list[Tracking] = []
        processing_event: ProcessingEvent[uuid.UUID] = ProcessingEvent()
        for tracking, handle in items:
            collected = len(processing_event.events)
            try:
                processing_event.collect_events(*handle())
            except not_ready as early:
                outcomes.append(early)
                continue
            provenance.stamp(
                processing_event.events[collected:],
                provenance.of_reaction(self.name, tracking.application_name),
            )
            outcomes.append(None)
            trackings.append(tracking)
        if not trackings:
            return outcomes
        processing_event.tracking = trackings[0]
        processing_event.saved_kwargs["more_tracking"] = trackings[1:]
        recordings = self._record(processing_event)
        self._take_snapshots(processing_event)
        self._notify(recordings)
        return outcomes

    def _lock_schema(self) -> None:
        """Replicas starting together on one PostgreSQL database would race to create the
        same tables (PostgreSQL refuses concurrent CREATE ... IF NOT EXISTS of one name):
        the first holds a lock until its tables exist (`startup_done`), the others wait."""
        datastore = getattr(self.factory, "datastore", None)
        pool = getattr(datastore, "pool", None)
        if pool is None or type(datastore).__module__.endswith("sqlite"):
            return
        import psycopg

        params = {k: v for k, v in pool.kwargs.items() if k in {"dbname", "host", "port", "user", "password"}}
        lock = psycopg.connect(**params, autocommit=True)
        try:
            lock.execute("SET lock_timeout = '30s'")
            lock.execute("SELECT pg_advisory_lock(%s)", [SCHEMA_LOCK])
        except psycopg.errors.LockNotAvailable:
            lock.close()  # another process of this database is slow to start: go on
            return
        self._startup_lock = lock

    def startup_done(self) -> None:
        """Every table this process uses exists: let the next replica start."""
        lock, self._startup_lock = self._startup_lock, None
        if lock is not None:
            lock.close()

    def close(self) -> None:
        self.startup_done()
        super().close()

    def max_notification_id(self) -> int:
        return self.recorder.max_notification_id() or 0
