"""Every kind of caller the services meet, and real things for them to reach: a citizen's
completed dossier (its payment, its certificate, its documents), a dossier under a mandate
waiting for the CERT's review, and a certificat de situation administrative."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ants_runtime.auth import Principal, TokenIssuer
from ants_stack.stack import StackConfig
from tests.e2e import files
from tests.e2e.client import Api, User, eventually, fleet_plate

# Who calls. "owner" owns the dossiers below; "expired" and "forged" carry the owner's
# claims, in a token past its expiry or signed by a key identity never had.
KINDS = ("anonymous", "owner", "other_citizen", "cert_agent", "auditor", "operator",
         "expired", "forged")


@dataclass(frozen=True)
class Landscape:
    callers: dict[str, User | None]
    dossier_id: str  # the owner's completed loss case
    plate: str
    payment_id: str
    certificate_document_id: str  # its CPI: the owner's alone
    certificate_number: str
    mandate_dossier_id: str  # the owner's request under a mandate, documents awaited
    supporting_document_id: str  # the mandate sent for it: the owner's and the staff's
    review_id: str  # the CERT's review of that mandate
    situation_number: str


def minted(config: StackConfig, principal: Principal, ttl_seconds: int = 600,
           key_pem: bytes | None = None) -> User:
    """A token identity could have issued (its own key), or one it never issued."""
    key = key_pem or (config.var_dir / "keys" / "token-private.pem").read_bytes()
    return User(principal.email, TokenIssuer(key, ttl_seconds).issue(principal))


def another_key() -> bytes:
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def principal_of(api: Api, user: User) -> Principal:
    me = api.call("GET", "identity", "/me", user).json()
    return Principal(uuid.UUID(me["account_id"]), me["email"], me["given_name"],
                     me["family_name"], frozenset(me["roles"]))


def landscape(api: Api) -> Landscape:
    owner = api.new_citizen("Flotte", "ESSAI")
    agent = api.login("agent.cert@example.fr")
    config = api.config
    # Identity has the role, the demo has no such account: a token as identity signs them.
    operator = minted(config, Principal(uuid.uuid4(), "exploitation@example.fr", "Equipe",
                                        "EXPLOITATION", frozenset({"operator"})))
    callers: dict[str, User | None] = {
        "anonymous": None,
        "owner": owner,
        "other_citizen": api.new_citizen("Jean", "DUPONT"),
        "cert_agent": agent,
        "auditor": api.login("auditeur@example.fr"),
        "operator": operator,
        "expired": minted(config, principal_of(api, owner), ttl_seconds=-60),
        "forged": minted(config, principal_of(api, owner), key_pem=another_key()),
    }

    plate = fleet_plate()
    dossier_id = api.start_and_submit(owner, plate)["dossier_id"]
    payment = api.pay(owner, dossier_id)
    assert payment.status_code == 201, payment.text
    payment_id = payment.json()["payment_id"]
    assert api.record(owner, payment_id).status_code == 200
    completed = api.wait_status(owner, dossier_id, "completed")
    documents = eventually(lambda: [
        d for d in api.call("GET", "documents", f"/dossiers/{dossier_id}/documents", owner).json()
        if d["kind"] == "cpi"
    ])

    started = api.call("POST", "requests", "/dossiers", owner, json={
        "reason": "perte", "person": "mandataire", "special_case": False, "plate": fleet_plate(),
    })
    assert started.status_code == 201, started.text
    mandate_dossier_id = started.json()["dossier_id"]
    declared = api.call("POST", "requests", f"/dossiers/{mandate_dossier_id}/declarations", owner,
                        json={"sworn_statement": True, "legal_terms": True})
    assert declared.status_code == 200, declared.text
    assert api.call("POST", "requests", f"/dossiers/{mandate_dossier_id}/submit",
                    owner).status_code == 200
    sent = api.call("POST", "documents", f"/dossiers/{mandate_dossier_id}/attachments", owner,
                    files={"file": ("mandat.pdf", files.pdf("Mandat"), "application/pdf")},
                    data={"kind": "mandat"})
    assert sent.status_code == 201, sent.text
    supporting_document_id = sent.json()["document_id"]
    review = eventually(lambda: next((
        r for r in api.call("GET", "cert", "/reviews?kind=mandat", agent).json()
        if r["document_id"] == supporting_document_id
    ), None))

    situation = api.call("GET", "requests", f"/vehicles/{plate}/situation", owner)
    assert situation.status_code == 200, situation.text
    number = re.search(r"certificat-situation-([^\"]+)\.pdf",
                       situation.headers["Content-Disposition"])
    assert number, situation.headers
    return Landscape(
        callers=callers, dossier_id=dossier_id, plate=plate, payment_id=payment_id,
        certificate_document_id=documents[0]["document_id"],
        certificate_number=completed["certificate"]["certificate_number"],
        mandate_dossier_id=mandate_dossier_id,
        supporting_document_id=supporting_document_id, review_id=review["review_id"],
        situation_number=number.group(1),
    )
