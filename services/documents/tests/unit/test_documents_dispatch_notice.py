"""Once the definitive certificate is posted, the holder gets a dispatch notice: the mention
« DUPLICATA » and its date, the registered letter's number; the summary stays as it was."""

import asyncio
import subprocess
from uuid import UUID, uuid4

import pytest

from documents_service.adapters.printing import Dispatch, PrintOrder, SimulatedPrintingOffice
from documents_service.domain.model import AccessDenied, Reader


def owner(sample) -> Reader:
    return Reader(sample.account_id, frozenset({"citizen"}))


def dispatched(documents, sample) -> list[dict]:
    documents.deliver(sample.started())
    documents.deliver(sample.submitted())
    documents.deliver(sample.paid())
    before = documents.app.documents_of(sample.dossier_id, owner(sample))
    office = SimulatedPrintingOffice(seconds=0)
    assert asyncio.run(documents.app.produce_definitive(sample.dossier_id, office))
    return before


def pdf_text(content: bytes) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=content, capture_output=True, check=True
    ).stdout.decode()


def test_the_dispatch_adds_a_notice_with_the_duplicate_mention_and_tracking_number(
    documents, sample
) -> None:
    before = dispatched(documents, sample)
    listed = documents.app.documents_of(sample.dossier_id, owner(sample))
    assert [d["kind"] for d in listed] == ["cpi", "recapitulatif", "avis_expedition"]
    assert listed[:2] == before, "the CPI and the summary are not rewritten"

    dossier = documents.app.repository.get(sample.dossier_id)
    definitive = dossier.definitive
    _, content = documents.app.open_document(UUID(listed[2]["document_id"]), owner(sample))
    text = pdf_text(content)
    day, month, year = definitive["duplicate_date"].split("-")[::-1]
    for expected in ("AVIS D'EXPÉDITION DU DUPLICATA", f"DUPLICATA du {day}/{month}/{year}",
                     "Lettre recommandée n°", definitive["tracking_number"],
                     sample.plate):
        assert expected in text, expected


def test_a_second_dispatch_report_adds_no_second_notice(documents, sample) -> None:
    dispatched(documents, sample)
    office = SimulatedPrintingOffice(seconds=0)
    asyncio.run(documents.app.produce_definitive(sample.dossier_id, office))
    kinds = [d["kind"] for d in documents.app.documents_of(sample.dossier_id, owner(sample))]
    assert kinds.count("avis_expedition") == 1
    assert office.printed == []


def test_only_the_owner_reads_the_notice(documents, sample) -> None:
    dispatched(documents, sample)
    notice = documents.app.documents_of(sample.dossier_id, owner(sample))[-1]
    for roles in ({"citizen"}, {"cert_agent"}):
        with pytest.raises(AccessDenied):
            documents.app.open_document(
                UUID(notice["document_id"]), Reader(uuid4(), frozenset(roles))
            )


def test_the_printing_office_makes_orders_side_by_side() -> None:
    office = SimulatedPrintingOffice(seconds=0.3)
    orders = [PrintOrder(f"DUP-{n}", f"AB-12{n}-CD", {}, "DUPLICATA", "2026-11-29") for n in range(50)]

    async def hand_over() -> list[Dispatch | None]:
        assert [await office.produce(o) for o in orders] == [None] * 50  # all being made
        await asyncio.sleep(0.35)
        return [await office.produce(o) for o in orders]

    sent = asyncio.run(hand_over())
    # Fifty orders are posted together 0.3 s after they came, not one after the other.
    assert None not in sent and len({s.tracking_number for s in sent if s}) == 50
    assert office.printed == orders
