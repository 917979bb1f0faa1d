"""Work a service owes after some of its own events, done in the background and retried
until it succeeds: mails to send, a certificate to have printed.

The store is the queue. An event of one topic opens an item (its aggregate id), an event
of another closes it; a WorkList follows the notification log to know what is open and works
the items in the order they were opened. An item that fails, or cannot be done yet, is tried
again after a delay of its own that doubles up to `max_wait`: one item that keeps failing
never holds back the others, and a new item is worked as soon as it is stored. When several
items fail in a row the round stops there (the mail server or the printing office is away).
Only one replica works the list (the coordinator's lock): the others stand by.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import structlog

from ants_runtime.store import ServiceApplication, aggregate_id

log = structlog.get_logger(__name__)

# The outcome of working one item: done (closed by now), or to be tried again later.
Work = Callable[[uuid.UUID], Awaitable[bool]]


class WorkList:
    page = 500
    first_wait = 0.5  # seconds before an item that failed is tried again, doubled each time
    idle_wait = 5.0  # how often a replica on standby tries to take the list
    failures_in_a_row = 3  # then the round stops: what the work needs is away

    def __init__(
        self, app: ServiceApplication, name: str, *, opened: str, closed: str, work: Work,
        coordinator: Any, max_wait: float = 30.0,
    ) -> None:
        self.app, self.name, self.work, self.coordinator = app, name, work, coordinator
        self.topics = (opened, closed)
        self.opened_topic = opened
        self.max_wait = max_wait
        self.open: dict[uuid.UUID, None] = {}  # in the order they were opened
        self.retries: dict[uuid.UUID, tuple[int, float]] = {}  # item -> (tries, due at)
        self.failing: set[uuid.UUID] = set()  # the items whose last try raised
        self.position = 0
        self.problem: str | None = None  # readiness: always None, see `delayed`
        self.delayed: str | None = None
        self.failures = 0
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        app.on_recorded(lambda _last, _changed: self._wake_from_thread())

    def _wake_from_thread(self) -> None:
        if self._loop is not None and self._wake is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    def wake(self) -> None:
        if self._wake is not None:
            self._wake.set()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        self._loop, self._wake = asyncio.get_running_loop(), asyncio.Event()
        task = asyncio.create_task(self.run(), name=self.name)
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def run(self) -> None:
        assert self._wake is not None
        while True:
            self._wake.clear()
            wait = self.idle_wait
            if self.coordinator.holds(self.name) or await self.coordinator.try_lock(self.name):
                try:
                    wait = await self.work_once()
                except Exception:  # noqa: BLE001 - never let the loop die
                    log.exception("worklist.failed", worklist=self.name)
            # Not wait_for: on Python 3.11 it swallows a cancellation that comes as the event
            # is set, and the list would never stop.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._wake.wait()

    async def work_once(self) -> float:
        """Work every open item that is due; the seconds until the next one is."""
        while await self.app.call(self.catch_up):
            pass  # a page at a time: the loop serves in between
        in_a_row = 0
        for item in list(self.open):
            tries, due = self.retries.get(item, (0, 0.0))
            if due > time.monotonic():
                continue
            try:
                done = await self.work(item)
                in_a_row = 0
                self.failing.discard(item)
            except Exception as error:  # noqa: BLE001 - e.g. the mail server is down
                done = False
                self.failing.add(item)
                self.failures += 1
                in_a_row += 1
                # Not a readiness problem: the process serves and keeps the items; what is
                # outside it (a mail server down) delays them. Shown in /health details.
                self.delayed = f"{self.name}: {type(error).__name__}, retrying"
                log.warning("worklist.retrying", worklist=self.name, error=type(error).__name__,
                            exc_info=self.failures % 20 == 1)  # the cause, now and then
            if done:
                self.open.pop(item, None)
                self.retries.pop(item, None)
                continue
            wait = min(self.max_wait, self.first_wait * 2**tries)
            self.retries[item] = (tries + 1, time.monotonic() + wait)
            if in_a_row >= self.failures_in_a_row:
                break
        self.failing &= self.open.keys()
        if not self.failing:
            self.delayed = None
        due_times = [d for item, (_, d) in self.retries.items() if item in self.open]
        return max(0.05, min(due_times) - time.monotonic()) if due_times else self.idle_wait

    def catch_up(self) -> bool:
        """Read a page of the events of the two topics stored since the last look; True when
        there may be more."""
        found = self.app.recorder.select_notifications(
            self.position + 1, self.page, topics=self.topics
        )
        for notification in found:
            item = aggregate_id(notification.originator_id)
            if notification.topic == self.opened_topic:
                self.open.setdefault(item, None)
            else:
                self.open.pop(item, None)
                self.retries.pop(item, None)
        if found:
            self.position = found[-1].id
        return len(found) == self.page
