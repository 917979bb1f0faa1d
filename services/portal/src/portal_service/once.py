"""Double submission: a form is acted on once, and a second copy gets the first outcome.

Every form that changes something carries a token drawn when the page is rendered. The
first submission holds the token's lock while it calls the services and remembers where it
sent the person; a second submission of the same form (double click, reload, slow network)
waits for that lock and is sent to the same place, without acting again. Only successful
outcomes are remembered: after a refusal the form can be corrected and sent again.

The memory is per process; behind several replicas, route a session to one replica (or
rely on the services' own guards: the payment's Idempotency-Key is this same token).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass


@dataclass
class Outcome:
    previous: str | None = None
    result: str | None = None


class OnceGuard:
    def __init__(self, ttl_seconds: float = 900.0) -> None:
        self.ttl_seconds = ttl_seconds
        self._locks: dict[str, asyncio.Lock] = {}
        self._done: dict[str, tuple[float, str]] = {}

    @asynccontextmanager
    async def once(self, scope: str, token: str | None) -> AsyncIterator[Outcome]:
        if not token:
            yield Outcome()
            return
        key = f"{scope}:{token}"
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            self._forget_old()
            done = self._done.get(key)
            outcome = Outcome(previous=done[1] if done else None)
            yield outcome
            if outcome.result and not done:
                self._done[key] = (time.monotonic(), outcome.result)

    def _forget_old(self) -> None:
        limit = time.monotonic() - self.ttl_seconds
        for key in [k for k, (at, _) in self._done.items() if at < limit]:
            del self._done[key]
            lock = self._locks.get(key)
            if lock is not None and not lock.locked():
                del self._locks[key]
