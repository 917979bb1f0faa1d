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


@dataclass
class _Turn:
    """The lock of one form token and how many submissions hold or await it."""

    lock: asyncio.Lock
    users: int = 0


class OnceGuard:
    def __init__(self, ttl_seconds: float = 900.0) -> None:
        self.ttl_seconds = ttl_seconds
        self._turns: dict[str, _Turn] = {}
        self._done: dict[str, tuple[float, str]] = {}

    @property
    def tracked(self) -> int:
        """How many forms the guard keeps something for: submissions under way, and the
        successful outcomes it remembers for `ttl_seconds`."""
        return len(self._turns.keys() | self._done.keys())

    @asynccontextmanager
    async def once(self, scope: str, token: str | None) -> AsyncIterator[Outcome]:
        if not token:
            yield Outcome()
            return
        key = f"{scope}:{token}"
        turn = self._turns.setdefault(key, _Turn(asyncio.Lock()))
        turn.users += 1
        try:
            async with turn.lock:
                self._forget_old()
                done = self._done.get(key)
                outcome = Outcome(previous=done[1] if done else None)
                yield outcome
                if outcome.result and not done:
                    self._done[key] = (time.monotonic(), outcome.result)
        finally:
            turn.users -= 1
            if turn.users == 0:  # nobody holds or awaits it: a refused form leaves nothing
                del self._turns[key]

    def _forget_old(self) -> None:
        limit = time.monotonic() - self.ttl_seconds
        for key in [k for k, (at, _) in self._done.items() if at < limit]:
            del self._done[key]
