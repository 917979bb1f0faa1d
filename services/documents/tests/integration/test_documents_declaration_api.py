"""The real service: a citizen sends the police theft declaration while the dossier awaits it."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import time
from uuid import UUID, uuid4

import pytest
from PIL import Image

from ants_events import topics
from ants_events.documents import DeclarationUploadedV1

NOT_AWAITING = "Ce dossier n'attend pas de déclaration de vol."
FIVE_MB = 5 * 1024 * 1024


def same_picture(served: bytes, sent: bytes) -> bool:
    with Image.open(io.BytesIO(served)) as a, Image.open(io.BytesIO(sent)) as b:
        return (a.format, a.size) == (b.format, b.size)


@pytest.fixture
def theft(sample):
    sample.reason = "vol"
    return sample


def upload(content: bytes, name: str = "declaration.pdf", media_type: str = "application/pdf"):
    return {"file": (name, content, media_type)}


async def send(service, dossier, content: bytes, account_id: UUID | None = None, **kwargs):
    headers = service.keys.token(account_id or dossier.account_id)
    async with service.http() as http:
        return await http.post(
            f"/dossiers/{dossier.dossier_id}/attachments", files=upload(content, **kwargs),
            headers=headers,
        )


async def until_awaiting(service, dossier, timeout: float = 20.0) -> None:
    """Wait until the dossier takes a declaration: an empty file is then refused as empty
    (and leaves nothing behind) instead of the dossier being unknown or not awaiting."""
    deadline = time.monotonic() + timeout
    while True:
        response = await send(service, dossier, b"")
        if response.status_code == 422:
            return
        assert time.monotonic() < deadline, response.text
        await asyncio.sleep(0.2)


async def declarations_uploaded(service, dossier_id: UUID, count: int, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while True:
        found = await service.events_about(
            topics.DOCUMENTS, dossier_id, DeclarationUploadedV1.ce_type()
        )
        if len(found) >= count or time.monotonic() > deadline:
            return [json.loads(value) for _, _, value in found]
        await asyncio.sleep(0.3)


async def test_no_declaration_is_taken_unless_the_dossier_awaits_one(
    sqlite_service, sample, pdf_bytes
) -> None:
    await sqlite_service.publish(sample.started(), sample.submitted())
    await sqlite_service.documents_when(sample.dossier_id, sample.account_id, lambda _: True)

    response = await send(sqlite_service, sample, pdf_bytes)

    assert response.status_code == 409
    assert response.json()["message"] == NOT_AWAITING


async def test_files_that_are_not_a_readable_pdf_jpeg_or_png_are_refused(
    sqlite_service, theft, pdf_bytes, png_bytes, jpeg_bytes
) -> None:
    await sqlite_service.publish(
        theft.started(), theft.submitted(), theft.theft_declaration_requested()
    )
    await until_awaiting(sqlite_service, theft)

    damaged = "Le fichier est illisible ou endommagé."
    cases = [
        (b"Ceci n'est pas un PDF.", "declaration.pdf", "application/pdf", 422,
         "Format non accepté : envoyez un fichier PDF, JPEG ou PNG."),
        (b"", "declaration.pdf", "application/pdf", 422, "Le fichier est vide."),
        (pdf_bytes[:-300], "declaration.pdf", "application/pdf", 422, damaged),
        (png_bytes[:-20], "photo.png", "image/png", 422, damaged),
        (jpeg_bytes[:-30], "photo.jpg", "image/jpeg", 422, damaged),
        (pdf_bytes + b" " * (FIVE_MB - len(pdf_bytes) + 1), "declaration.pdf", "application/pdf",
         413, "Le fichier dépasse la taille maximale de 5 Mo."),
        (pdf_bytes + b" " * (2 * FIVE_MB), "declaration.pdf", "application/pdf", 413,
         "Le fichier dépasse la taille maximale de 5 Mo."),
    ]
    for content, name, media_type, status, message in cases:
        response = await send(sqlite_service, theft, content, name=name, media_type=media_type)
        assert (response.status_code, response.json()["message"]) == (status, message), name

    async with sqlite_service.http() as http:
        no_file = await http.post(
            f"/dossiers/{theft.dossier_id}/attachments",
            files={"document": ("declaration.pdf", pdf_bytes, "application/pdf")},
            headers=sqlite_service.keys.token(theft.account_id),
        )
    assert no_file.status_code == 422
    assert no_file.json()["message"].startswith("Aucun fichier reçu")
    # None of these was kept: the dossier still awaits its declaration.
    assert (await send(sqlite_service, theft, pdf_bytes)).status_code == 201


async def test_theft_declaration_sent_rejected_sent_again_and_accepted(
    sqlite_service, theft, pdf_bytes, jpeg_bytes
) -> None:
    service = sqlite_service
    await service.publish(theft.started(), theft.submitted(), theft.theft_declaration_requested())
    await until_awaiting(service, theft)

    stranger = await send(service, theft, pdf_bytes, account_id=uuid4())
    assert stranger.status_code == 403

    # A PDF sent under a misleading name and type is still recognised as a PDF.
    first = await send(service, theft, pdf_bytes, name="scan.jpg", media_type="image/jpeg")
    assert first.status_code == 201
    assert first.json()["sha256"] == hashlib.sha256(pdf_bytes).hexdigest()
    first_id = UUID(first.json()["document_id"])

    again = await send(service, theft, pdf_bytes)
    assert again.status_code == 409
    assert again.json()["message"] == NOT_AWAITING

    [announced] = await declarations_uploaded(service, theft.dossier_id, 1)
    assert announced["document_id"] == str(first_id)
    assert announced["account_id"] == str(theft.account_id)
    assert announced["media_type"] == "application/pdf"
    assert announced["size"] == len(pdf_bytes)
    assert announced["sha256"] == hashlib.sha256(pdf_bytes).hexdigest()

    await service.publish(theft.rejected(first_id))
    await until_awaiting(service, theft)
    second = await send(service, theft, jpeg_bytes, name="photo.jpg", media_type="image/jpeg")
    assert second.status_code == 201
    second_id = UUID(second.json()["document_id"])
    assert len(await declarations_uploaded(service, theft.dossier_id, 2)) == 2

    listed = await service.documents_when(
        theft.dossier_id, theft.account_id, lambda docs: len(docs) == 2
    )
    assert [(d["kind"], d["media_type"]) for d in listed] == [
        ("declaration", "application/pdf"), ("declaration", "image/jpeg"),
    ]

    async with service.http() as http:
        for roles in (("citizen",), ("cert_agent",), ("auditor",)):
            account = theft.account_id if roles == ("citizen",) else uuid4()
            response = await http.get(
                f"/documents/{second_id}", headers=service.keys.token(account, *roles)
            )
            assert response.status_code == 200, roles
            assert same_picture(response.content, jpeg_bytes)  # re-encoded from its pixels
            assert hashlib.sha256(response.content).hexdigest() == second.json()["sha256"]
            assert response.headers["content-type"] == "image/jpeg"
        other = await http.get(f"/documents/{second_id}", headers=service.keys.token(uuid4()))
        assert other.status_code == 403

    await service.publish(theft.accepted(second_id))
    accepted = await send(service, theft, pdf_bytes)
    assert accepted.status_code == 409


async def test_no_declaration_is_taken_once_the_request_is_cancelled(
    sqlite_service, theft, another_dossier, pdf_bytes
) -> None:
    await sqlite_service.publish(
        theft.started(), theft.submitted(), theft.theft_declaration_requested()
    )
    await until_awaiting(sqlite_service, theft)

    # The cancellation, then a barrier behind it on the same partition: once the barrier
    # dossier is known, the cancellation was handled.
    barrier = another_dossier
    await sqlite_service.publish(theft.cancelled(), barrier.started())
    await sqlite_service.documents_when(barrier.dossier_id, barrier.account_id, lambda _: True)

    response = await send(sqlite_service, theft, pdf_bytes)
    assert response.status_code == 409
    assert response.json()["message"] == (
        "Cette demande a été annulée : elle n'accepte plus de document."
    )
    listed = await sqlite_service.documents_when(theft.dossier_id, theft.account_id, lambda _: True)
    assert listed == []  # nothing was stored


async def test_strangers_uploads_are_refused_unread_and_memory_stays_bounded(
    sqlite_service, theft, pdf_bytes
) -> None:
    """50 concurrent 5 MB uploads by someone who is not the dossier's owner: all refused
    before their body is read, and the process stays small."""
    await sqlite_service.publish(
        theft.started(), theft.submitted(), theft.theft_declaration_requested()
    )
    await until_awaiting(sqlite_service, theft)
    before = sqlite_service.peak_memory_mb()
    big = pdf_bytes + b" " * (FIVE_MB - len(pdf_bytes) - 1)

    answers = await asyncio.gather(*(
        send(sqlite_service, theft, big, account_id=uuid4()) for _ in range(50)
    ))

    assert {a.status_code for a in answers} == {403}
    assert sqlite_service.peak_memory_mb() < max(150, before + 30)
    owner = await send(sqlite_service, theft, pdf_bytes)  # the dossier still takes the owner's
    assert owner.status_code == 201, owner.text


async def test_a_polyglot_is_refused_and_declarations_are_served_as_inert_files(
    sqlite_service, theft, png_bytes
) -> None:
    service = sqlite_service
    await service.publish(theft.started(), theft.submitted(), theft.theft_declaration_requested())
    await until_awaiting(service, theft)

    # A PNG with a web page and a ZIP after its end (IEND).
    script = b"<html><body><script>alert(document.cookie)</script></body></html>"
    polyglot = png_bytes + script + b"PK\x03\x04\x14\x00\x00\x00" + script
    refused = await send(service, theft, polyglot, name="photo.png", media_type="image/png")
    assert refused.status_code == 422
    assert refused.json()["message"].startswith(
        "Ce fichier contient autre chose qu'un document PDF, JPEG ou PNG"
    )
    listed = await service.documents_when(theft.dossier_id, theft.account_id, lambda _: True)
    assert listed == []  # nothing was stored

    accepted = await send(service, theft, png_bytes, name="photo.png", media_type="image/png")
    assert accepted.status_code == 201
    document_id = accepted.json()["document_id"]
    [announced] = await declarations_uploaded(service, theft.dossier_id, 1)
    assert announced["document_id"] == document_id  # only the plain PNG was announced

    async with service.http() as http:
        for account, roles in ((theft.account_id, ("citizen",)), (uuid4(), ("cert_agent",))):
            response = await http.get(
                f"/documents/{document_id}", headers=service.keys.token(account, *roles)
            )
            assert response.status_code == 200
            assert response.content == png_bytes
            assert response.headers["content-type"] == "image/png"
            assert response.headers["content-disposition"].startswith("attachment;")
            assert response.headers["x-content-type-options"] == "nosniff"
            assert response.headers["content-security-policy"] == "sandbox; default-src 'none'"
