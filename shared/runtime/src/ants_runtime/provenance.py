"""Who caused a stored event: an account's HTTP request, or the service reacting to an event.

The provenance is kept in the stored event itself (under `_provenance` in its state), so that
the tamper-evident log covers it, and travels to the topics as CloudEvents extension headers
(see `ants_events.cloudevents.PROVENANCE_HEADERS`). It names accounts by id and roles only.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterable
from typing import Any

STATE_KEY = "_provenance"

_request: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar(
    "ants_request_provenance", default=None
)


def begin_request(correlation_id: str) -> contextvars.Token[dict[str, str] | None]:
    """At the start of an HTTP request. The dict is filled in place once the caller is known:
    Litestar may resolve dependencies in child tasks, which share the dict but not the
    variable."""
    return _request.set({"correlation_id": correlation_id})


def end_request(token: contextvars.Token[dict[str, str] | None]) -> None:
    _request.reset(token)


def note_caller(account_id: object, roles: Iterable[str]) -> None:
    current = _request.get()
    if current is not None:
        current["actor"] = f"account:{account_id}"
        current["actor_role"] = ",".join(sorted(roles))


def of_request() -> dict[str, str]:
    return dict(_request.get() or {})


def of_reaction(service: str, tracking_id: str) -> dict[str, str]:
    """A service handling a consumed event (its tracking id is `event:<ce_id>`)."""
    return {
        "actor": f"service:{service}",
        "actor_role": "service",
        "causation_id": tracking_id.removeprefix("event:"),
    }


def stamp(domain_events: Iterable[Any], provenance: dict[str, str]) -> None:
    """Write the provenance into events that have none yet (they are frozen dataclasses:
    their __dict__ is what the mapper stores)."""
    if not provenance:
        return
    for domain_event in domain_events:
        vars(domain_event).setdefault(STATE_KEY, dict(provenance))


def of_event(domain_event: Any) -> dict[str, str]:
    return dict(vars(domain_event).get(STATE_KEY) or {})
