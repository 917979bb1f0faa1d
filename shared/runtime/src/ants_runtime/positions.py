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
