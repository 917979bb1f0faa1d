"""The background work list: an item that keeps failing holds back no other, and a new item is
worked as soon as it is stored."""

from __future__ import annotations

import asyncio
import uuid

from eventsourcing.domain import Aggregate, event

from ants_runtime.cluster import LocalCoordinator
from ants_runtime.store import ServiceApplication
from ants_runtime.worklist import WorkList


class Letter(Aggregate):
    TOPIC = "worktest:Letter"
    OPENED = "worktest:Letter.Posted"
    CLOSED = "worktest:Letter.Delivered"

    class Created(Aggregate.Created):
        TOPIC = "worktest:Letter.Created"

    @event("Posted", topic=OPENED)
    def post(self) -> None:
        pass

    @event("Delivered", topic=CLOSED)
    def deliver(self) -> None:
        pass


class PostOffice(ServiceApplication):
    def post(self) -> uuid.UUID:
        letter = Letter()
        letter.post()
        self.save(letter)
        return letter.id

    def deliver(self, letter_id: uuid.UUID) -> None:
        letter: Letter = self.repository.get(letter_id)
        letter.deliver()
        self.save(letter)


async def test_a_letter_that_cannot_be_delivered_holds_back_no_other() -> None:
    office = PostOffice(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    cursed = office.post()
    attempts: dict[uuid.UUID, int] = {}
    delivered = asyncio.Event()

    async def work(letter_id: uuid.UUID) -> bool:
        attempts[letter_id] = attempts.get(letter_id, 0) + 1
        if letter_id == cursed:
            raise ConnectionRefusedError("this one never goes")
        office.deliver(letter_id)
        delivered.set()
        return True

    worklist = WorkList(office, "letters", opened=Letter.OPENED, closed=Letter.CLOSED,
                        work=work, coordinator=LocalCoordinator("worktest"), max_wait=60)
    async with worklist.running():
        # The failing letter is tried, then waits its turn; a letter posted later goes at once.
        while attempts.get(cursed, 0) < 2:

            await asyncio.sleep(0.05)
        good = office.post()
        await asyncio.wait_for(delivered.wait(), 3)

    assert attempts[good] == 1
    assert list(worklist.open) == [cursed]
    assert worklist.delayed == "letters: ConnectionRefusedError, retrying"
    # Its tries space out (0.5 s, then 1 s...) instead of holding the list.
    assert attempts[cursed] <= 3
