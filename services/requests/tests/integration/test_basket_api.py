"""A professional's basket through the real HTTP API, on SQLite and on PostgreSQL: a fleet
with 250 dossiers reads its list a page at a time, newest first."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from uuid import uuid4

import httpx
import pytest

FLEET_SIZE = 250
CANCELLED_EVERY = 10  # one dossier in ten is given up: 25 closed, 225 in progress


@dataclass
class Fleet:
    token: str
    started: list[str] = field(default_factory=list)  # dossier ids, oldest first
    cancelled: set[str] = field(default_factory=set)

    def newest_first(self, include_closed: bool = False) -> list[str]:
        return [i for i in reversed(self.started) if include_closed or i not in self.cancelled]


async def start(http: httpx.AsyncClient, plate: str) -> str:
    response = await http.post("/dossiers", json={
        "reason": "perte", "person": "titulaire", "special_case": False, "plate": plate})
    assert response.status_code == 201, response.text
    return str(response.json()["dossier_id"])


async def every_page(http: httpx.AsyncClient, url: str, rel: str = "next") -> list[list[str]]:
    """Follow the `Link: <...>; rel="next"` (or "prev") headers from `url` to the end."""
    pages: list[list[str]] = []
    next_url: str | None = url
    while next_url is not None:
        response = await http.get(next_url)
        assert response.status_code == 200, response.text
        pages.append([d["dossier_id"] for d in response.json()])
        next_url = response.links.get(rel, {}).get("url")
    return pages


async def last_page_url(http: httpx.AsyncClient, url: str) -> str:
    while "next" in (links := (await http.get(url)).links):
        url = links["next"]["url"]
    return url


@pytest.fixture(scope="module")
def fleet(requests_stack, tokens) -> Fleet:
    """« Flotte ESSAI » with 250 dossiers, one in ten cancelled, started one after another."""
    fleet = Fleet(tokens.mint("citizen", account_id=uuid4(), given_name="Flotte",
                              family_name="ESSAI"))

    async def start_them() -> None:
        async with requests_stack.client(fleet.token) as http:
            for n in range(1, FLEET_SIZE + 1):
                dossier_id = await start(http, requests_stack.fleet_plate())
                fleet.started.append(dossier_id)
                if n % CANCELLED_EVERY == 0:
                    response = await http.post(f"/dossiers/{dossier_id}/cancel")
                    assert response.status_code == 200, response.text
                    fleet.cancelled.add(dossier_id)

    asyncio.run(start_them())
    return fleet


async def test_every_dossier_in_progress_is_listed_once_newest_first(requests_stack, fleet) -> None:
    async with requests_stack.client(fleet.token) as http:
        pages = await every_page(http, "/dossiers")
    assert [len(p) for p in pages] == [20] * 11 + [5]
    assert [i for p in pages for i in p] == fleet.newest_first()


async def test_going_back_page_by_page_shows_the_same_pages(requests_stack, fleet) -> None:
    async with requests_stack.client(fleet.token) as http:
        forward = await every_page(http, "/dossiers?limit=40")
        backward = await every_page(http, await last_page_url(http, "/dossiers?limit=40"), "prev")
    assert backward == forward[::-1]


async def test_finished_dossiers_are_listed_only_when_all_are_asked(requests_stack, fleet) -> None:
    async with requests_stack.client(fleet.token) as http:
        pages = await every_page(http, "/dossiers?all=true&limit=100")
        first = (await http.get("/dossiers", params={"all": "true", "limit": 10})).json()
    assert [len(p) for p in pages] == [100, 100, 50]
    assert [i for p in pages for i in p] == fleet.newest_first(include_closed=True)
    assert [d["status"] for d in first] == ["cancelled"] + ["draft"] * 9


async def test_a_page_size_or_cursor_out_of_bounds_is_refused(requests_stack, fleet) -> None:
    async with requests_stack.client(fleet.token) as http:
        too_many = await http.get("/dossiers", params={"limit": 101})
        forged = await http.get("/dossiers", params={"cursor": "not-a-cursor"})
    assert (too_many.status_code, too_many.json()["errors"][0]["field"]) == (422, "limit")
    assert (forged.status_code, forged.json()["errors"][0]["field"]) == (422, "cursor")


async def test_a_dossier_started_while_paging_is_on_the_first_page_only(
    requests_stack, fleet
) -> None:
    async with requests_stack.client(fleet.token) as http:
        first = await http.get("/dossiers")
        newcomer = await start(http, requests_stack.fleet_plate())
        fleet.started.append(newcomer)
        rest = await every_page(http, first.links["next"]["url"])
        again = (await http.get("/dossiers")).json()
    paged = [d["dossier_id"] for d in first.json()] + [i for p in rest for i in p]
    assert paged == fleet.newest_first()[1:]  # everything once, without the newcomer
    assert again[0]["dossier_id"] == newcomer  # which tops the list as soon as it is started


async def test_the_list_survives_a_restart_and_resumes_where_it_stopped(
    requests_stack, fleet
) -> None:
    async with requests_stack.client(fleet.token) as http:
        before = await every_page(http, "/dossiers?all=true&limit=100")
    requests_stack.service.stop()
    # Everything stored is in the list: the restarted service has nothing to replay.
    events = "stored_events" if requests_stack.store == "sqlite" else "requests_events"
    newest_event = "rowid" if requests_stack.store == "sqlite" else "notification_id"
    assert requests_stack.stored(
        "SELECT position FROM projection_positions WHERE name = 'dossier_list'"
    ) == requests_stack.stored(f"SELECT MAX({newest_event}) FROM {events}")
    requests_stack.service.start()

    async with requests_stack.client(fleet.token) as http:
        assert await every_page(http, "/dossiers?all=true&limit=100") == before
        newcomer = await start(http, requests_stack.fleet_plate())
        fleet.started.append(newcomer)
        assert (await http.get("/dossiers")).json()[0]["dossier_id"] == newcomer
