"""Identity's SQLite store kept private to the service's user: it holds password hashes and
e-mail addresses. The folder is 0700, the database and its journal files 0600."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from eventsourcing.utils import Environment

JOURNAL_SUFFIXES = ("-wal", "-shm", "-journal")


def make_store_private(env: Mapping[str, str], app_name: str, folder: Path) -> None:
    """Before the application opens its store: create the SQLite file with owner-only
    permissions (SQLite gives its journal files the database's), and tighten those an older
    version left readable by others."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder.chmod(0o700)
    # The library's own lookup: an application-name prefix (IDENTITY_SQLITE_DBNAME) wins.
    settings = Environment(app_name, {**os.environ, **env})
    dbname = settings.get("SQLITE_DBNAME") or ""
    if "sqlite" not in (settings.get("PERSISTENCE_MODULE") or "") or not dbname:
        return
    if ":memory:" in dbname or dbname.startswith("file:"):
        return
    database = Path(dbname)
    database.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass
    for path in (database, *(database.with_name(database.name + s) for s in JOURNAL_SUFFIXES)):
        if path.exists():
            path.chmod(0o600)
