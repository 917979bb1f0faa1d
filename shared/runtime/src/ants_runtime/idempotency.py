"""`Idempotency-Key` on every write of every service: a request sent again gets the first answer.

A client (the portal's forms, a script retrying after a timeout) that sends a write twice with
the same `Idempotency-Key` gets the first request's answer again, without the write being
done twice, whichever replica each copy reaches: the key and the answer are kept in the
service's own store. A copy that arrives while the first is still under way waits for it.
Only successful answers (2xx) are kept: after a refusal the same request may be corrected and
sent again. The key is scoped to the caller (its `Authorization` header), the method and the
path, and kept for a day.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from typing import Any

import structlog

from ants_runtime.store import run_in_store

log = structlog.get_logger(__name__)

UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
MAX_KEY_LENGTH = 200
MAX_KEPT_BODY = 256 * 1024
KEEP_SECONDS = 24 * 3600.0
STALE_SECONDS = 60.0  # a first request not finished after this is taken over (its process died)


class IdempotentRequests:
    """The kept answers, in a table of the service's store (SQLite or PostgreSQL)."""

    def __init__(self, datastore: Any) -> None:
        self.datastore = datastore
        self.p = "?" if type(datastore).__module__.endswith("sqlite") else "%s"
        blob = "BLOB" if self.p == "?" else "BYTEA"
        self._writes = 0
        with datastore.transaction(commit=True) as cursor:
            cursor.execute(
                "CREATE TABLE IF NOT EXISTS idempotent_requests (scope TEXT PRIMARY KEY, "
                f"started_at DOUBLE PRECISION NOT NULL, status INTEGER, headers TEXT, body {blob})"
            )

    def begin(self, scope: str) -> bool:
        """True: this request is the first with its key (or takes over a stale one)."""
        p = self.p
        now = time.time()
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(
                f"DELETE FROM idempotent_requests WHERE scope = {p} AND status IS NULL "
                f"AND started_at < {p}", [scope, now - STALE_SECONDS],
            )
            cursor.execute(
                f"INSERT INTO idempotent_requests (scope, started_at) VALUES ({p}, {p}) "
                "ON CONFLICT (scope) DO NOTHING RETURNING scope", [scope, now],
            )
            inserted = cursor.fetchone() is not None
        self._writes += 1
        if self._writes % 500 == 0:
            self._forget_old()
        return inserted

    def finish(self, scope: str, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        p = self.p
        with self.datastore.transaction(commit=True) as cursor:
            if 200 <= status < 300 and len(body) <= MAX_KEPT_BODY:
                kept = json.dumps([[k.decode("latin-1"), v.decode("latin-1")] for k, v in headers])
                cursor.execute(
                    f"UPDATE idempotent_requests SET status = {p}, headers = {p}, body = {p} "
                    f"WHERE scope = {p}", [status, kept, body, scope],
                )
            else:
                cursor.execute(f"DELETE FROM idempotent_requests WHERE scope = {p}", [scope])

    def abandon(self, scope: str) -> None:
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(f"DELETE FROM idempotent_requests WHERE scope = {self.p}", [scope])

    def answer(self, scope: str) -> tuple[int, list[tuple[bytes, bytes]], bytes] | None | bool:
        """The kept answer; None while the first request is under way; False if none is kept
        (the first request was refused, or taken over)."""
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(
                f"SELECT status, headers, body FROM idempotent_requests WHERE scope = {self.p}",
                [scope],
            )
            row = cursor.fetchone()
        if row is None:
            return False
        status, headers, body = (row["status"], row["headers"], row["body"]) if isinstance(row, dict) else row
        if status is None:
            return None
        pairs = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in json.loads(headers)]
        return int(status), pairs, bytes(body)

    def _forget_old(self) -> None:
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(
                f"DELETE FROM idempotent_requests WHERE started_at < {self.p}",
                [time.time() - KEEP_SECONDS],
            )


def idempotency_middleware(
    requests: IdempotentRequests, own: set[str], wait_seconds: float = 15.0
) -> Any:
    """`own`: paths whose handlers treat the key themselves (the payment's authorisation
    tells a replay from a key reused for another card)."""

    def wrap(app: Any) -> Any:
        async def middleware(scope: Any, receive: Any, send: Any) -> None:
            if (
                scope["type"] != "http" or scope["method"] not in UNSAFE_METHODS
                or scope["path"] in own
            ):
                await app(scope, receive, send)
                return
            headers = dict(scope.get("headers") or [])
            key = headers.get(b"idempotency-key", b"").decode(errors="replace").strip()
            if not key or len(key) > MAX_KEY_LENGTH:
                await app(scope, receive, send)
                return
            caller = headers.get(b"authorization", b"")
            kept_scope = hashlib.sha256(
                b"\0".join([caller, scope["method"].encode(), scope["path"].encode(), key.encode()])
            ).hexdigest()
            deadline = time.monotonic() + wait_seconds
            while not await run_in_store(requests.datastore, requests.begin, kept_scope):
                found = await run_in_store(requests.datastore, requests.answer, kept_scope)
                if found:
                    status, kept_headers, body = found  # type: ignore[misc]
                    await send({"type": "http.response.start", "status": status,
                                "headers": [*kept_headers, (b"idempotent-replayed", b"true")]})
                    await send({"type": "http.response.body", "body": body})
                    return
                if found is None and time.monotonic() > deadline:
                    await _busy(send)
                    return
                await asyncio.sleep(0.05)
            await _first(app, scope, receive, send, requests, kept_scope)

        return middleware

    return wrap


async def _first(
    app: Any, scope: Any, receive: Any, send: Any, requests: IdempotentRequests, kept_scope: str
) -> None:
    start: dict[str, Any] = {}
    chunks: list[bytes] = []

    async def keep(message: Any) -> None:
        if message["type"] == "http.response.start":
            start.update(message)
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))
        await send(message)

    finished = False
    try:
        await app(scope, receive, keep)
        finished = True
    finally:
        try:
            if finished and start:
                kept = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"x-request-id"]
                await run_in_store(
                    requests.datastore, requests.finish, kept_scope, int(start["status"]), kept,
                    b"".join(chunks),
                )
            else:
                await run_in_store(requests.datastore, requests.abandon, kept_scope)
        except Exception:  # noqa: BLE001 - the answer was sent; a copy will run again
            log.warning("idempotency.not_kept", exc_info=True)


async def _busy(send: Any) -> None:
    body = json.dumps({
        "status_code": 409,
        "message": "Une requête identique est encore en cours de traitement : réessayez dans un instant.",
    }).encode()
    await send({"type": "http.response.start", "status": 409, "headers": [
        (b"content-type", b"application/json"), (b"retry-after", b"1"),
    ]})
    await send({"type": "http.response.body", "body": body})
