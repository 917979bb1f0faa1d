"""Wake coroutines waiting for an aggregate to change, without polling or holding a thread.

The application calls `changed(ids)` from whatever thread saved the events; waiters on the
event loop are woken and look again.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterable
from uuid import UUID


class Changes:
    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiters: dict[UUID, set[asyncio.Event]] = defaultdict(set)

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def changed(self, ids: Iterable[UUID]) -> None:
        """Thread-safe."""
        if self._loop is None:
            return
        ids = list(ids)
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            self._wake(ids)
        else:
            self._loop.call_soon_threadsafe(self._wake, ids)

    def _wake(self, ids: list[UUID]) -> None:
        for aggregate_id in ids:
            for waiter in self._waiters.get(aggregate_id, ()):
                waiter.set()

    def waiter(self, aggregate_id: UUID) -> _Registration:
        """Register before looking at the state, so that no change slips in between."""
        return _Registration(self, aggregate_id)


class _Registration:
    def __init__(self, changes: Changes, aggregate_id: UUID) -> None:
        self.changes = changes
        self.aggregate_id = aggregate_id
        self.event = asyncio.Event()

    def __enter__(self) -> _Registration:
        self.changes._waiters[self.aggregate_id].add(self.event)
        return self

    def __exit__(self, *exc: object) -> None:
        waiters = self.changes._waiters.get(self.aggregate_id)
        if waiters is not None:
            waiters.discard(self.event)
            if not waiters:
                del self.changes._waiters[self.aggregate_id]

    async def next(self, timeout: float) -> bool:
        """Wait for the next change (or one that happened since the last call)."""
        try:
            await asyncio.wait_for(self.event.wait(), timeout)
        except TimeoutError:
            return False
        self.event.clear()
        return True
