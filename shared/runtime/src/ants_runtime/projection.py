"""Read models beside the events: a projector follows the application's notification log.

A read model keeps rows in tables of the service's own store (or in memory for an in-memory
store) and saves how far it has read in the same transaction as its rows: a restart resumes
where it stopped, and a store written before the read model existed is brought up to date by
replaying its log from the start. The projector wakes when this process stores events, and
also looks now and then for events another process stored in the same database.

Read-your-writes: `caught_up()` waits, without holding a thread, until the read model has
taken in everything stored before the call.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any, Generic, Protocol, TypeVar

import structlog
from eventsourcing.persistence import Notification

from ants_runtime.store import ServiceApplication, stop_gracefully

log = structlog.get_logger(__name__)

C = TypeVar("C")


class ReadModel(Protocol[C]):
    name: str

    def position(self) -> int:
        """The last notification id taken in (0 before the first)."""
        ...

    def changes(self, notifications: Sequence[Notification]) -> C:
        """What these notifications change. Runs before `save`, outside its transaction, and
        may read the application's aggregates."""
        ...

    def save(self, changes: C, position: int) -> None:
        """Write the changes and the new position together (one transaction)."""
        ...


class Projector(Generic[C]):
    """Keeps one read model up to date with the application's notification log, in order."""

    def __init__(
        self,
        app: ServiceApplication,
        read_model: ReadModel[C],
        *,
        batch_size: int = 500,
        idle_seconds: float = 1.0,
    ) -> None:
        self.app = app
        self.read_model = read_model
        self.batch_size = batch_size
        self.idle_seconds = idle_seconds
        self.position = 0  # the last notification id the read model has taken in
        self.problem: str | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake = asyncio.Event()
        self.stopping = asyncio.Event()
        self._advanced = asyncio.Event()

    # --- synchronous steps (run in a worker thread by `run`) -----------------------------

    def project_after(self, position: int) -> int:
        """Take in the next batch after `position`; the new position (unchanged: nothing new)."""
        notifications = self.app.recorder.select_notifications(position + 1, self.batch_size)
        if not notifications:
            return position
        last = notifications[-1].id
        self.read_model.save(self.read_model.changes(notifications), last)
        return last

    def catch_up(self) -> int:
        """Take in everything stored so far, from the saved position, in this thread."""
        position = max(self.position, self.read_model.position())
        while (after := self.project_after(position)) != position:
            position = after
        self.position = position
        return position

    # --- following the log ---------------------------------------------------------------

    def wake(self, _last_notification_id: int = 0, _changed: object = None) -> None:
        """Thread-safe: new events were stored."""
        if self._loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop is closing
                self._loop.call_soon_threadsafe(self._wake.set)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Follow the log while the context lasts (a Litestar lifespan)."""
        self._loop = asyncio.get_running_loop()
        self.app.on_recorded(self.wake)
        task = asyncio.create_task(self.run(), name=f"projector:{self.read_model.name}")
        try:
            yield
        finally:
            self._wake.set()
            await stop_gracefully(task, self.stopping)
            self._loop = None

    async def run(self) -> None:
        saved = await self.app.call(self.read_model.position)
        self.position = max(self.position, saved)
        log.info("projection.started", read_model=self.read_model.name, position=self.position)
        while not self.stopping.is_set():
            self._wake.clear()  # before reading: a wake during the read is kept for the next turn
            try:
                position = await self.app.call(self.project_after, self.position)
            except Exception as error:  # noqa: BLE001 - keep following whatever happens
                name = self.read_model.name
                self.problem = f"read model {name} stopped at {self.position}: {error!r}"[:300]
                log.exception("projection.failed", read_model=name, position=self.position)
                await asyncio.sleep(1.0)
                continue
            self.problem = None
            if position != self.position:
                self._advance(position)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.idle_seconds)

    def _advance(self, position: int) -> None:
        self.position = position
        self._advanced.set()
        self._advanced = asyncio.Event()

    # --- read-your-writes ------------------------------------------------------------------

    async def wait_for(self, notification_id: int, timeout: float) -> bool:
        """True once the read model has taken in `notification_id`; False after `timeout`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.position < notification_id:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            advanced = self._advanced
            self._wake.set()  # look now: the events may have been stored by another process
            try:
                await asyncio.wait_for(advanced.wait(), remaining)
            except TimeoutError:
                return False
        return True

    async def caught_up(self, timeout: float) -> bool:
        """True once everything stored before this call is in the read model."""
        stored = await self.app.call(self.app.max_notification_id)
        return await self.wait_for(stored, timeout)


class SqlTables:
    """What a read model kept in tables of the application's own database needs: the
    parameter style, schema-qualified names, transactions, and its saved position."""

    def __init__(self, app: ServiceApplication) -> None:
        self.datastore: Any = app.recorder.datastore  # type: ignore[attr-defined]
        self.sqlite = type(self.datastore).__module__.endswith("sqlite")
        self.param = "?" if self.sqlite else "%s"
        with self.transaction(commit=True) as cursor:
            cursor.execute(
                f"CREATE TABLE IF NOT EXISTS {self.table('projection_positions')} "
                "(name TEXT PRIMARY KEY, position BIGINT NOT NULL)"
            )

    def table(self, name: str) -> str:
        return name if self.sqlite else f'"{self.datastore.schema}"."{name}"'

    def params(self, count: int) -> str:
        return ", ".join([self.param] * count)

    @contextlib.contextmanager
    def transaction(self, *, commit: bool) -> Iterator[Any]:
        with self.datastore.transaction(commit=commit) as cursor:
            yield cursor

    def saved_position(self, name: str) -> int:
        with self.transaction(commit=False) as cursor:
            cursor.execute(
                f"SELECT position FROM {self.table('projection_positions')} "
                f"WHERE name = {self.param}",
                [name],
            )
            row = cursor.fetchone()
        return 0 if row is None else int(row["position"])

    def save_position(self, cursor: Any, name: str, position: int) -> None:
        """In the caller's transaction; never moves back (another replica may be behind)."""
        p = self.param
        cursor.execute(
            f"INSERT INTO {self.table('projection_positions')} AS saved (name, position) "
            f"VALUES ({p}, {p}) ON CONFLICT (name) DO UPDATE SET position = excluded.position "
            "WHERE saved.position < excluded.position",
            [name, position],
        )
