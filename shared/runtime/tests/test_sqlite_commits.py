"""How the embedded store commits: SQLITE_SYNCHRONOUS on every connection, and a commit that
outlives the process killed right after it."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.domain import Aggregate, event

from ants_runtime.settings import ServiceSettings
from ants_runtime.store import ServiceApplication


class Note(Aggregate):
    @event("Written")
    def __init__(self, text: str) -> None:
        self.text = text


class Notes(ServiceApplication):
    name = "committest"


def sync_mode(app: Any) -> int:
    """The mode of two connections open at once (the pool opens one for each)."""
    datastore = app.factory.datastore
    with datastore.transaction(commit=False) as one, datastore.transaction(commit=False) as two:
        modes = set()
        for cursor in (one, two):
            cursor.execute("PRAGMA synchronous")
            modes.add(int(cursor.fetchone()[0]))
    [mode] = modes
    return mode


def test_the_service_settings_commit_without_flushing_each_time(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.delenv("SQLITE_SYNCHRONOUS", raising=False)
    settings = ServiceSettings(service_name="committest", data_dir=tmp_path)
    app = Notes(env={**settings.eventsourcing_env(), "PERSISTENCE_MODULE": "eventsourcing.sqlite"})
    assert sync_mode(app) == 1  # NORMAL
    full = Notes(env={"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                      "SQLITE_DBNAME": str(tmp_path / "full.sqlite"), "SQLITE_SYNCHRONOUS": "full"})
    assert sync_mode(full) == 2  # FULL, as asked


@pytest.mark.parametrize("mode", ["sometimes", "off"])  # OFF could corrupt the file
def test_an_unknown_or_unsafe_mode_is_refused(tmp_path: Path, mode: str) -> None:
    with pytest.raises(ValueError, match="SQLITE_SYNCHRONOUS"):
        Notes(env={"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                   "SQLITE_DBNAME": str(tmp_path / "s.sqlite"), "SQLITE_SYNCHRONOUS": mode})


WRITER = """
import os, signal, sys
sys.path.insert(0, {tests!r})
from test_sqlite_commits import Note, Notes
app = Notes(env={{"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": {db!r},
                 "SQLITE_SYNCHRONOUS": "NORMAL"}})
note = Note("écrit avant la fin")
app.save(note)
print(note.id, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_commit_outlives_the_process_killed_right_after(tmp_path: Path) -> None:
    db = str(tmp_path / "killed.sqlite")
    script = WRITER.format(tests=str(Path(__file__).parent), db=db)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == -signal.SIGKILL, done.stderr
    note_id = done.stdout.strip()
    reader = Notes(env={"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": db})
    [stored] = reader.recorder.select_events(uuid.UUID(note_id))
    assert json.loads(stored.state)["text"] == "écrit avant la fin"
