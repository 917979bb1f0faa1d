"""Relay positions kept beside the service's events, in the same database."""

from __future__ import annotations

from typing import Any


class PositionStore:
    """Last notification id each relay published, in a table of the service's own store."""

    def __init__(self, datastore: Any) -> None:
        self._datastore = datastore
        self._param = "?" if type(datastore).__module__.endswith("sqlite") else "%s"
        with self._datastore.transaction(commit=True) as cursor:
            cursor.execute(
                "CREATE TABLE IF NOT EXISTS relay_positions "
                "(name TEXT PRIMARY KEY, position BIGINT NOT NULL)"
            )

    def get(self, name: str) -> int:
        with self._datastore.transaction(commit=False) as cursor:
            cursor.execute(f"SELECT position FROM relay_positions WHERE name = {self._param}", [name])
            row = cursor.fetchone()
        if row is None:
            return 0
        return int(row["position"] if isinstance(row, dict) else row[0])

    def set(self, name: str, position: int) -> None:
        p = self._param
        with self._datastore.transaction(commit=True) as cursor:
            cursor.execute(
                f"INSERT INTO relay_positions (name, position) VALUES ({p}, {p}) "
                "ON CONFLICT (name) DO UPDATE SET position = excluded.position",
                [name, position],
            )


class ConsumedOffsets:
    """Where a consumer may resume each partition: the next offset to read and the ce_id of
    the record just before it. Only a hint that saves reading a partition from its start: it
    is used only when that record is still found there (see InboundEvents), and what was
    processed is decided by the tracking rows whatever the hint says."""

    def __init__(self, datastore: Any) -> None:
        self._datastore = datastore
        self._param = "?" if type(datastore).__module__.endswith("sqlite") else "%s"
        with self._datastore.transaction(commit=True) as cursor:
            cursor.execute(
                "CREATE TABLE IF NOT EXISTS consumed_offsets (topic TEXT NOT NULL, "
                "partition_number INTEGER NOT NULL, next_offset BIGINT NOT NULL, "
                "last_id TEXT NOT NULL, PRIMARY KEY (topic, partition_number))"
            )

    def get_all(self) -> dict[tuple[str, int], tuple[int, str]]:
        with self._datastore.transaction(commit=False) as cursor:
            cursor.execute("SELECT topic, partition_number, next_offset, last_id FROM consumed_offsets")
            rows = cursor.fetchall()
        found: dict[tuple[str, int], tuple[int, str]] = {}
        for row in rows:
            values = list(row.values()) if isinstance(row, dict) else list(row)
            found[(str(values[0]), int(values[1]))] = (int(values[2]), str(values[3]))
        return found

    def set_many(self, offsets: dict[tuple[str, int], tuple[int, str]]) -> None:
        if not offsets:
            return
        p = self._param
        with self._datastore.transaction(commit=True) as cursor:
            for (topic, partition), (offset, last_id) in offsets.items():
                cursor.execute(
                    "INSERT INTO consumed_offsets (topic, partition_number, next_offset, last_id) "
                    f"VALUES ({p}, {p}, {p}, {p}) ON CONFLICT (topic, partition_number) "
                    "DO UPDATE SET next_offset = excluded.next_offset, last_id = excluded.last_id",
                    [topic, partition, offset, last_id],
                )
