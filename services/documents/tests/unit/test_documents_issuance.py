"""Issuing the CPI and the summary once a dossier is paid, exactly once, whatever the order."""

import hashlib
from datetime import date, datetime, UTC
from pathlib import Path
from uuid import UUID, uuid4

import pytest

from ants_events.documents import CertificateIssuedV1
from documents_service.domain.model import AccessDenied, DocumentNotFound, DossierNotFound, Reader


def owner(sample) -> Reader:
    return Reader(sample.account_id, frozenset({"citizen"}))


def complete(documents, sample, paid_at: datetime | None = None) -> None:
    documents.deliver(sample.started())
    documents.deliver(sample.submitted())
    documents.deliver(sample.paid(paid_at))


def test_payment_issues_a_cpi_and_a_summary_stored_as_files(documents, sample) -> None:
    complete(documents, sample)

    listed = documents.app.documents_of(sample.dossier_id, owner(sample))

    assert [d["kind"] for d in listed] == ["cpi", "recapitulatif"]
    for document in listed:
        path = documents.files_dir / f"{document['document_id']}.pdf"
        content = path.read_bytes()
        assert content.startswith(b"%PDF-")
        assert document["sha256"] == hashlib.sha256(content).hexdigest()
        assert document["size"] == len(content)
        assert document["media_type"] == "application/pdf"
    assert not list(documents.files_dir.glob(".incoming-*")), "no temporary file left behind"


def test_certificate_issued_names_the_certificate_and_both_documents(documents, sample) -> None:
    paid_at = datetime(2025, 1, 31, 10, 0, tzinfo=UTC)
    complete(documents, sample, paid_at)

    [issued] = [e for e in documents.public_events() if isinstance(e, CertificateIssuedV1)]

    assert issued.dossier_id == sample.dossier_id
    assert issued.certificate_number.startswith("CPI-2025-")
    assert issued.valid_until == date(2025, 2, 28)
    listed = documents.app.documents_of(sample.dossier_id, owner(sample))
    assert {(str(r.document_id), r.kind) for r in issued.documents} == {
        (d["document_id"], d["kind"]) for d in listed
    }


def test_issue_date_is_the_french_calendar_day_of_the_payment(documents, sample) -> None:
    # 23:30 UTC on 31 March is already 1 April in Paris.
    complete(documents, sample, datetime(2025, 3, 31, 23, 30, tzinfo=UTC))

    [issued] = [e for e in documents.public_events() if isinstance(e, CertificateIssuedV1)]

    assert issued.valid_until == date(2025, 5, 1)


def test_a_second_payment_record_issues_nothing_new(documents, sample) -> None:
    complete(documents, sample)
    before = documents.app.documents_of(sample.dossier_id, owner(sample))

    documents.deliver(sample.paid())

    assert documents.app.documents_of(sample.dossier_id, owner(sample)) == before
    issued = [e for e in documents.public_events() if isinstance(e, CertificateIssuedV1)]
    assert len(issued) == 1


def test_the_same_record_delivered_twice_is_processed_once(documents, sample) -> None:
    documents.deliver(sample.started())
    documents.deliver(sample.submitted())
    payment = sample.paid()

    assert documents.deliver(payment, sequence=7) is True
    assert documents.deliver(payment, sequence=7) is False


def test_payment_seen_before_the_dossier_details_still_issues_once_all_are_known(
    documents, sample
) -> None:
    documents.deliver(sample.paid())
    assert not [e for e in documents.public_events() if isinstance(e, CertificateIssuedV1)]

    documents.deliver(sample.started())
    documents.deliver(sample.submitted())

    listed = documents.app.documents_of(sample.dossier_id, owner(sample))
    assert [d["kind"] for d in listed] == ["cpi", "recapitulatif"]


def test_a_retry_from_scratch_writes_identical_files_under_identical_ids(
    tmp_path: Path, sample, fresh_documents
) -> None:
    first, second = fresh_documents(tmp_path / "first"), fresh_documents(tmp_path / "second")
    events = [sample.started(), sample.submitted(), sample.paid()]
    for documents in (first, second):
        for event in events:
            documents.deliver(event)

    def fingerprint(documents) -> list[tuple[str, str]]:
        listed = documents.app.documents_of(sample.dossier_id, owner(sample))
        return [(d["document_id"], d["sha256"]) for d in listed]

    assert fingerprint(first) == fingerprint(second)


def test_verification_gives_plate_and_validity_without_personal_data(documents, sample) -> None:
    complete(documents, sample, datetime(2025, 1, 31, 10, 0, tzinfo=UTC))
    [issued] = [e for e in documents.public_events() if isinstance(e, CertificateIssuedV1)]

    found = documents.app.verify(issued.certificate_number)

    assert found.plate == sample.plate
    assert found.valid_until == date(2025, 2, 28)
    assert found.valid_on(date(2025, 2, 28)) and not found.valid_on(date(2025, 3, 1))
    assert not hasattr(found, "holder")


def test_only_the_owner_downloads_the_cpi_and_summary(documents, sample) -> None:
    complete(documents, sample)
    cpi, summary = documents.app.documents_of(sample.dossier_id, owner(sample))

    document, content = documents.app.open_document(UUID(cpi["document_id"]), owner(sample))
    assert content.startswith(b"%PDF-")

    for roles in ({"citizen"}, {"cert_agent"}, {"auditor"}):
        with pytest.raises(AccessDenied):
            documents.app.open_document(
                UUID(summary["document_id"]), Reader(uuid4(), frozenset(roles))
            )


def test_staff_may_list_but_other_citizens_may_not(documents, sample) -> None:
    complete(documents, sample)

    assert documents.app.documents_of(sample.dossier_id, Reader(uuid4(), frozenset({"auditor"})))
    assert documents.app.documents_of(sample.dossier_id, Reader(uuid4(), frozenset({"cert_agent"})))
    with pytest.raises(AccessDenied):
        documents.app.documents_of(sample.dossier_id, Reader(uuid4(), frozenset({"citizen"})))


def test_unknown_dossier_and_document_are_not_found(documents, sample) -> None:
    with pytest.raises(DossierNotFound):
        documents.app.documents_of(uuid4(), owner(sample))
    with pytest.raises(DocumentNotFound):
        documents.app.open_document(uuid4(), owner(sample))
