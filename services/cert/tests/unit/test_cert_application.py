"""The CERT use cases in memory: reviews open from uploads, agents decide, the thread shows."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import IntegrityError

from ants_events import cert as contracts
from cert_service.application import Agent, CertApplication
from cert_service.domain.errors import AlreadyDecided, InvalidDecision, ReviewClosed
from cert_service.domain.review import Review
from cert_service.http.views import review_view
from cert_service.integration.outbound import to_contract

ALICE = Agent(uuid4(), "Alice Agent")
BOB = Agent(uuid4(), "Bob Agent")
CITIZEN = uuid4()


@pytest.fixture
def cert() -> CertApplication:
    return CertApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})


def start(cert: CertApplication, plate: str = "FG-456-HJ") -> UUID:
    dossier_id = uuid4()
    cert.save(*cert.on_request_started(
        dossier_id, f"DUP-2025-{dossier_id.hex[:8].upper()}", CITIZEN, "vol", "titulaire", False,
        {"plate": plate, "vin": "VF1TEST", "make": "Renault", "model": "Clio"},
        {"given_name": "Camille", "family_name": "Martin", "address": ""},
    ))
    return dossier_id


def upload(cert: CertApplication, dossier_id: UUID, document_id: UUID | None = None) -> UUID:
    document_id = document_id or uuid4()
    cert.save(*cert.on_document_uploaded(
        dossier_id, "declaration_vol", document_id, CITIZEN, "a" * 64, "application/pdf", 2048, datetime.now(UTC)
    ))
    return document_id


def only_review(cert: CertApplication, dossier_id: UUID, status: str = "all") -> dict[str, Any]:
    rows = [r for r in cert.reviews(status) if r["dossier_id"] == str(dossier_id)]
    assert len(rows) == 1, rows
    return rows[0]


def public_events(cert: CertApplication) -> list[Any]:
    notifications = cert.recorder.select_notifications(1, 10_000)
    events = (to_contract(cert.mapper.to_domain_event(n)) for n in notifications)
    return [e for e in events if e is not None]


def test_an_uploaded_declaration_opens_a_pending_review_with_the_dossier_facts(cert) -> None:
    dossier_id = start(cert, plate="FG-456-HJ")
    document_id = upload(cert, dossier_id)
    row = only_review(cert, dossier_id, "pending")
    assert row["plate"] == "FG-456-HJ"
    assert row["document_id"] == str(document_id)
    assert row["status"] == "pending" and row["claimed_by"] is None

    view = review_view(cert.review_file(UUID(row["review_id"])))
    assert view["dossier"]["dossier_number"].startswith("DUP-2025-")
    assert view["dossier"]["reason_label"] == "Vol"
    assert view["dossier"]["holder"]["family_name"] == "Martin"
    assert view["document"]["document_url"] == f"/documents/{document_id}"
    assert view["document"]["media_type"] == "application/pdf"


def test_a_duplicated_upload_opens_one_review(cert) -> None:
    dossier_id = start(cert)
    document_id = upload(cert, dossier_id)
    assert cert.on_document_uploaded(
        dossier_id, "declaration_vol", document_id, CITIZEN, "a" * 64, "application/pdf", 2048, datetime.now(UTC)
    ) == []
    only_review(cert, dossier_id)


def test_a_declaration_arriving_before_the_request_gets_the_facts_later(cert) -> None:
    dossier_id = uuid4()
    upload(cert, dossier_id)
    assert only_review(cert, dossier_id)["plate"] is None
    cert.save(*cert.on_request_started(
        dossier_id, "DUP-2025-LATE", CITIZEN, "vol", "titulaire", False,
        {"plate": "KL-789-MN"}, {"given_name": "A", "family_name": "B"},
    ))
    assert only_review(cert, dossier_id)["plate"] == "KL-789-MN"


def test_iterative_mode_reject_reply_resend_accept(cert) -> None:
    dossier_id = start(cert)
    first_doc = upload(cert, dossier_id)
    first = UUID(only_review(cert, dossier_id)["review_id"])
    cert.claim(first, ALICE)
    cert.reject(first, ALICE, "illisible", "La déclaration est illisible, renvoyez un scan net.")

    cert.save(*cert.on_citizen_message(
        dossier_id, uuid4(), CITIZEN, "Voici un meilleur scan.", None,
        datetime.now(UTC) + timedelta(seconds=1),
    ))
    second_doc = upload(cert, dossier_id)
    second = UUID(only_review(cert, dossier_id, "pending")["review_id"])
    assert second != first
    assert cert.get_review(first).status == "rejected"  # the earlier one stays decided

    view = review_view(cert.review_file(second))
    assert view["document"]["document_id"] == str(second_doc)
    assert [d["document_id"] for d in view["earlier_decisions"]] == [str(first_doc)]
    assert view["earlier_decisions"][0]["reason_label"] == "Document illisible"
    assert [(t["kind"], t["author_role"]) for t in view["thread"]] == [
        ("decision", "cert_agent"), ("message", "citizen"),
    ]

    cert.post_agent_message(second, ALICE, "Merci, je regarde.")
    cert.accept(second, ALICE)
    kinds = [type(e) for e in public_events(cert)]
    assert kinds == [
        contracts.AttachmentRejectedV1, contracts.AgentMessagePostedV1,
        contracts.AttachmentAcceptedV1,
    ]


def test_the_rejection_event_carries_the_reason_and_note(cert) -> None:
    dossier_id = start(cert)
    document_id = upload(cert, dossier_id)
    review_id = UUID(only_review(cert, dossier_id)["review_id"])
    cert.reject(review_id, BOB, "incomplet", "Il manque la page 2.")
    [event] = public_events(cert)
    assert isinstance(event, contracts.AttachmentRejectedV1)
    assert (event.dossier_id, event.review_id, event.document_id) == (
        dossier_id, review_id, document_id
    )
    assert (event.agent_id, event.reason, event.note) == (BOB.account_id, "incomplet",
                                                          "Il manque la page 2.")
    assert event.subject == str(dossier_id)


class RacingCert(CertApplication):
    """Makes two agents read the same version of a review before either saves."""

    def __init__(self) -> None:
        super().__init__(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
        self.barrier = threading.Barrier(2)
        self.first_read = threading.local()

    def get_review(self, review_id: UUID) -> Review:
        review = super().get_review(review_id)
        if not getattr(self.first_read, "done", False):
            self.first_read.done = True
            self.barrier.wait(timeout=5)
        return review


def test_two_saves_of_the_same_version_conflict(cert) -> None:
    dossier_id = start(cert)
    upload(cert, dossier_id)
    review_id = UUID(only_review(cert, dossier_id)["review_id"])
    mine, theirs = cert.get_review(review_id), cert.get_review(review_id)
    mine.accept(ALICE.account_id, ALICE.name)
    theirs.reject(BOB.account_id, BOB.name, "autre", "Non")
    cert.save(mine)
    with pytest.raises(IntegrityError):
        cert.save(theirs)
    assert cert.get_review(review_id).status == "accepted"


def test_concurrent_decisions_give_one_decision_and_one_refusal() -> None:
    cert = RacingCert()
    dossier_id = start(cert)
    upload(cert, dossier_id)
    review_id = UUID(only_review(cert, dossier_id)["review_id"])
    outcomes: list[str] = []

    def decide(agent: Agent) -> None:
        try:
            cert.accept(review_id, agent, "OK")
            outcomes.append("accepted")
        except AlreadyDecided:
            outcomes.append("refused")

    threads = [threading.Thread(target=decide, args=(a,)) for a in (ALICE, BOB)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["accepted", "refused"]
    assert len(public_events(cert)) == 1


def test_cancelling_the_request_closes_pending_reviews_and_blocks_new_ones(cert) -> None:
    dossier_id = start(cert)
    upload(cert, dossier_id)
    review_id = UUID(only_review(cert, dossier_id)["review_id"])
    cert.save(*cert.on_request_cancelled(dossier_id, "Annulée par le demandeur"))
    assert cert.on_request_cancelled(dossier_id, "Annulée par le demandeur") == []
    assert only_review(cert, dossier_id)["status"] == "closed"
    with pytest.raises(ReviewClosed):
        cert.accept(review_id, ALICE)
    assert cert.on_document_uploaded(
        dossier_id, "declaration_vol", uuid4(), CITIZEN, "b" * 64, "image/jpeg", 10, datetime.now(UTC)
    ) == []


def test_a_newer_file_supersedes_an_undecided_review(cert) -> None:
    dossier_id = start(cert)
    upload(cert, dossier_id)
    upload(cert, dossier_id)
    statuses = [r["status"] for r in cert.reviews("all") if r["dossier_id"] == str(dossier_id)]
    assert statuses == ["closed", "pending"]


def test_the_queue_lists_oldest_first_and_filters_by_status(cert) -> None:
    dossiers = [start(cert) for _ in range(3)]
    for dossier_id in dossiers:
        upload(cert, dossier_id)
    assert [r["dossier_id"] for r in cert.reviews()] == [str(d) for d in dossiers]
    middle = UUID(cert.reviews()[1]["review_id"])
    cert.claim(middle, ALICE)
    assert [r["review_id"] for r in cert.reviews("claimed")] == [str(middle)]
    assert len(cert.reviews("pending")) == 2
    assert len(cert.reviews("all")) == 3
    with pytest.raises(InvalidDecision, match="Statut inconnu"):
        cert.reviews("done")


def test_citizen_messages_are_recorded_once(cert) -> None:
    dossier_id = start(cert)
    message_id = uuid4()
    at = datetime.now(UTC)
    cert.save(*cert.on_citizen_message(dossier_id, message_id, CITIZEN, "Bonjour", None, at))
    assert cert.on_citizen_message(dossier_id, message_id, CITIZEN, "Bonjour", None, at) == []
    assert len(cert.dossier_file(dossier_id).messages) == 1


def test_an_empty_agent_message_is_refused(cert) -> None:
    dossier_id = start(cert)
    upload(cert, dossier_id)
    review_id = UUID(only_review(cert, dossier_id)["review_id"])
    with pytest.raises(InvalidDecision, match="Le message est vide."):
        cert.post_agent_message(review_id, ALICE, "  ")
    assert public_events(cert) == []


def test_the_queue_is_rebuilt_from_the_store_after_a_restart(tmp_path) -> None:
    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite",
           "SQLITE_DBNAME": str(tmp_path / "cert.sqlite")}
    before = CertApplication(env=env)
    dossier_id = start(before)
    upload(before, dossier_id)
    review_id = UUID(only_review(before, dossier_id)["review_id"])
    before.claim(review_id, ALICE)
    before.close()

    after = CertApplication(env=env)
    row = only_review(after, dossier_id, "claimed")
    assert (row["review_id"], row["claimed_by_name"], row["plate"]) == (
        str(review_id), "Alice Agent", "FG-456-HJ"
    )
    after.close()
