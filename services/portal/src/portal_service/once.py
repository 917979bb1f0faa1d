"""Double submission: a form is acted on once, and a second copy gets the first outcome.

Every form that changes something carries a token drawn when the page is rendered. Each call
the form's handler makes to a service carries an `Idempotency-Key` derived from it: a second
submission of the same form (double click, reload, slow network), on this portal process or
another, makes the same calls, and each service answers them with the first answers, kept
in its own store, without acting again (see `ants_runtime.idempotency`). The portal keeps
nothing: any number of portal replicas, no session affinity. Only successful answers are
kept: after a refusal the form is shown again with a new token.
"""

from __future__ import annotations

import contextvars
import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

# The key the calls made for the form being handled carry (None: not a form's action).
FORM_KEY: contextvars.ContextVar[str | None] = contextvars.ContextVar("form_key", default=None)


@dataclass
class Outcome:
    previous: str | None = None  # kept for the handlers' shape: the services remember now
    result: str | None = None


class OnceGuard:
    @asynccontextmanager
    async def once(self, scope: str, token: str | None) -> AsyncIterator[Outcome]:
        if not token:
            yield Outcome()
            return
        key = hashlib.sha256(f"{scope}:{token}".encode()).hexdigest()
        reset = FORM_KEY.set(key)
        try:
            yield Outcome()
        finally:
            FORM_KEY.reset(reset)
