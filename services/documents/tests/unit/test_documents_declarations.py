"""Sending the police theft declaration while the dossier awaits it, and the CERT's verdict."""

from uuid import UUID, uuid4

import pytest

from ants_events.documents import DeclarationUploadedV1
from documents_service.domain.model import (
    AccessDenied,
    DossierCancelled,
    DossierNotFound,
    NotAwaitingDeclaration,
    Reader,
)
from documents_service.domain.uploads import DamagedFile, UnsupportedFormat

NOT_AWAITING = "Ce dossier n'attend pas de déclaration de vol."


@pytest.fixture
def awaiting(documents, sample):
    sample.reason = "vol"
    documents.deliver(sample.started())
    documents.deliver(sample.submitted())
    documents.deliver(sample.theft_declaration_requested())
    return sample


def test_owner_sends_the_declaration_and_it_is_announced(documents, awaiting, pdf_bytes) -> None:
    document = documents.app.upload_declaration(awaiting.dossier_id, awaiting.account_id, pdf_bytes)

    [uploaded] = [e for e in documents.public_events() if isinstance(e, DeclarationUploadedV1)]
    assert uploaded.document_id == UUID(document["document_id"])
    assert uploaded.account_id == awaiting.account_id
    assert uploaded.media_type == "application/pdf"
    assert uploaded.size == len(pdf_bytes)
    assert uploaded.sha256 == document["sha256"]
    stored = documents.files_dir / f"{document['document_id']}.pdf"
    assert stored.read_bytes() == pdf_bytes


def test_a_second_declaration_waits_for_the_cert_verdict(documents, awaiting, pdf_bytes) -> None:
    documents.app.upload_declaration(awaiting.dossier_id, awaiting.account_id, pdf_bytes)

    with pytest.raises(NotAwaitingDeclaration, match=NOT_AWAITING):
        documents.app.upload_declaration(awaiting.dossier_id, awaiting.account_id, pdf_bytes)


def test_a_rejected_declaration_can_be_replaced_until_one_is_accepted(
    documents, awaiting, pdf_bytes, png_bytes
) -> None:
    first = documents.app.upload_declaration(awaiting.dossier_id, awaiting.account_id, pdf_bytes)
    documents.deliver(awaiting.rejected(UUID(first["document_id"])))

    second = documents.app.upload_declaration(awaiting.dossier_id, awaiting.account_id, png_bytes)
    assert second["media_type"] == "image/png"
    documents.deliver(awaiting.accepted(UUID(second["document_id"])))

    with pytest.raises(NotAwaitingDeclaration):
        documents.app.upload_declaration(awaiting.dossier_id, awaiting.account_id, pdf_bytes)


def test_a_late_rejection_of_an_older_declaration_does_not_reopen_upload(
    documents, awaiting, pdf_bytes
) -> None:
    first = documents.app.upload_declaration(awaiting.dossier_id, awaiting.account_id, pdf_bytes)
    rejection = awaiting.rejected(UUID(first["document_id"]))
    documents.deliver(rejection)
    documents.app.upload_declaration(awaiting.dossier_id, awaiting.account_id, pdf_bytes)

    documents.deliver(awaiting.rejected(UUID(first["document_id"])))

    with pytest.raises(NotAwaitingDeclaration):
        documents.app.upload_declaration(awaiting.dossier_id, awaiting.account_id, pdf_bytes)


def test_without_a_request_for_it_no_declaration_is_taken(documents, sample, pdf_bytes) -> None:
    documents.deliver(sample.started())

    with pytest.raises(NotAwaitingDeclaration, match=NOT_AWAITING):
        documents.app.upload_declaration(sample.dossier_id, sample.account_id, pdf_bytes)


def test_only_the_owner_may_send_it(documents, awaiting, pdf_bytes) -> None:
    with pytest.raises(AccessDenied):
        documents.app.upload_declaration(awaiting.dossier_id, uuid4(), pdf_bytes)
    with pytest.raises(DossierNotFound):
        documents.app.upload_declaration(uuid4(), awaiting.account_id, pdf_bytes)


def test_a_refused_file_leaves_the_dossier_awaiting(documents, awaiting, pdf_bytes) -> None:
    with pytest.raises(UnsupportedFormat):
        documents.app.upload_declaration(awaiting.dossier_id, awaiting.account_id, b"hello")
    with pytest.raises(DamagedFile):
        documents.app.upload_declaration(awaiting.dossier_id, awaiting.account_id, pdf_bytes[:-200])

    assert documents.app.upload_declaration(awaiting.dossier_id, awaiting.account_id, pdf_bytes)
    assert not list(documents.files_dir.glob("*.part"))


def test_cert_agents_and_auditors_read_declarations_other_citizens_do_not(
    documents, awaiting, jpeg_bytes
) -> None:
    document = documents.app.upload_declaration(
        awaiting.dossier_id, awaiting.account_id, jpeg_bytes
    )
    document_id = UUID(document["document_id"])

    for roles in ({"cert_agent"}, {"auditor"}):
        found, content = documents.app.open_document(document_id, Reader(uuid4(), frozenset(roles)))
        assert content.startswith(b"\xff\xd8\xff") and found["sha256"] == document["sha256"]
        assert found["media_type"] == "image/jpeg"
    with pytest.raises(AccessDenied):
        documents.app.open_document(document_id, Reader(uuid4(), frozenset({"citizen"})))
    with pytest.raises(AccessDenied):
        documents.app.open_document(document_id, Reader(uuid4(), frozenset({"operator"})))


def test_a_cancelled_request_takes_no_declaration_even_after_a_rejection(
    documents, awaiting, pdf_bytes
) -> None:
    first = documents.app.upload_declaration(awaiting.dossier_id, awaiting.account_id, pdf_bytes)
    cancellation = awaiting.cancelled()
    assert documents.deliver(cancellation)
    assert documents.deliver(cancellation.model_copy(update={"event_id": uuid4()}))
    documents.deliver(awaiting.rejected(UUID(first["document_id"])))  # would reopen the upload

    with pytest.raises(DossierCancelled, match="annulée"):
        documents.app.upload_declaration(awaiting.dossier_id, awaiting.account_id, pdf_bytes)
    # Recorded once, by dossier: the second cancellation changed nothing.
    stored = [type(e).__name__ for e in documents.app.events.get(awaiting.dossier_id)]
    assert stored.count("Cancelled") == 1
    assert not documents.app.awaits_declaration(awaiting.dossier_id)
