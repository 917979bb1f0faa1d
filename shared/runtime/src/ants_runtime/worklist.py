"""Work a service owes after some of its own events, done in the background and retried
until it succeeds: mails to send, a certificate to have printed.

The store is the queue. An event of one topic opens an item (its aggregate id), an event
of another closes it; a WorkList follows the notification log to know what is open, works
the items in the order they were opened, and backs off (tenacity) while the work fails.
Only one replica works the list (the coordinator's lock): the others stand by.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import structlog
from tenacity import AsyncRetrying, retry_if_exception_type, stop_never, wait_exponential

from ants_runtime.store import ServiceApplication

log = structlog.get_logger(__name__)

# The outcome of working one item: done (closed by now), or to be tried again later.
Work = Callable[[uuid.UUID], Awaitable[bool]]


class NotDoneYet(Exception):
    """Some items could not be worked: try the list again after a while."""


class WorkList:
    page = 500

    def __init__(
        self, app: ServiceApplication, name: str, *, opened: str, closed: str, work: Work,
        coordinator: Any, max_wait: float = 30.0,
    ) -> None:
        self.app, self.name, self.work, self.coordinator = app, name, work, coordinator
        self.topics = (opened, closed)
        self.opened_topic = opened
        self.max_wait = max_wait
        self.open: dict[uuid.UUID, None] = {}  # in the order they were opened
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
            if self.coordinator.holds(self.name) or await self.coordinator.try_lock(self.name):
                try:
                    async for attempt in AsyncRetrying(
                        wait=wait_exponential(multiplier=0.5, min=0.5, max=self.max_wait),
                        retry=retry_if_exception_type(NotDoneYet), stop=stop_never,
                    ):
                        with attempt:
                            await self.work_once()
                except Exception:  # noqa: BLE001 - never let the loop die
                    log.exception("worklist.failed", worklist=self.name)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), 5.0)

    async def work_once(self) -> None:
        await asyncio.to_thread(self.catch_up)
        pending = False
        for item in list(self.open):
            try:
                done = await self.work(item)
            except Exception as error:  # noqa: BLE001 - e.g. the mail server is down
                self.failures += 1
                # Not a readiness problem: the process serves and keeps the items; what is
                # outside it (a mail server down) delays them. Shown in /health details.
                self.delayed = f"{self.name}: {type(error).__name__}, retrying"
                log.warning("worklist.retrying", worklist=self.name, error=type(error).__name__,
                            exc_info=self.failures % 20 == 1)  # the cause, now and then
                raise NotDoneYet() from error
            if done:
                self.open.pop(item, None)
            else:
                pending = True
        self.delayed = None
        if pending:
            raise NotDoneYet()

    def catch_up(self) -> None:
        """Read the events of the two topics stored since the last look."""
        while True:
            found = self.app.recorder.select_notifications(
                self.position + 1, self.page, topics=self.topics
            )
            for notification in found:
                if notification.topic == self.opened_topic:
                    self.open.setdefault(notification.originator_id, None)
                else:
                    self.open.pop(notification.originator_id, None)
            if len(found) < self.page:
                if found:
                    self.position = found[-1].id
                return
            self.position = found[-1].id
