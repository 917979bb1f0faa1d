"""The dossiers of each account, newest first: the read model behind the basket.

One row per dossier, kept up to date by a projector (`ants_runtime.projection`) that follows
the application's notification log. A page of an account's dossiers is one indexed query:
it costs the same whether the account holds three dossiers or thirty thousand.

Dossiers are ordered by the notification id of their first event (`started_seq`): it only
grows, so it gives "newest first" and cursors (older than / newer than a dossier) that stay
valid while dossiers are added.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from ants_runtime.projection import SqlTables
from ants_runtime.store import ServiceApplication, aggregate_id
from eventsourcing.persistence import Notification

from requests_service.domain.dossier import Dossier

LoadDossier = Callable[[UUID], Dossier]


@dataclass(frozen=True)
class DossierRow:
    dossier_id: UUID
    account_id: UUID
    dossier_number: str
    started_at: str
    status: str
    is_open: bool
    plate: str
    version: int
    started_seq: int


def rows_for(notifications: Sequence[Notification], load: LoadDossier) -> list[DossierRow]:
    """The rows of the dossiers these notifications changed, as the dossiers are now.

    Each dossier is loaded once per batch, from its own stream (snapshots keep that short);
    a row taken from a newer state than the batch is harmless, as rows never go back.
    """
    first_seen: dict[UUID, int] = {}
    for notification in notifications:
        if notification.topic.startswith(f"{Dossier.TOPIC}."):
            first_seen.setdefault(aggregate_id(notification.originator_id), notification.id)
    return [row_of(load(dossier_id), seq) for dossier_id, seq in first_seen.items()]


def row_of(dossier: Dossier, started_seq: int) -> DossierRow:
    return DossierRow(
        dossier_id=dossier.id, account_id=dossier.account_id,
        dossier_number=dossier.dossier_number, started_at=dossier.started_at,
        status=dossier.status, is_open=dossier.is_open, plate=dossier.vehicle["plate"],
        version=dossier.version, started_seq=started_seq,
    )


def dossier_list_of(
    app: ServiceApplication, load: LoadDossier
) -> SqlDossierList | MemoryDossierList:
    """The read model in the application's database, or in memory for an in-memory store."""
    if hasattr(app.recorder, "datastore"):
        return SqlDossierList(app, load)
    return MemoryDossierList(load)


COLUMNS = (
    "dossier_id", "account_id", "dossier_number", "started_at", "status", "is_open", "plate",
    "version", "started_seq",
)


class SqlDossierList:
    name = "dossier_list"

    def __init__(self, app: ServiceApplication, load: LoadDossier) -> None:
        self.load = load
        self.sql = SqlTables(app)
        table = self.sql.table(self.name)
        with self.sql.transaction(commit=True) as cursor:
            cursor.execute(
                f"CREATE TABLE IF NOT EXISTS {table} (dossier_id TEXT PRIMARY KEY, "
                "account_id TEXT NOT NULL, dossier_number TEXT NOT NULL, "
                "started_at TEXT NOT NULL, status TEXT NOT NULL, is_open BOOLEAN NOT NULL, "
                "plate TEXT NOT NULL, version INTEGER NOT NULL, started_seq BIGINT NOT NULL)"
            )
            cursor.execute(
                f"CREATE INDEX IF NOT EXISTS dossier_list_by_account "
                f"ON {table} (account_id, started_seq)"
            )
            cursor.execute(
                f"CREATE INDEX IF NOT EXISTS dossier_list_open_by_account "
                f"ON {table} (account_id, is_open, started_seq)"
            )

    def position(self) -> int:
        return self.sql.saved_position(self.name)

    def changes(self, notifications: Sequence[Notification]) -> list[DossierRow]:
        return rows_for(notifications, self.load)

    def save(self, rows: list[DossierRow], position: int) -> None:
        # The version check keeps a row from going back when two replicas project at once.
        upsert = (
            f"INSERT INTO {self.sql.table(self.name)} AS listed ({', '.join(COLUMNS)}) "
            f"VALUES ({self.sql.params(len(COLUMNS))}) ON CONFLICT (dossier_id) DO UPDATE "
            "SET status = excluded.status, is_open = excluded.is_open, "
            "version = excluded.version WHERE listed.version < excluded.version"
        )
        with self.sql.transaction(commit=True) as cursor:
            if rows:
                cursor.executemany(upsert, [_values(row) for row in rows])
            self.sql.save_position(cursor, self.name, position)

    def page(
        self, account_id: UUID, *, include_closed: bool, before: int | None = None,
        after: int | None = None, limit: int,
    ) -> list[DossierRow]:
        """Up to `limit` of the account's dossiers, newest first: the newest ones started
        before `before`, or the oldest ones started after `after` (a page back)."""
        p = self.sql.param
        table = self.sql.table(self.name)
        query = f"SELECT {', '.join(COLUMNS)} FROM {table} WHERE account_id = {p}"
        params: list[Any] = [str(account_id)]
        if not include_closed:
            query += f" AND is_open = {p}"
            params.append(True)
        if before is not None:
            query += f" AND started_seq < {p}"
            params.append(before)
        if after is not None:
            query += f" AND started_seq > {p}"
            params.append(after)
        query += f" ORDER BY started_seq {'ASC' if after is not None else 'DESC'} LIMIT {p}"
        params.append(limit)
        with self.sql.transaction(commit=False) as cursor:
            cursor.execute(query, params)
            rows = [_row(found) for found in cursor.fetchall()]
        return rows[::-1] if after is not None else rows


class MemoryDossierList:
    """The same, for an application whose events live in memory (unit tests)."""

    name = "dossier_list"

    def __init__(self, load: LoadDossier) -> None:
        self.load = load
        self._lock = threading.Lock()
        self._position = 0
        self._rows: dict[UUID, DossierRow] = {}
        self._by_account: dict[UUID, list[UUID]] = defaultdict(list)  # in started order

    def position(self) -> int:
        return self._position

    def changes(self, notifications: Sequence[Notification]) -> list[DossierRow]:
        return rows_for(notifications, self.load)

    def save(self, rows: list[DossierRow], position: int) -> None:
        with self._lock:
            for row in rows:
                known = self._rows.get(row.dossier_id)
                if known is None:
                    self._by_account[row.account_id].append(row.dossier_id)
                    self._rows[row.dossier_id] = row
                elif known.version < row.version:
                    self._rows[row.dossier_id] = row
            self._position = max(self._position, position)

    def page(
        self, account_id: UUID, *, include_closed: bool, before: int | None = None,
        after: int | None = None, limit: int,
    ) -> list[DossierRow]:
        with self._lock:
            rows = [self._rows[i] for i in reversed(self._by_account.get(account_id, []))]
        found = [
            row for row in rows
            if (include_closed or row.is_open)
            and (before is None or row.started_seq < before)
            and (after is None or row.started_seq > after)
        ]
        return found[-limit:] if after is not None else found[:limit]


def _values(row: DossierRow) -> list[Any]:
    return [
        str(row.dossier_id), str(row.account_id), row.dossier_number, row.started_at, row.status,
        row.is_open, row.plate, row.version, row.started_seq,
    ]


def _row(found: Any) -> DossierRow:
    return DossierRow(
        dossier_id=UUID(found["dossier_id"]), account_id=UUID(found["account_id"]),
        dossier_number=found["dossier_number"], started_at=found["started_at"],
        status=found["status"], is_open=bool(found["is_open"]), plate=found["plate"],
        version=int(found["version"]), started_seq=int(found["started_seq"]),
    )
