"""The tamper-evident log of a service's stored events, kept beside them in its database.

A recorder mixin appends every stored event to a Merkle tree (RFC 9162 hashing, see
`ants_events.ledger`) in the transaction that stores it: one `ledger_leaves` row per event
(its position, digests, leaf hash and the tree's root after it) and the tree's frontier in
`ledger_head`. Inserting events takes the store's write lock (SQLite's, or the exclusive
table lock eventsourcing takes on PostgreSQL), so concurrent writers, replicas included,
append one after another. Signed checkpoints are kept in `ledger_checkpoints`
(see `ants_runtime.checkpoints`); `verify_store` checks the rows against the tree and the
checkpoints and names the first event that was edited, deleted, moved or inserted.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ants_events import IntegrationEvent, to_record
from ants_events.ledger import (
    Checkpoint,
    Frontier,
    checkpoint_valid,
    event_digest,
    leaf_data,
    leaf_hash,
    record_digest,
)

ToContract = Callable[[Any], IntegrationEvent | None]


def record_digest_of(contract: IntegrationEvent | None, position: int) -> str | None:
    """The digest of the Kafka record the outbox publishes for an event at `position`."""
    if contract is None:
        return None
    record = to_record(contract, sequence=position)
    return record_digest(record.headers, record.key.decode(), record.value.decode())


def stored_event_digest(stored: Any) -> str:
    originator_id = stored.originator_id
    text_id = originator_id.hex if hasattr(originator_id, "hex") else str(originator_id)
    state = stored.state if isinstance(stored.state, bytes) else bytes(stored.state)
    return event_digest(text_id, stored.originator_version, stored.topic, state)


class LedgerTables:
    """SQL for the ledger tables, on SQLite or PostgreSQL."""

    def __init__(self, datastore: Any) -> None:
        self.datastore = datastore
        self.sqlite = type(datastore).__module__.endswith("sqlite")
        self.p = "?" if self.sqlite else "%s"

    def create(self) -> None:
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(
                "CREATE TABLE IF NOT EXISTS ledger_leaves (leaf_index BIGINT PRIMARY KEY, "
                "position BIGINT NOT NULL UNIQUE, event_digest TEXT NOT NULL, "
                "record_digest TEXT, leaf_hash TEXT NOT NULL, root TEXT NOT NULL)"
            )
            cursor.execute(
                "CREATE TABLE IF NOT EXISTS ledger_head (id INTEGER PRIMARY KEY, "
                "size BIGINT NOT NULL, frontier TEXT NOT NULL)"
            )
            cursor.execute(
                "CREATE TABLE IF NOT EXISTS ledger_checkpoints (tree_size BIGINT PRIMARY KEY, "
                "root_hash TEXT NOT NULL, signed_at TEXT NOT NULL, key_id TEXT NOT NULL, "
                "signature TEXT NOT NULL, published INTEGER NOT NULL DEFAULT 0)"
            )
            cursor.execute(
                "CREATE INDEX IF NOT EXISTS ledger_checkpoints_unpublished "
                "ON ledger_checkpoints (tree_size) WHERE published = 0"
            )

    # --- appending, inside the transaction that stores the events --------------------------

    def append(
        self, cursor: Any, stored_events: Sequence[Any], positions: Sequence[int],
        contracts: Sequence[IntegrationEvent | None] | None,
    ) -> None:
        p = self.p
        cursor.execute("SELECT frontier FROM ledger_head WHERE id = 1")
        row = cursor.fetchone()
        frontier = Frontier.load(_col(row, 0, "frontier") if row else None)
        rows = []
        for offset, (stored, position) in enumerate(zip(stored_events, positions, strict=True)):
            contract = contracts[offset] if contracts else None
            digest = stored_event_digest(stored)
            record = record_digest_of(contract, position)
            leaf = leaf_hash(leaf_data(position, digest, record))
            index = frontier.size
            frontier.append(leaf)
            rows.append((index, position, digest, record, leaf.hex(), frontier.root().hex()))
        cursor.executemany(
            f"INSERT INTO ledger_leaves VALUES ({p}, {p}, {p}, {p}, {p}, {p})", rows
        )
        cursor.execute(
            f"INSERT INTO ledger_head (id, size, frontier) VALUES (1, {p}, {p}) "
            "ON CONFLICT (id) DO UPDATE SET size = excluded.size, frontier = excluded.frontier",
            [frontier.size, frontier.dump()],
        )

    # --- reading ----------------------------------------------------------------------------

    def size(self) -> int:
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute("SELECT size FROM ledger_head WHERE id = 1")
            row = cursor.fetchone()
        return int(_col(row, 0, "size")) if row else 0

    def root_at(self, size: int) -> str | None:
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(f"SELECT root FROM ledger_leaves WHERE leaf_index = {self.p}", [size - 1])
            row = cursor.fetchone()
        return _col(row, 0, "root") if row else None

    def leaves(self, first: int = 0, stop: int | None = None) -> list[tuple[int, int, str, str | None, str, str]]:
        """(leaf_index, position, event_digest, record_digest, leaf_hash, root) rows."""
        query = (
            "SELECT leaf_index, position, event_digest, record_digest, leaf_hash, root "
            f"FROM ledger_leaves WHERE leaf_index >= {self.p}"
        )
        params: list[Any] = [first]
        if stop is not None:
            query += f" AND leaf_index < {self.p}"
            params.append(stop)
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(query + " ORDER BY leaf_index", params)
            rows = cursor.fetchall()
        names = ("leaf_index", "position", "event_digest", "record_digest", "leaf_hash", "root")
        return [tuple(_col(r, i, n) for i, n in enumerate(names)) for r in rows]  # type: ignore[misc]

    def max_position(self) -> int:
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute("SELECT MAX(position) FROM ledger_leaves")
            row = cursor.fetchone()
        value = _col(row, 0, "max") if row else None
        return int(value or 0)

    # --- checkpoints -------------------------------------------------------------------------

    def keep_checkpoint(self, checkpoint: Checkpoint) -> None:
        p = self.p
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(
                f"INSERT INTO ledger_checkpoints VALUES ({p}, {p}, {p}, {p}, {p}, 0) "
                "ON CONFLICT (tree_size) DO NOTHING",
                [checkpoint.tree_size, checkpoint.root_hash, checkpoint.signed_at,
                 checkpoint.key_id, checkpoint.signature],
            )

    def checkpoints(self, *, unpublished_only: bool = False, latest: bool = False) -> list[Checkpoint]:
        """Kept checkpoints in order: all, the unpublished ones, or the latest only (indexed:
        the cost does not grow with the log)."""
        query = "SELECT tree_size, root_hash, signed_at, key_id, signature FROM ledger_checkpoints"
        if unpublished_only:
            query += " WHERE published = 0"
        query += " ORDER BY tree_size DESC LIMIT 1" if latest else " ORDER BY tree_size"
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(query)
            rows = cursor.fetchall()
        return [
            Checkpoint(
                service="", tree_size=int(_col(r, 0, "tree_size")), root_hash=_col(r, 1, "root_hash"),
                signed_at=_col(r, 2, "signed_at"), key_id=_col(r, 3, "key_id"),
                signature=_col(r, 4, "signature"),
            )
            for r in rows
        ]

    def size_before(self, tree_size: int) -> int:
        """The tree size of the checkpoint just before `tree_size` (0 for the first)."""
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(
                f"SELECT MAX(tree_size) FROM ledger_checkpoints WHERE tree_size < {self.p}", [tree_size]
            )
            row = cursor.fetchone()
        value = _col(row, 0, "max") if row is not None else None
        return int(value or 0)

    def mark_published(self, tree_sizes: Sequence[int], published: bool = True) -> None:
        with self.datastore.transaction(commit=True) as cursor:
            if not tree_sizes:
                cursor.execute(f"UPDATE ledger_checkpoints SET published = {self.p}", [int(published)])
            for size in tree_sizes:
                cursor.execute(
                    f"UPDATE ledger_checkpoints SET published = {self.p} WHERE tree_size = {self.p}",
                    [int(published), size],
                )


class LedgerRecording:
    """Recorder mixin: append the stored events to the ledger in their own transaction.

    SQLite's recorder returns the new notification ids from `_insert_events`; PostgreSQL's
    fetches them afterwards, in the same transaction (`_fetch_ids_after_insert_events`).
    """

    ledger: LedgerTables

    def _insert_events(self, c: Any, stored_events: Any, **kwargs: Any) -> Any:
        ids = super()._insert_events(c, stored_events, **kwargs)  # type: ignore[misc]
        if ids and self.ledger.sqlite:
            self.ledger.append(c, stored_events, ids, kwargs.get("ledger_contracts"))
        return ids

    def _fetch_ids_after_insert_events(self, c: Any, stored_events: Any, **kwargs: Any) -> Any:
        ids = super()._fetch_ids_after_insert_events(c, stored_events, **kwargs)  # type: ignore[misc]
        if ids:
            self.ledger.append(c, stored_events, ids, kwargs.get("ledger_contracts"))
        return ids


def catch_up(recorder: Any, ledger: LedgerTables, page: int = 1000) -> int:
    """Append events stored before the ledger existed (an upgraded store). Their record
    digests are unknown here (null): they are covered as stored events."""
    if ledger.size() or not recorder.max_notification_id():
        return 0
    added = 0
    start = 1
    while notifications := recorder.select_notifications(start, page):
        with ledger.datastore.transaction(commit=True) as cursor:
            ledger.append(cursor, notifications, [n.id for n in notifications], None)
        added += len(notifications)
        start = notifications[-1].id + 1
    return added


# --- verification of a store ------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    kind: str  # edited | deleted | moved | inserted | truncated | checkpoint
    message: str
    position: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "position": self.position, "message": self.message}


def verify_store(
    recorder: Any, ledger: LedgerTables, checkpoints: Sequence[Checkpoint],
    public_key_b64: str | None = None, to_contract: ToContract | None = None,
    mapper: Any = None, page: int = 2000,
) -> list[Problem]:
    """Check every stored event against the ledger, and the ledger against the signed
    checkpoints (the service's own, or copies read from the checkpoint topic). Problems come
    in log order: the first one names the first event at fault."""
    problems: list[Problem] = []
    rows = ledger.leaves()
    events: dict[int, Any] = {}
    start = 1
    while notifications := recorder.select_notifications(start, page):
        events.update((n.id, n) for n in notifications)
        start = notifications[-1].id + 1
    by_digest = {row[2]: row for row in rows}
    frontier = Frontier()
    signed = sorted(checkpoints, key=lambda c: c.tree_size)
    for checkpoint in signed:
        if public_key_b64 is not None and not checkpoint_valid(checkpoint, public_key_b64):
            problems.append(Problem(
                "checkpoint", f"the checkpoint of size {checkpoint.tree_size} signed at "
                f"{checkpoint.signed_at} has no valid signature",
            ))
    roots = {c.tree_size: c for c in signed}
    for expected, (index, position, digest, record, leaf, root) in enumerate(rows):
        if index != expected:
            problems.append(Problem("deleted", f"ledger entries {expected}-{index - 1} were removed"))
            break
        stored = events.pop(position, None)
        if stored is None:
            problems.append(Problem(
                "deleted", f"the event at position {position} (leaf {index}) was deleted", position
            ))
        else:
            actual = stored_event_digest(stored)
            if actual != digest:
                moved = by_digest.get(actual)
                if moved is not None:
                    problems.append(Problem(
                        "moved", f"the event at position {position} is the one stored at "
                        f"position {moved[1]}: events were reordered", position,
                    ))
                else:
                    problems.append(Problem(
                        "edited", f"the event at position {position} ({_describe(stored)}) "
                        "was edited after it was stored", position,
                    ))
            elif record is not None and to_contract is not None and mapper is not None:
                # (a null record digest: the event had no public form when it was stored)
                contract = to_contract(mapper.to_domain_event(stored))
                if record_digest_of(contract, position) != record:
                    problems.append(Problem(
                        "edited", f"the published form of the event at position {position} "
                        "does not match its ledger entry", position,
                    ))
        recomputed = leaf_hash(leaf_data(position, digest, record))
        frontier.append(recomputed)
        if recomputed.hex() != leaf or frontier.root().hex() != root:
            problems.append(Problem(
                "edited", f"the ledger entry of position {position} was altered", position
            ))
        signed_here = roots.get(index + 1)
        if signed_here is not None and signed_here.root_hash != frontier.root().hex():
            problems.append(Problem(
                "edited", f"the log up to position {position} no longer matches the checkpoint "
                f"of size {signed_here.tree_size} signed at {signed_here.signed_at}", position,
            ))
    for position in sorted(events):
        problems.append(Problem(
            "inserted", f"the event at position {position} ({_describe(events[position])}) is "
            "not in the ledger: it was inserted afterwards", position,
        ))
    if signed and signed[-1].tree_size > frontier.size:
        latest = signed[-1]
        problems.append(Problem(
            "truncated", f"the newest events were deleted: the checkpoint signed at "
            f"{latest.signed_at} covers {latest.tree_size} events, the log holds "
            f"{frontier.size}",
        ))
    return problems


def _describe(stored: Any) -> str:
    return f"{stored.topic.rsplit('.', 1)[-1]} v{stored.originator_version} of {stored.originator_id}"


def _col(row: Any, index: int, name: str) -> Any:
    if isinstance(row, dict):
        return row.get(name, next(iter(row.values())) if len(row) == 1 else None)
    return row[index]
