"""The CERT service as a process, fed through a real broker, as agents and others use it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import pytest

from ants_events import from_record
from ants_events.cert import AgentMessagePostedV1, AttachmentAcceptedV1, AttachmentRejectedV1
from ants_events.documents import DeclarationUploadedV1
from ants_events.requests import (
    CitizenMessagePostedV1,
    Holder,
    RequestCancelledV1,
    RequestStartedV1,
    Vehicle,
)

ALREADY_DECIDED = "Cette pièce a déjà été traitée."


def now() -> datetime:
    return datetime.now(UTC)


def request_started(dossier_id: UUID, citizen: UUID, plate: str = "GH-321-JK") -> RequestStartedV1:
    return RequestStartedV1(
        event_id=uuid4(), occurred_at=now(), dossier_id=dossier_id,
        dossier_number=f"DUP-2025-{dossier_id.hex[:8].upper()}", account_id=citizen,
        reason="vol", person="titulaire", special_case=False,
        vehicle=Vehicle(plate=plate, vin="VF1AAAAA000000001", make="Renault", model="Clio"),
        holder=Holder(given_name="Camille", family_name="Martin"),
    )


def declaration_uploaded(dossier_id: UUID, citizen: UUID) -> DeclarationUploadedV1:
    return DeclarationUploadedV1(
        event_id=uuid4(), occurred_at=now(), dossier_id=dossier_id, document_id=uuid4(),
        account_id=citizen, sha256="c" * 64, media_type="application/pdf", size=48_213,
    )


def headers_of(record: Any) -> dict[str, str]:
    return {k: v.decode() for k, v in record.headers}


def event_of(record: Any) -> Any:
    return from_record(dict(record.headers), record.value)


@pytest.fixture
def agent(token_for) -> str:
    return token_for("cert_agent", name="Alice Agent")


async def reviews_of(stack, token: str, dossier_id: UUID, status: str = "all") -> list[dict]:
    async with stack.client(token) as http:
        response = await http.get("/reviews", params={"status": status})
    assert response.status_code == 200, response.text
    return [r for r in response.json() if r["dossier_id"] == str(dossier_id)]


async def open_review(stack, token: str) -> tuple[UUID, UUID, DeclarationUploadedV1, dict]:
    """A theft dossier whose citizen sent the police declaration: its review, once open."""
    dossier_id, citizen = uuid4(), uuid4()
    upload = declaration_uploaded(dossier_id, citizen)
    await stack.publish(request_started(dossier_id, citizen))
    await stack.publish(upload)

    async def known_review() -> dict | None:
        rows = await reviews_of(stack, token, dossier_id, "pending")
        return rows[0] if rows and rows[0]["plate"] else None

    return dossier_id, citizen, upload, await stack.eventually(known_review)


async def test_only_cert_staff_reach_the_reviews(cert_stack, agent, token_for) -> None:
    _, _, _, review = await open_review(cert_stack, agent)
    rid = review["review_id"]
    calls = [
        ("GET", "/reviews", None), ("GET", f"/reviews/{rid}", None),
        ("POST", f"/reviews/{rid}/claim", None),
        ("POST", f"/reviews/{rid}/reject", {"reason": "illisible", "note": "Flou"}),
        ("POST", f"/reviews/{rid}/accept", {}),
        ("POST", f"/reviews/{rid}/messages", {"text": "Bonjour"}),
    ]
    async with cert_stack.client(token_for("citizen")) as citizen:
        for method, path, body in calls:
            response = await citizen.request(method, path, json=body)
            assert response.status_code == 403, (method, path)
            assert response.json()["message"] == "Cet espace est réservé aux agents du CERT."
    async with cert_stack.client() as anonymous:
        for method, path, body in calls:
            response = await anonymous.request(method, path, json=body)
            assert response.status_code == 401, (method, path)
            assert "connecté" in response.json()["message"]
    [row] = await reviews_of(cert_stack, agent, UUID(review["dossier_id"]))
    assert row["status"] == "pending"


async def test_an_auditor_reads_but_cannot_decide(cert_stack, agent, token_for) -> None:
    dossier_id, _, _, review = await open_review(cert_stack, agent)
    rid = review["review_id"]
    auditor = token_for("auditor")
    assert await reviews_of(cert_stack, auditor, dossier_id, "pending")
    async with cert_stack.client(auditor) as http:
        assert (await http.get(f"/reviews/{rid}")).status_code == 200
        for path, body in [("claim", None), ("accept", {}), ("messages", {"text": "Bonjour"}),
                           ("reject", {"reason": "illisible", "note": "Flou"})]:
            response = await http.post(f"/reviews/{rid}/{path}", json=body)
            assert response.status_code == 403, path
            assert response.json()["message"] == (
                "Les auditeurs peuvent consulter les pièces mais pas les traiter."
            )
    assert (await reviews_of(cert_stack, agent, dossier_id))[0]["status"] == "pending"


async def test_the_agent_sees_the_facts_and_the_document_to_download(cert_stack, agent) -> None:
    dossier_id, citizen, upload, review = await open_review(cert_stack, agent)
    assert review["dossier_number"] == f"DUP-2025-{dossier_id.hex[:8].upper()}"
    assert review["plate"] == "GH-321-JK"
    assert review["document_id"] == str(upload.document_id)
    async with cert_stack.client(agent) as http:
        detail = (await http.get(f"/reviews/{review['review_id']}")).json()
        missing = await http.get(f"/reviews/{uuid4()}")
        wrong_filter = await http.get("/reviews", params={"status": "done"})
    assert detail["dossier"]["reason_label"] == "Vol"
    assert detail["dossier"]["account_id"] == str(citizen)
    assert detail["dossier"]["vehicle"]["make"] == "Renault"
    assert detail["dossier"]["holder"]["family_name"] == "Martin"
    assert detail["document"] == {
        "document_id": str(upload.document_id), "media_type": "application/pdf",
        "sha256": "c" * 64, "size": 48_213, "uploaded_at": upload.occurred_at.isoformat(),
        "document_url": f"/documents/{upload.document_id}",
        "kind": "declaration_vol", "kind_label": "Déclaration de vol",  # a v1 upload
    }
    assert detail["thread"] == [] and detail["earlier_decisions"] == []
    assert missing.status_code == 404
    assert missing.json()["message"] == "Cette pièce à contrôler n'existe pas."
    assert wrong_filter.status_code == 422 and "Statut inconnu" in wrong_filter.json()["message"]


async def test_a_rejection_with_a_note_publishes_one_attachment_rejected(cert_stack, agent) -> None:
    dossier_id, _, upload, review = await open_review(cert_stack, agent)
    rid = review["review_id"]
    async with cert_stack.client(agent) as http:
        claimed = await http.post(f"/reviews/{rid}/claim")
        no_note = await http.post(
            f"/reviews/{rid}/reject", json={"reason": "illisible", "note": " "}
        )
        bad_reason = await http.post(f"/reviews/{rid}/reject", json={"reason": "flou", "note": "x"})
        rejected = await http.post(
            f"/reviews/{rid}/reject",
            json={"reason": "illisible", "note": "Le scan est illisible, renvoyez-le en couleur."},
        )
    assert claimed.status_code == 200 and claimed.json()["status"] == "claimed"
    assert claimed.json()["claimed_by_name"] == "Alice Agent"
    assert no_note.status_code == 422
    assert no_note.json()["message"] == "Expliquez au demandeur ce qui ne va pas."
    assert bad_reason.status_code == 422
    assert all(code in bad_reason.json()["message"]
               for code in ("illisible", "incomplet", "non_conforme", "autre"))
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["status"] == "rejected"
    assert rejected.json()["thread"][0]["text"] == "Le scan est illisible, renvoyez-le en couleur."

    [record] = await cert_stack.cert_records(dossier_id, expect=1)
    headers = headers_of(record)
    assert record.key == str(dossier_id).encode()
    assert headers["ce_type"] == "fr.ants.cert.AttachmentRejected.v1"
    assert headers["ce_subject"] == str(dossier_id)
    assert headers["ce_specversion"] == "1.0" and headers["ce_source"] == "/ants/cert"
    assert headers["content-type"] == "application/json"
    event = event_of(record)
    assert isinstance(event, AttachmentRejectedV1)
    assert headers["ce_id"] == str(event.event_id)
    assert (event.review_id, event.document_id, event.reason) == (
        UUID(rid), upload.document_id, "illisible"
    )
    assert event.note == "Le scan est illisible, renvoyez-le en couleur."

    async with cert_stack.client(agent) as http:
        again = await http.post(f"/reviews/{rid}/accept", json={})
        twice = await http.post(f"/reviews/{rid}/reject", json={"reason": "autre", "note": "x"})
    assert again.status_code == twice.status_code == 409
    assert again.json()["message"] == twice.json()["message"] == ALREADY_DECIDED
    assert len(await cert_stack.cert_records(dossier_id, expect=1)) == 1


async def test_two_agents_deciding_at_once_give_one_event_and_a_409(cert_stack, token_for) -> None:
    alice = token_for("cert_agent", name="Alice Agent")
    bob = token_for("cert_agent", name="Bob Agent")
    dossier_id, _, _, review = await open_review(cert_stack, alice)
    path = f"/reviews/{review['review_id']}/accept"
    async with cert_stack.client(alice) as a, cert_stack.client(bob) as b:
        responses = await asyncio.gather(
            a.post(path, json={"note": "Conforme"}), b.post(path, json={"note": "Conforme"})
        )
    assert sorted(r.status_code for r in responses) == [200, 409]
    assert next(r for r in responses if r.status_code == 409).json()["message"] == ALREADY_DECIDED
    records = await cert_stack.cert_records(dossier_id, expect=1)
    assert [headers_of(r)["ce_type"] for r in records] == ["fr.ants.cert.AttachmentAccepted.v1"]


async def test_a_review_claimed_by_another_agent_cannot_be_taken(cert_stack, token_for) -> None:
    alice = token_for("cert_agent", name="Alice Agent")
    bob = token_for("cert_agent", name="Bob Agent")
    dossier_id, _, _, review = await open_review(cert_stack, alice)
    rid = review["review_id"]
    async with cert_stack.client(alice) as a, cert_stack.client(bob) as b:
        assert (await a.post(f"/reviews/{rid}/claim")).status_code == 200
        assert (await a.post(f"/reviews/{rid}/claim")).status_code == 200  # again: fine
        taken = await b.post(f"/reviews/{rid}/claim")
        decided = await b.post(f"/reviews/{rid}/reject", json={"reason": "autre", "note": "Non"})
    assert taken.status_code == decided.status_code == 409
    assert taken.json()["message"] == "Cette pièce est déjà prise en charge par un autre agent."
    [row] = await reviews_of(cert_stack, alice, dossier_id, "claimed")
    assert row["claimed_by_name"] == "Alice Agent"
    assert await cert_stack.cert_records(dossier_id, expect=0, settle=1.0) == []


async def test_iterative_mode_reject_reply_resend_accept(cert_stack, agent) -> None:
    dossier_id, citizen, first_upload, first = await open_review(cert_stack, agent)
    async with cert_stack.client(agent) as http:
        rejected = await http.post(
            f"/reviews/{first['review_id']}/reject",
            json={"reason": "illisible", "note": "Illisible : renvoyez un scan net."},
        )
    assert rejected.status_code == 200

    reply = CitizenMessagePostedV1(
        event_id=uuid4(), occurred_at=now(), dossier_id=dossier_id, message_id=uuid4(),
        author_id=citizen, text="Voici un scan plus net.",
    )
    second_upload = declaration_uploaded(dossier_id, citizen)
    await cert_stack.publish(reply)
    await cert_stack.publish(second_upload)

    async def new_review() -> dict | None:
        rows = await reviews_of(cert_stack, agent, dossier_id, "pending")
        return rows[0] if rows else None

    second = await cert_stack.eventually(new_review)
    assert second["review_id"] != first["review_id"]
    assert second["document_id"] == str(second_upload.document_id)
    rows = await reviews_of(cert_stack, agent, dossier_id)
    statuses = {r["review_id"]: r["status"] for r in rows}
    assert statuses == {first["review_id"]: "rejected", second["review_id"]: "pending"}

    async def with_reply() -> dict | None:
        async with cert_stack.client(agent) as http:
            detail = (await http.get(f"/reviews/{second['review_id']}")).json()
        return detail if len(detail["thread"]) == 2 else None

    detail = await cert_stack.eventually(with_reply)
    assert [(t["author_role"], t["text"]) for t in detail["thread"]] == [
        ("cert_agent", "Illisible : renvoyez un scan net."),
        ("citizen", "Voici un scan plus net."),
    ]
    assert [(d["document_id"], d["decision"]) for d in detail["earlier_decisions"]] == [
        (str(first_upload.document_id), "rejected")
    ]

    async with cert_stack.client(agent) as http:
        written = await http.post(
            f"/reviews/{second['review_id']}/messages", json={"text": "Merci, c'est lisible."}
        )
        accepted = await http.post(f"/reviews/{second['review_id']}/accept")
    assert written.status_code == 201, written.text
    assert accepted.status_code == 200, accepted.text
    assert [t["text"] for t in accepted.json()["thread"]][-1] == "Merci, c'est lisible."

    records = await cert_stack.cert_records(dossier_id, expect=3)
    events = [event_of(r) for r in records]
    assert [type(e) for e in events] == [
        AttachmentRejectedV1, AgentMessagePostedV1, AttachmentAcceptedV1
    ]
    assert events[1].text == "Merci, c'est lisible."  # the rejection note is no message event
    assert events[2].document_id == second_upload.document_id


async def test_a_duplicated_upload_delivery_opens_one_review(cert_stack, agent) -> None:
    dossier_id, citizen = uuid4(), uuid4()
    upload = declaration_uploaded(dossier_id, citizen)
    sequence = next(cert_stack.sequences)
    await cert_stack.publish(request_started(dossier_id, citizen))
    await cert_stack.publish(upload, sequence=sequence)
    await cert_stack.publish(upload, sequence=sequence)  # redelivered as is
    await cert_stack.publish(upload)  # republished under a new position
    await open_review(cert_stack, agent)  # a later upload: once it shows, the others were seen
    assert len(await reviews_of(cert_stack, agent, dossier_id)) == 1


async def test_the_queue_lists_the_oldest_first(cert_stack, agent) -> None:
    citizen = uuid4()
    dossiers = [uuid4() for _ in range(3)]
    for dossier_id in dossiers:
        await cert_stack.publish(request_started(dossier_id, citizen))
    for dossier_id in dossiers:
        await cert_stack.publish(declaration_uploaded(dossier_id, citizen))

    async def all_three() -> list[dict] | None:
        async with cert_stack.client(agent) as http:
            rows = (await http.get("/reviews")).json()
        mine = [r for r in rows if r["dossier_id"] in {str(d) for d in dossiers}]
        return mine if len(mine) == 3 else None

    rows = await cert_stack.eventually(all_three)
    assert [r["dossier_id"] for r in rows] == [str(d) for d in dossiers]
    assert [r["opened_at"] for r in rows] == sorted(r["opened_at"] for r in rows)
    assert set(rows[0]) == {
        "review_id", "dossier_id", "dossier_number", "document_id", "plate", "status",
        "claimed_by", "claimed_by_name", "opened_at", "kind", "kind_label",
    }


async def test_a_cancelled_request_closes_its_pending_review(cert_stack, agent) -> None:
    dossier_id, _, _, review = await open_review(cert_stack, agent)
    await cert_stack.publish(RequestCancelledV1(
        event_id=uuid4(), occurred_at=now(), dossier_id=dossier_id,
        reason="Annulée par le demandeur",
    ))

    async def closed() -> bool:
        return (await reviews_of(cert_stack, agent, dossier_id))[0]["status"] == "closed"

    await cert_stack.eventually(closed)
    async with cert_stack.client(agent) as http:
        refused = await http.post(f"/reviews/{review['review_id']}/accept")
    assert refused.status_code == 409
    assert "annulée" in refused.json()["message"]
    assert await cert_stack.cert_records(dossier_id, expect=0, settle=1.0) == []
