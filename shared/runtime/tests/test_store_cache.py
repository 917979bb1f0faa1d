"""The aggregate cache: a replica reads what another replica stored since it cached an
aggregate, and a command that fails leaves the cached aggregate as it was."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from eventsourcing.domain import Aggregate, event

from ants_runtime.store import ServiceApplication


class Tally(Aggregate):
    TOPIC = "cachetest:Tally"

    class Created(Aggregate.Created):
        TOPIC = "cachetest:Tally.Created"

    @event("Created", topic="cachetest:Tally.Created")
    def __init__(self) -> None:
        self.marks: list[str] = []

    @event("Marked", topic="cachetest:Tally.Marked")
    def mark(self, what: str) -> None:
        self.marks.append(what)


class Tallies(ServiceApplication):
    name = "cachetest"


def replica(path: Path) -> Any:
    return Tallies(env={"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(path)})


def test_a_cached_aggregate_shows_what_another_replica_stored_since(tmp_path: Path) -> None:
    one, two = replica(tmp_path / "s.sqlite"), replica(tmp_path / "s.sqlite")
    assert one.repository.cache is not None  # the cache is on by default
    tally = Tally()
    tally.mark("un")
    one.save(tally)
    assert one.repository.get(tally.id).marks == ["un"]  # now cached by the first replica

    theirs = two.repository.get(tally.id)
    theirs.mark("deux")
    two.save(theirs)

    assert one.repository.get(tally.id).marks == ["un", "deux"]


def test_a_command_that_fails_leaves_the_cached_aggregate_untouched(tmp_path: Path) -> None:
    app = replica(tmp_path / "s.sqlite")
    tally = Tally()
    app.save(tally)
    app.repository.get(tally.id)

    def failing_command() -> None:
        mine = app.repository.get(tally.id)
        mine.mark("jamais enregistré")
        raise ValueError("refused before saving")

    with pytest.raises(ValueError):
        failing_command()
    assert app.repository.get(tally.id).marks == []
