"""The basket's read model: each account's dossiers, newest first, a page at a time."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.application import AggregateNotFoundError

from ants_runtime.projection import Projector
from requests_service.application import RequestsApplication
from requests_service.domain.dossier import Basket, Dossier

FLEET = ("Flotte", "ESSAI")


def in_memory() -> RequestsApplication:
    return RequestsApplication(
        env={"PERSISTENCE_MODULE": "eventsourcing.popo"}, today=lambda: date(2026, 11, 27)
    )


def on_sqlite(path: Path) -> RequestsApplication:
    return RequestsApplication(
        env={"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(path)}
    )


def fleet_plate(n: int) -> str:
    return f"ZZ-{n:03d}-AA"


def start_many(app: RequestsApplication, account: UUID, numbers: range) -> list[Dossier]:
    return [
        app.start(account, *FLEET, "perte", "titulaire", False, fleet_plate(n)) for n in numbers
    ]


def every_page(
    app: RequestsApplication, account: UUID, limit: int, include_closed: bool = False
) -> list[list[UUID]]:
    pages, older_than = [], None
    while True:
        page = app.dossiers_page(account, include_closed, limit, older_than=older_than)
        pages.append([d.id for d in page.dossiers])
        if page.older_than is None:
            return pages
        older_than = page.older_than


def test_a_started_dossier_is_listed_for_its_account_only() -> None:
    app = in_memory()
    fleet, someone_else = uuid4(), uuid4()
    [dossier] = start_many(app, fleet, range(1, 2))
    Projector(app, app.dossier_list).catch_up()
    assert [d.id for d in app.dossiers_page(fleet).dossiers] == [dossier.id]
    assert app.dossiers_page(someone_else).dossiers == []


def test_pages_hold_every_dossier_once_newest_first() -> None:
    app = in_memory()
    fleet = uuid4()
    started = start_many(app, fleet, range(1, 46))
    Projector(app, app.dossier_list).catch_up()
    pages = every_page(app, fleet, limit=20)
    assert [len(p) for p in pages] == [20, 20, 5]
    assert [i for p in pages for i in p] == [d.id for d in reversed(started)]


def test_finished_dossiers_leave_the_basket_but_stay_in_the_whole_list() -> None:
    app = in_memory()
    fleet = uuid4()
    kept, cancelled, paid = start_many(app, fleet, range(1, 4))
    app.cancel(cancelled.id)
    app.declare(paid.id, True, True)
    app.submit(paid.id)
    app.save(*app.on_payment_recorded(paid.id, uuid4(), "13.76", "EUR"))
    app.save(*app.on_certificate_issued(paid.id, "CPI-1", date(2026, 12, 27), []))
    Projector(app, app.dossier_list).catch_up()
    assert [d.id for d in app.dossiers_page(fleet).dossiers] == [kept.id]
    everything = app.dossiers_page(fleet, include_closed=True).dossiers
    assert [(d.id, d.status) for d in everything] == [
        (paid.id, "completed"), (cancelled.id, "cancelled"), (kept.id, "draft")
    ]


def test_a_dossier_started_while_paging_is_on_the_first_page_and_nowhere_else() -> None:
    app = in_memory()
    fleet = uuid4()
    projector = Projector(app, app.dossier_list)
    started = start_many(app, fleet, range(1, 11))
    projector.catch_up()
    first = app.dossiers_page(fleet, limit=4)
    [newcomer] = start_many(app, fleet, range(11, 12))
    projector.catch_up()
    rest = every_page_after(app, fleet, first.older_than, limit=4)
    assert sorted([d.id for d in first.dossiers] + rest) == sorted(d.id for d in started)
    assert app.dossiers_page(fleet, limit=4).dossiers[0].id == newcomer.id


def every_page_after(
    app: RequestsApplication, account: UUID, older_than: int | None, limit: int
) -> list[UUID]:
    seen: list[UUID] = []
    while older_than is not None:
        page = app.dossiers_page(account, limit=limit, older_than=older_than)
        seen += [d.id for d in page.dossiers]
        older_than = page.older_than
    return seen


def test_the_previous_pages_are_the_ones_seen_before() -> None:
    app = in_memory()
    fleet = uuid4()
    start_many(app, fleet, range(1, 12))
    Projector(app, app.dossier_list).catch_up()
    forward = [app.dossiers_page(fleet, limit=4)]
    while forward[-1].older_than is not None:
        forward.append(app.dossiers_page(fleet, limit=4, older_than=forward[-1].older_than))
    backward = [forward[-1]]
    while backward[-1].newer_than is not None:
        backward.append(app.dossiers_page(fleet, limit=4, newer_than=backward[-1].newer_than))
    assert [[d.id for d in p.dossiers] for p in backward] == [
        [d.id for d in p.dossiers] for p in reversed(forward)
    ]
    assert forward[0].newer_than is None and forward[-1].older_than is None


def test_starting_a_dossier_no_longer_writes_to_the_basket_aggregate() -> None:
    app = in_memory()
    fleet = uuid4()
    start_many(app, fleet, range(1, 3))
    with pytest.raises(AggregateNotFoundError):
        app.repository.get(Basket.create_id(fleet))


def test_a_store_written_before_the_read_model_is_listed_by_replaying_it() -> None:
    app = in_memory()
    fleet = uuid4()
    started = start_many(app, fleet, range(1, 4))
    basket = Basket(account_id=fleet)  # what starting a dossier used to write as well
    for dossier in started:
        basket.add(dossier.id)
    app.save(basket)
    assert app.repository.get(basket.id).dossier_ids == [d.id for d in started]  # still replays
    Projector(app, app.dossier_list).catch_up()
    assert [d.id for d in app.dossiers_page(fleet).dossiers] == [d.id for d in reversed(started)]


def test_the_list_resumes_where_it_stopped_after_a_restart(tmp_path: Path) -> None:
    store = tmp_path / "requests.sqlite"
    fleet = uuid4()
    app = on_sqlite(store)
    before_restart = start_many(app, fleet, range(1, 6))
    Projector(app, app.dossier_list).catch_up()
    app.close()

    app = on_sqlite(store)
    assert app.dossier_list.position() == app.max_notification_id()
    after_restart = start_many(app, fleet, range(6, 8))
    Projector(app, app.dossier_list).catch_up()
    listed = [i for page in every_page(app, fleet, limit=3) for i in page]
    assert listed == [d.id for d in reversed(before_restart + after_restart)]
    app.close()


def test_a_row_never_goes_back_to_an_older_state(tmp_path: Path) -> None:
    """Two replicas may project the same dossier at once; the newer state wins."""
    app = on_sqlite(tmp_path / "requests.sqlite")
    fleet = uuid4()
    [dossier] = start_many(app, fleet, range(1, 2))
    projector = Projector(app, app.dossier_list)
    projector.catch_up()
    [draft] = app.dossier_list.page(fleet, include_closed=True, before=None, limit=1)
    app.cancel(dossier.id)
    projector.catch_up()
    app.dossier_list.save([dataclasses.replace(draft)], projector.position)  # a late replica
    [row] = app.dossier_list.page(fleet, include_closed=True, before=None, limit=1)
    assert (row.status, row.is_open) == ("cancelled", False)
    app.close()


class HeldBack:
    """A read model whose saves wait until the test lets them through."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name = inner.name
        self.saving = threading.Event()
        self.let_through = threading.Event()

    def position(self) -> int:
        return self.inner.position()

    def changes(self, notifications: Any) -> Any:
        return self.inner.changes(notifications)

    def save(self, changes: Any, position: int) -> None:
        self.saving.set()
        self.let_through.wait(30)
        self.inner.save(changes, position)


async def test_a_reader_is_answered_once_the_list_holds_what_was_stored_before() -> None:
    app = in_memory()
    # As on PostgreSQL, where the save runs on a worker thread while the loop serves readers
    # (an embedded store saves on the loop: no reader comes in between).
    app.call = lambda operation, *args, **kwargs: asyncio.to_thread(operation, *args, **kwargs)  # type: ignore[method-assign, assignment]
    fleet = uuid4()
    held = HeldBack(app.dossier_list)
    projector = Projector(app, held)
    async with projector.running():
        [dossier] = await asyncio.to_thread(start_many, app, fleet, range(1, 2))
        assert await asyncio.to_thread(held.saving.wait, 30)
        assert not await projector.caught_up(timeout=0)  # the dossier is not in the list yet
        held.let_through.set()
        assert await projector.caught_up(timeout=30)
        assert [d.id for d in app.dossiers_page(fleet).dossiers] == [dossier.id]
