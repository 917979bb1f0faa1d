"""The ledger of a service's stored events: RFC 9162 hashing, and tampering with a real store
(SQLite file and PostgreSQL database) found and named by the next verification."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from eventsourcing.domain import Aggregate, event

from ants_events.ledger import (
    Checkpoint,
    Frontier,
    inclusion_proof,
    leaf_hash,
    root_from_inclusion,
    tree_root,
)
from ants_runtime.checkpoints import LedgerSigner
from ants_runtime.ledger import verify_store
from ants_runtime.store import ServiceApplication


def reference_root(leaves: list[bytes]) -> bytes:
    """MTH of RFC 9162 2.1.1, written as the RFC defines it (recursively)."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + reference_root(leaves[:k]) + reference_root(leaves[k:])).digest()


def test_the_tree_root_and_every_inclusion_proof_follow_rfc_9162() -> None:
    leaves = [leaf_hash(f"event {i}".encode()) for i in range(40)]
    for size in range(1, len(leaves) + 1):
        root = tree_root(leaves[:size])
        assert root == reference_root(leaves[:size])
        for index in range(size):
            path = inclusion_proof(leaves[:size], index)
            assert root_from_inclusion(leaves[index], index, size, path) == root
            if size > 1:  # the same path does not prove another leaf, nor another place
                assert root_from_inclusion(leaves[(index + 1) % size], index, size, path) != root
    frontier = Frontier.load(Frontier().dump())
    for leaf in leaves:
        frontier.append(leaf)
        frontier = Frontier.load(frontier.dump())
    assert frontier.root() == reference_root(leaves)


# --- a real store ---------------------------------------------------------------------------


class Parcel(Aggregate):
    @event("Registered")
    def __init__(self, label: str) -> None:
        self.label = label

    @event("Relabelled")
    def relabel(self, label: str) -> None:
        self.label = label


class ParcelsApplication(ServiceApplication):
    name = "parcels"


def postgres_available() -> bool:
    try:
        psycopg.connect(host="127.0.0.1", user="postgres", dbname="postgres", connect_timeout=2).close()
        return True
    except psycopg.Error:
        return False


@pytest.fixture(params=["sqlite", "postgres"])
def store_env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    if request.param == "sqlite":
        yield {"PERSISTENCE_MODULE": "eventsourcing.sqlite",
               "SQLITE_DBNAME": str(tmp_path / "events.sqlite")}
        return
    if not postgres_available():
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
    name = f"ledger_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(host="127.0.0.1", user="postgres", dbname="postgres", autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    yield {"PERSISTENCE_MODULE": "eventsourcing.postgres", "POSTGRES_DBNAME": name,
           "POSTGRES_HOST": "127.0.0.1", "POSTGRES_PORT": "5432", "POSTGRES_USER": "postgres",
           "POSTGRES_PASSWORD": ""}
    with psycopg.connect(host="127.0.0.1", user="postgres", dbname="postgres", autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Store:
    """An application with a few stored events, its signing key and raw SQL access."""

    def __init__(self, env: dict[str, str], key_dir: Path) -> None:
        self.app = ParcelsApplication(env)
        self.signer = LedgerSigner(key_dir / "ledger-private.pem")
        self.sqlite = env["PERSISTENCE_MODULE"].endswith("sqlite")
        self.p = "?" if self.sqlite else "%s"
        self.table = "stored_events" if self.sqlite else "parcels_events"
        self.position_column = "rowid" if self.sqlite else "notification_id"

    @property
    def ledger(self) -> Any:
        return self.app.ledger

    def save_parcels(self, count: int) -> None:
        for i in range(count):
            parcel = Parcel(f"colis {i}")
            parcel.relabel(f"colis {i} bis")
            self.app.save(parcel)

    def checkpoint(self) -> Checkpoint:
        """Sign the log as it is: the copy published on the checkpoint topic."""
        size = self.ledger.size()
        signed = self.signer.sign("parcels", size, self.ledger.root_at(size))
        self.ledger.keep_checkpoint(signed)
        return signed

    def sql(self, statement: str, params: list[Any] | None = None) -> list[Any]:
        with self.app.recorder.datastore.transaction(commit=True) as cursor:  # type: ignore[attr-defined]
            cursor.execute(statement.replace("?", self.p), params or [])
            try:
                return list(cursor.fetchall())
            except Exception:  # noqa: BLE001 - a statement without rows
                return []

    def verify(self, published: list[Checkpoint]) -> list[Any]:
        return verify_store(self.app.recorder, self.ledger, published, self.signer.public_key)


@pytest.fixture()
def store(store_env: dict[str, str], tmp_path: Path) -> Iterator[Store]:
    running = Store(store_env, tmp_path / "keys")
    running.save_parcels(5)  # 10 events, positions 1-10
    yield running
    running.app.close()


def test_an_untouched_store_verifies_against_its_published_checkpoint(store: Store) -> None:
    published = [store.checkpoint()]
    assert store.ledger.size() == 10
    assert store.verify(published) == []


def test_an_edited_event_row_is_named_by_its_position(store: Store) -> None:
    published = [store.checkpoint()]
    store.sql(
        f"UPDATE {store.table} SET state = ? WHERE {store.position_column} = 4",
        [b'{"label":"colis falsifie","timestamp":{"_type_":"datetime_iso","_data_":"2026-01-01T00:00:00+00:00"}}'],
    )
    problems = store.verify(published)
    assert problems[0].kind == "edited" and problems[0].position == 4, problems


def test_deleting_the_newest_rows_everywhere_is_caught_by_the_published_checkpoint(store: Store) -> None:
    published = [store.checkpoint()]
    # An intruder removes the last three events and every trace of them in the database.
    store.sql(f"DELETE FROM {store.table} WHERE {store.position_column} > 7")
    store.sql("DELETE FROM ledger_leaves WHERE position > 7")
    store.sql("DELETE FROM ledger_checkpoints")
    problems = store.verify(published)
    assert [p.kind for p in problems] == ["truncated"], problems
    assert "covers 10 events, the log holds 7" in problems[0].message


def test_a_deleted_row_in_the_middle_is_named(store: Store) -> None:
    published = [store.checkpoint()]
    store.sql(f"DELETE FROM {store.table} WHERE {store.position_column} = 5")
    problems = store.verify(published)
    assert problems[0].kind == "deleted" and problems[0].position == 5, problems


def test_swapped_events_and_an_inserted_event_are_named(store: Store) -> None:
    published = [store.checkpoint()]
    rows = store.sql(f"SELECT {store.position_column}, state FROM {store.table} "
                     f"WHERE {store.position_column} IN (2, 4) ORDER BY 1")
    (_, second), (_, fourth) = [(r[0], r[1]) if not isinstance(r, dict) else tuple(r.values()) for r in rows]
    store.sql(f"UPDATE {store.table} SET state = ? WHERE {store.position_column} = 2", [fourth])
    store.sql(f"UPDATE {store.table} SET state = ? WHERE {store.position_column} = 4", [second])
    problems = store.verify(published)
    assert problems[0].position == 2 and problems[0].kind in {"moved", "edited"}, problems

    # A forged event written straight into the table, bypassing the application.
    forged = Parcel("colis fantome")
    stored = store.app.mapper.to_stored_event(forged.collect_events()[0])
    originator = uuid.UUID(str(stored.originator_id)).hex if store.sqlite else stored.originator_id
    store.sql(f"INSERT INTO {store.table} (originator_id, originator_version, topic, state) "
              "VALUES (?, ?, ?, ?)", [originator, 1, stored.topic, stored.state])
    problems = store.verify(published)
    assert any(p.kind == "inserted" and p.position == 11 for p in problems), problems


def test_a_checkpoint_with_a_replaced_signature_is_refused(store: Store) -> None:
    genuine = store.checkpoint()
    forged = Checkpoint(**{**genuine.as_dict(), "signature": store.signer.sign("parcels", 3, "00" * 32).signature})
    problems = store.verify([forged])
    assert problems[0].kind == "checkpoint", problems
