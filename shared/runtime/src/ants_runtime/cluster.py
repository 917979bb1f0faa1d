"""The replicas of one service, coordinated through the database they share.

Any number of processes of a service may run on one PostgreSQL store. They agree on who does
what with PostgreSQL session advisory locks, held on a connection of their own:
- `relay`: the one process that publishes the store's outbox;
- `partition:<topic>` / n: the process that consumes that partition of a followed topic;
- `member` / random: one per live process, so that each can count the others and take its
  share of the partitions.
A process that dies, or loses its connection, loses its locks at once (the server ends its
session), and the survivors take its work within a second or two. Locks only share the
work out: what was processed is still decided by the tracking rows stored with each effect,
so two processes briefly doing the same work (a session the server has not yet seen die)
cannot apply anything twice.

The replicas also tell each other, through LISTEN/NOTIFY on the same database, what a
waiting client needs to know without polling: which aggregates changed (and the last
notification id stored), how far the relay published, how far each partition was processed.

SQLite stores are used by one process only: `LocalCoordinator` grants every lock to it and
has no peers.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import random
import socket
from collections.abc import Callable
from typing import Any

import structlog

log = structlog.get_logger(__name__)

CHANNEL = "ants_replicas"
# pg_notify refuses payloads of 8000 bytes or more.
MAX_PAYLOAD = 7000

Message = dict[str, Any]
Listener = Callable[[Message], None]


def default_replica_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class LocalCoordinator:
    """One process owns the store (SQLite, memory): every lock is its own, it has no peers."""

    replicated = False

    def __init__(self, service: str, replica: str | None = None) -> None:
        self.service = service
        self.replica = replica or default_replica_id()
        self.problem: str | None = None
        self._held: set[tuple[str, int]] = set()

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        self._held.clear()

    async def try_lock(self, name: str, number: int = 0) -> bool:
        self._held.add((name, number))
        return True

    async def unlock(self, name: str, number: int = 0) -> None:
        self._held.discard((name, number))

    def holds(self, name: str, number: int = 0) -> bool:
        return (name, number) in self._held

    async def members(self) -> int:
        return 1

    def publish(self, message: Message) -> None:
        return None

    def subscribe(self, listener: Listener) -> None:
        return None

    def on_lost(self, callback: Callable[[], None]) -> None:
        return None


class PostgresCoordinator:
    """Advisory locks and notifications on the service's PostgreSQL database."""

    replicated = True
    check_seconds = 1.0

    def __init__(self, service: str, connection_kwargs: dict[str, Any], replica: str | None = None) -> None:
        self.service = service
        self.replica = replica or default_replica_id()
        self.connection_kwargs = {
            k: v for k, v in connection_kwargs.items() if k in {"dbname", "host", "port", "user", "password"}
        }
        self.problem: str | None = None
        self._member = random.randrange(1, 2**31)
        self._conn: Any = None
        self._held: set[tuple[str, int]] = set()
        self._listeners: list[Listener] = []
        self._lost_callbacks: list[Callable[[], None]] = []
        self._outgoing: list[Message] = []
        self._outgoing_ready = asyncio.Event()
        self._tasks: list[asyncio.Task[Any]] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    # --- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        await self._connect()
        self._tasks = [
            asyncio.create_task(self._keep_session(), name="cluster-session"),
            asyncio.create_task(self._listen(), name="cluster-listen"),
            asyncio.create_task(self._send(), name="cluster-notify"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._held.clear()
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close()  # ends the session: every lock is released at once
            self._conn = None

    async def _connect(self) -> None:
        import psycopg

        self._conn = await psycopg.AsyncConnection.connect(
            **self.connection_kwargs, autocommit=True, application_name=f"{self.service}:{self.replica}"[:63]
        )
        await self._conn.execute(
            "SELECT pg_advisory_lock(%s, %s)", [self._key("member"), self._member]
        )
        self.problem = None

    async def _keep_session(self) -> None:
        """Notice a lost session (its locks are gone with it) and open a new one."""
        while True:
            await asyncio.sleep(self.check_seconds)
            try:
                await asyncio.wait_for(self._conn.execute("SELECT 1"), 5.0)
                continue
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001 - any failure means the locks are gone
                self._lose(f"coordination session lost: {error!r}"[:300])
            while True:
                try:
                    with contextlib.suppress(Exception):
                        await self._conn.close()
                    await self._connect()
                    break
                except asyncio.CancelledError:
                    raise
                except Exception as error:  # noqa: BLE001 - keep trying
                    self.problem = f"coordination session lost: {error!r}"[:300]
                    await asyncio.sleep(self.check_seconds)

    def _lose(self, why: str) -> None:
        log.warning("cluster.session_lost", reason=why)
        self.problem = why
        self._held.clear()
        for callback in self._lost_callbacks:
            callback()

    def on_lost(self, callback: Callable[[], None]) -> None:
        """Called when the session ended and every lock it held is gone."""
        self._lost_callbacks.append(callback)

    # --- locks ------------------------------------------------------------------------------

    def _key(self, name: str) -> int:
        digest = hashlib.sha256(f"ants:{self.service}:{name}".encode()).digest()
        return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF

    async def try_lock(self, name: str, number: int = 0) -> bool:
        if (name, number) in self._held:
            return True
        try:
            cursor = await self._conn.execute(
                "SELECT pg_try_advisory_lock(%s, %s)", [self._key(name), number]
            )
            row = await cursor.fetchone()
        except Exception:  # noqa: BLE001 - no session, no lock: the session keeper reconnects
            return False
        if row and row[0]:
            self._held.add((name, number))
            return True
        return False

    async def unlock(self, name: str, number: int = 0) -> None:
        if (name, number) not in self._held:
            return
        self._held.discard((name, number))
        with contextlib.suppress(Exception):
            await self._conn.execute("SELECT pg_advisory_unlock(%s, %s)", [self._key(name), number])

    def holds(self, name: str, number: int = 0) -> bool:
        return (name, number) in self._held

    async def members(self) -> int:
        """How many processes of this service hold a session on the database now."""
        cursor = await self._conn.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND objsubid = 2 AND classid::bigint = %s "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            [self._key("member")],
        )
        row = await cursor.fetchone()
        return max(1, int(row[0]) if row else 1)

    # --- notifications between replicas ---------------------------------------------------

    def subscribe(self, listener: Listener) -> None:
        """`listener(message)` runs on the event loop for every message of another replica."""
        self._listeners.append(listener)

    def publish(self, message: Message) -> None:
        """Thread-safe, never blocks: the message leaves with the next notification."""
        if self._loop is None:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            self._queue(message)
        else:
            with contextlib.suppress(RuntimeError):  # the loop is closing
                self._loop.call_soon_threadsafe(self._queue, message)

    def _queue(self, message: Message) -> None:
        self._outgoing.append(message)
        self._outgoing_ready.set()

    async def _send(self) -> None:
        """Coalesce what is queued into as few notifications as fit."""
        while True:
            await self._outgoing_ready.wait()
            self._outgoing_ready.clear()
            messages, self._outgoing = self._outgoing, []
            for payload in _payloads(self.replica, messages):
                try:
                    await self._conn.execute("SELECT pg_notify(%s, %s)", [CHANNEL, payload])
                except asyncio.CancelledError:
                    raise
                except Exception:  # noqa: BLE001 - peers fall back on their slow checks
                    log.debug("cluster.notify_failed", exc_info=True)

    async def _listen(self) -> None:
        import psycopg

        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(**self.connection_kwargs, autocommit=True)
                async with conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    async for notification in conn.notifies():
                        self._dispatch(notification.payload)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - listen again
                log.warning("cluster.listen_failed", exc_info=True)
                await asyncio.sleep(self.check_seconds)

    def _dispatch(self, payload: str) -> None:
        try:
            envelope = json.loads(payload)
        except ValueError:
            return
        if envelope.get("from") == self.replica:
            return
        for message in envelope.get("messages", []):
            for listener in self._listeners:
                try:
                    listener(message)
                except Exception:  # noqa: BLE001 - one listener must not stop the others
                    log.exception("cluster.listener_failed")


def _payloads(replica: str, messages: list[Message]) -> list[str]:
    payloads: list[str] = []
    batch: list[str] = []
    size = 0
    for message in messages:
        text = json.dumps(message, separators=(",", ":"))
        if batch and size + len(text) > MAX_PAYLOAD:
            payloads.append(_envelope(replica, batch))
            batch, size = [], 0
        batch.append(text)
        size += len(text) + 1
    if batch:
        payloads.append(_envelope(replica, batch))
    return payloads


def _envelope(replica: str, texts: list[str]) -> str:
    return '{"from":' + json.dumps(replica) + ',"messages":[' + ",".join(texts) + "]}"


def changed_messages(last_notification_id: int, ids: set[Any], per_message: int = 100) -> list[Message]:
    """What replicas are told when events were stored: the last notification id and the
    aggregates that changed, in messages small enough for a notification."""
    listed = [str(i) for i in ids]
    chunks = [listed[i : i + per_message] for i in range(0, len(listed), per_message)] or [[]]
    return [{"kind": "changed", "last": last_notification_id, "ids": chunk} for chunk in chunks]


def coordinator_for(app: Any, service: str, replica: str | None = None) -> LocalCoordinator | PostgresCoordinator:
    """Postgres stores may be shared by replicas; any other store belongs to one process."""
    datastore = getattr(app.recorder, "datastore", None)
    pool = getattr(datastore, "pool", None)
    if datastore is None or type(datastore).__module__.endswith("sqlite") or pool is None:
        return LocalCoordinator(service, replica)
    return PostgresCoordinator(service, dict(pool.kwargs), replica)
