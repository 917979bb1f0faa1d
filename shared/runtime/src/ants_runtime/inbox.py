"""What a service keeps, beside its events, about the records it consumed.

- processed records are the library's tracking rows, one per event id (`event:<ce_id>`),
  written in the same transaction as the events their handler stored;
- parked records wait for a state that allows them (a certificate seen before its payment);
- dead letters keep every record that could not be handled, whatever its size, so that a
  record is dead-lettered once and an operator can read it even when the broker refused it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ants_runtime.store import ServiceApplication


@dataclass(frozen=True)
class ParkedRecord:
    key: str
    subject: str
    topic: str
    headers: dict[str, str]
    value: bytes
    reason: str


def inbox_of(app: ServiceApplication) -> Inbox | MemoryInbox:
    """The inbox tables in the application's database, or in memory for an in-memory store."""
    if hasattr(app.recorder, "datastore"):
        return Inbox(app)
    return MemoryInbox(app)


class Inbox:
    def __init__(self, app: ServiceApplication) -> None:
        recorder: Any = app.recorder
        self._datastore = recorder.datastore
        sqlite = type(self._datastore).__module__.endswith("sqlite")
        self._param = "?" if sqlite else "%s"
        blob = "BLOB" if sqlite else "BYTEA"
        if sqlite:
            self._tracking = "tracking"
        else:
            self._tracking = f'"{self._datastore.schema}"."{recorder.tracking_table_name}"'
        with self._datastore.transaction(commit=True) as cursor:
            cursor.execute(
                "CREATE TABLE IF NOT EXISTS parked_events (key TEXT PRIMARY KEY, "
                "subject TEXT NOT NULL, topic TEXT NOT NULL, headers TEXT NOT NULL, "
                f"value {blob} NOT NULL, reason TEXT NOT NULL, parked_at TEXT NOT NULL)"
            )
            cursor.execute(
                "CREATE INDEX IF NOT EXISTS parked_events_subject ON parked_events (subject)"
            )
            cursor.execute(
                "CREATE TABLE IF NOT EXISTS dead_letters (key TEXT PRIMARY KEY, "
                "topic TEXT NOT NULL, kafka_partition INTEGER NOT NULL, "
                "kafka_offset BIGINT NOT NULL, error TEXT NOT NULL, headers TEXT NOT NULL, "
                f"value {blob} NOT NULL, stored_at TEXT NOT NULL)"
            )

    # --- which records were already handled (processed, parked or dead-lettered) ---------

    def handled(self, keys: Iterable[str]) -> set[str]:
        keys = list(dict.fromkeys(keys))
        if not keys:
            return set()
        found: set[str] = set()
        with self._datastore.transaction(commit=False) as cursor:
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                marks = ", ".join([self._param] * len(chunk))
                for table, column in (
                    (self._tracking, "application_name"),
                    ("parked_events", "key"),
                    ("dead_letters", "key"),
                ):
                    cursor.execute(f"SELECT {column} FROM {table} WHERE {column} IN ({marks})", chunk)
                    found.update(_first(row) for row in cursor.fetchall())
        return found

    # --- parked records --------------------------------------------------------------------

    def park(self, record: ParkedRecord) -> None:
        p = self._param
        with self._datastore.transaction(commit=True) as cursor:
            cursor.execute(
                f"INSERT INTO parked_events VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p}) "
                "ON CONFLICT (key) DO UPDATE SET reason = excluded.reason",
                [record.key, record.subject, record.topic, json.dumps(record.headers),
                 record.value, record.reason, _now()],
            )

    def parked(self, subject: str | None = None) -> list[ParkedRecord]:
        query = "SELECT key, subject, topic, headers, value, reason FROM parked_events"
        params: list[Any] = []
        if subject is not None:
            query += f" WHERE subject = {self._param}"
            params.append(subject)
        with self._datastore.transaction(commit=False) as cursor:
            cursor.execute(query + " ORDER BY parked_at, key", params)
            rows = cursor.fetchall()
        return [
            ParkedRecord(
                key=_col(r, 0, "key"), subject=_col(r, 1, "subject"), topic=_col(r, 2, "topic"),
                headers=json.loads(_col(r, 3, "headers")), value=bytes(_col(r, 4, "value")),
                reason=_col(r, 5, "reason"),
            )
            for r in rows
        ]

    def parked_subjects(self) -> set[str]:
        with self._datastore.transaction(commit=False) as cursor:
            cursor.execute("SELECT DISTINCT subject FROM parked_events")
            return {_first(row) for row in cursor.fetchall()}

    def unpark(self, key: str) -> None:
        with self._datastore.transaction(commit=True) as cursor:
            cursor.execute(f"DELETE FROM parked_events WHERE key = {self._param}", [key])

    # --- dead letters ------------------------------------------------------------------------

    def keep_dead_letter(
        self, key: str, topic: str, partition: int, offset: int, error: str,
        headers: dict[str, str], value: bytes,
    ) -> None:
        p = self._param
        with self._datastore.transaction(commit=True) as cursor:
            cursor.execute(
                f"INSERT INTO dead_letters VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}) "
                "ON CONFLICT (key) DO NOTHING",
                [key, topic, partition, offset, error, json.dumps(headers), value, _now()],
            )

    def dead_letter_value(self, key: str) -> bytes | None:
        with self._datastore.transaction(commit=False) as cursor:
            cursor.execute(f"SELECT value FROM dead_letters WHERE key = {self._param}", [key])
            row = cursor.fetchone()
        return None if row is None else bytes(_first(row))

    def counts(self) -> dict[str, int]:
        with self._datastore.transaction(commit=False) as cursor:
            cursor.execute("SELECT COUNT(*) FROM parked_events")
            parked = int(_first(cursor.fetchone()))
            cursor.execute("SELECT COUNT(*) FROM dead_letters")
            dead = int(_first(cursor.fetchone()))
        return {"parked": parked, "dead_lettered": dead}


class MemoryInbox:
    """The same, for an application whose events live in memory (unit tests)."""

    def __init__(self, app: ServiceApplication) -> None:
        self._app = app
        self._parked: dict[str, ParkedRecord] = {}
        self._dead: dict[str, bytes] = {}

    def handled(self, keys: Iterable[str]) -> set[str]:
        recorder = self._app.process_recorder
        return {
            k for k in keys
            if k in self._parked or k in self._dead or recorder.has_tracking_id(k, 1)
        }

    def park(self, record: ParkedRecord) -> None:
        self._parked[record.key] = record

    def parked(self, subject: str | None = None) -> list[ParkedRecord]:
        return [r for r in self._parked.values() if subject is None or r.subject == subject]

    def parked_subjects(self) -> set[str]:
        return {r.subject for r in self._parked.values()}

    def unpark(self, key: str) -> None:
        self._parked.pop(key, None)

    def keep_dead_letter(
        self, key: str, topic: str, partition: int, offset: int, error: str,
        headers: dict[str, str], value: bytes,
    ) -> None:
        self._dead.setdefault(key, value)

    def dead_letter_value(self, key: str) -> bytes | None:
        return self._dead.get(key)

    def counts(self) -> dict[str, int]:
        return {"parked": len(self._parked), "dead_lettered": len(self._dead)}


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _first(row: Any) -> Any:
    return next(iter(row.values())) if isinstance(row, dict) else row[0]


def _col(row: Any, index: int, name: str) -> Any:
    return row[name] if isinstance(row, dict) else row[index]
