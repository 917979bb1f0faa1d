"""The Review aggregate's rules: claimed by one agent, decided once, with a valid reason."""

from __future__ import annotations

from uuid import uuid4

import pytest

from cert_service.domain.errors import (
    AlreadyDecided,
    ClaimedByAnother,
    InvalidDecision,
    ReviewClosed,
)
from cert_service.domain.review import Review

ALICE, BOB = uuid4(), uuid4()


def new_review() -> Review:
    return Review(
        id=uuid4(), dossier_id=uuid4(), document_id=uuid4(), account_id=uuid4(),
        sha256="0" * 64, media_type="application/pdf", size=1234,
        uploaded_at="2025-03-01T10:00:00+00:00", kind="declaration_vol",
    )


def event_names(review: Review) -> list[str]:
    return [type(e).__name__ for e in review.collect_events()]


def test_a_new_review_is_pending_and_unclaimed() -> None:
    review = new_review()
    assert review.status == "pending"
    assert review.claimed_by is None
    assert review.decision is None


def test_claiming_takes_the_review_and_claiming_again_changes_nothing() -> None:
    review = new_review()
    review.collect_events()
    review.claim(ALICE, "Alice Agent")
    review.claim(ALICE, "Alice Agent")
    assert review.status == "claimed"
    assert review.claimed_by == ALICE
    assert event_names(review) == ["Claimed"]


def test_another_agent_cannot_claim_or_decide_a_claimed_review() -> None:
    review = new_review()
    review.claim(ALICE, "Alice Agent")
    with pytest.raises(ClaimedByAnother):
        review.claim(BOB, "Bob Agent")
    with pytest.raises(ClaimedByAnother):
        review.accept(BOB, "Bob Agent")
    with pytest.raises(ClaimedByAnother):
        review.reject(BOB, "Bob Agent", "illisible", "Photo floue")
    assert review.claimed_by == ALICE
    assert review.decision is None


def test_deciding_an_unclaimed_review_claims_it_implicitly() -> None:
    review = new_review()
    review.collect_events()
    review.reject(BOB, "Bob Agent", "illisible", "  La photo est floue.  ")
    assert event_names(review) == ["Claimed", "Rejected"]
    assert review.claimed_by == BOB
    assert review.status == "rejected"
    assert review.decision is not None
    assert review.decision["note"] == "La photo est floue."
    assert review.decision["agent_name"] == "Bob Agent"


@pytest.mark.parametrize("second", ["accept", "reject"])
def test_a_review_is_decided_once(second: str) -> None:
    review = new_review()
    review.accept(ALICE, "Alice Agent", "Conforme")
    review.collect_events()
    with pytest.raises(AlreadyDecided, match="Cette pièce a déjà été traitée."):
        if second == "accept":
            review.accept(ALICE, "Alice Agent")
        else:
            review.reject(ALICE, "Alice Agent", "autre", "Finalement non")
    with pytest.raises(AlreadyDecided):
        review.claim(BOB, "Bob Agent")
    assert review.status == "accepted"
    assert event_names(review) == []


def test_a_rejection_needs_a_note_for_the_citizen() -> None:
    review = new_review()
    with pytest.raises(InvalidDecision, match="Expliquez au demandeur ce qui ne va pas.") as error:
        review.reject(ALICE, "Alice Agent", "illisible", "   ")
    assert error.value.field == "note"
    assert review.status == "pending"  # nothing happened, not even the implicit claim


@pytest.mark.parametrize("reason", ["", "flou", "ILLISIBLE"])
def test_an_unknown_rejection_reason_is_refused_with_the_accepted_list(reason: str) -> None:
    review = new_review()
    with pytest.raises(InvalidDecision) as error:
        review.reject(ALICE, "Alice Agent", reason, "Photo floue")
    message = str(error.value)
    assert error.value.field == "reason"
    for code in ("illisible", "incomplet", "non_conforme", "autre"):
        assert code in message
    assert review.decision is None


@pytest.mark.parametrize("reason", ["illisible", "incomplet", "non_conforme", "autre"])
def test_every_documented_reason_is_accepted(reason: str) -> None:
    review = new_review()
    review.reject(ALICE, "Alice Agent", reason, "À refaire")
    assert review.decision is not None and review.decision["reason"] == reason


def test_acceptance_note_is_optional() -> None:
    review = new_review()
    review.accept(ALICE, "Alice Agent")
    assert review.status == "accepted"
    assert review.decision is not None and review.decision["note"] == ""


def test_a_closed_review_cannot_be_claimed_or_decided() -> None:
    review = new_review()
    assert review.close("cancelled") is True
    assert review.close("cancelled") is False  # idempotent
    with pytest.raises(ReviewClosed, match="annulée"):
        review.claim(ALICE, "Alice Agent")
    with pytest.raises(ReviewClosed):
        review.accept(ALICE, "Alice Agent")


def test_a_decided_review_is_not_closed_afterwards() -> None:
    review = new_review()
    review.reject(ALICE, "Alice Agent", "incomplet", "Il manque la deuxième page.")
    assert review.close("cancelled") is False
    assert review.status == "rejected"
