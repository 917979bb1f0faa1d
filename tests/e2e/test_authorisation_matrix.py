"""Who may call what: every route of every backend service's OpenAPI document, called by
every kind of caller (nobody, the citizen who owns the dossier, another citizen, a CERT
agent, an auditor, an operator, an expired token, a token signed by another key), against
real dossiers, payments, documents and reviews. The expected answer of each caller comes
from the table below, written from the rules, never from what the services answer."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from ants_runtime.http import UNAUTHENTICATED
from ants_stack.stack import Stack
from tests.e2e import files
from tests.e2e.client import GOOD_CARD, PASSWORD, Api
from tests.e2e.principals import KINDS, Landscape, landscape

READ = frozenset({200})
# Past the authorisation checks: done, or refused by the state of the dossier (it is
# completed, so most writes answer 409), never refused for who the caller is.
ACT = frozenset({200, 201, 409})
DENIED = frozenset({403})
UNAUTHENTICATED_ = frozenset({401})
# The identity provider's refusal of a made-up sign-in (401 with its own message).
PROVIDER_REFUSAL = frozenset({401})
TOKENLESS = ("anonymous", "expired", "forged")


@dataclass(frozen=True)
class Row:
    service: str
    method: str
    route: str  # as in the OpenAPI document
    expected: dict[str, frozenset[int]]
    json: Any = None
    query: dict[str, Any] = field(default_factory=dict)
    upload: bool = False
    values: dict[str, str] = field(default_factory=dict)  # path parameters other than the defaults


def signed_in(*, owner: frozenset[int], other: frozenset[int] = DENIED,
              agent: frozenset[int] = DENIED, auditor: frozenset[int] = DENIED,
              operator: frozenset[int] = DENIED) -> dict[str, frozenset[int]]:
    """A route for signed-in callers: a token that is missing, expired or not identity's
    is refused with 401 before anything else."""
    return {
        **dict.fromkeys(TOKENLESS, UNAUTHENTICATED_), "owner": owner, "other_citizen": other,
        "cert_agent": agent, "auditor": auditor, "operator": operator,
    }


def anyone(answer: frozenset[int]) -> dict[str, frozenset[int]]:
    """A public route: every caller gets the same answer, whatever token it carries."""
    return dict.fromkeys(KINDS, answer)


def everyone_signed_in(answer: frozenset[int]) -> dict[str, frozenset[int]]:
    return signed_in(owner=answer, other=answer, agent=answer, auditor=answer, operator=answer)


STAFF_READ = {"agent": READ, "auditor": READ}
AUDITOR_ONLY = {"owner": DENIED, "auditor": READ}
LEDGER_VERIFIERS = {"owner": DENIED, "auditor": READ, "operator": READ}
CERT_QUEUE = {"owner": DENIED, "agent": READ, "auditor": READ}
CERT_ACTION = {"owner": DENIED, "agent": ACT}


def ledger_rows(service: str) -> list[Row]:
    return [
        Row(service, "GET", "/health", anyone(READ)),
        Row(service, "GET", "/health/live", anyone(READ)),
        Row(service, "GET", "/health/ready", anyone(READ)),
        Row(service, "GET", "/ledger/checkpoint", anyone(READ)),
        Row(service, "GET", "/ledger/verify", signed_in(**LEDGER_VERIFIERS)),
    ]


TABLE: list[Row] = [
    *(row for service in ("identity", "requests", "cert", "payment", "documents",
                          "notifications") for row in ledger_rows(service)),
    # identity
    Row("identity", "GET", "/me", everyone_signed_in(READ)),
    Row("identity", "POST", "/accounts", anyone(frozenset({202})), json="new account"),
    Row("identity", "POST", "/sessions", anyone(READ), json="owner credentials"),
    Row("identity", "POST", "/franceconnect/authorizations", anyone(frozenset({201}))),
    Row("identity", "POST", "/franceconnect/sessions", anyone(PROVIDER_REFUSAL),
        json={"state": "inconnu", "code": "inconnu"}),
    Row("identity", "POST", "/franceconnect/links", everyone_signed_in(PROVIDER_REFUSAL),
        json={"state": "inconnu", "code": "inconnu"}),
    # requests: the owner's dossier; CERT agents and auditors read it, nobody else
    Row("requests", "GET", "/dossiers", everyone_signed_in(READ)),
    Row("requests", "POST", "/dossiers", signed_in(owner=frozenset({201, 409})),
        json="the owner's vehicle"),
    Row("requests", "GET", "/dossiers/{dossier_id}", signed_in(owner=READ, **STAFF_READ)),
    Row("requests", "GET", "/dossiers/{dossier_id}/history", signed_in(owner=READ, **STAFF_READ)),
    Row("requests", "GET", "/dossiers/{dossier_id}/messages", signed_in(owner=READ, **STAFF_READ)),
    Row("requests", "POST", "/dossiers/{dossier_id}/messages", signed_in(owner=ACT),
        json={"text": "Bonjour, où en est ma demande ?"}),
    Row("requests", "POST", "/dossiers/{dossier_id}/declarations", signed_in(owner=ACT),
        json={"sworn_statement": True, "legal_terms": True}),
    Row("requests", "POST", "/dossiers/{dossier_id}/submit", signed_in(owner=ACT)),
    Row("requests", "POST", "/dossiers/{dossier_id}/cancel", signed_in(owner=ACT)),
    Row("requests", "GET", "/dossiers/{dossier_id}/audit", signed_in(**AUDITOR_ONLY)),
    Row("requests", "GET", "/dossiers/{dossier_id}/audit/state", signed_in(**AUDITOR_ONLY),
        query={"as_of_version": 1}),
    Row("requests", "GET", "/dossiers/{dossier_id}/audit/bundle", signed_in(**AUDITOR_ONLY)),
    # The SIV's vehicles: a citizen's own; the other citizen holds none of them.
    Row("requests", "GET", "/vehicles", signed_in(owner=READ, other=READ)),
    Row("requests", "GET", "/vehicles/{plate}/situation", signed_in(owner=READ)),
    Row("requests", "GET", "/verification/situations/{number}", anyone(READ)),
    # cert: agents act, auditors read
    Row("cert", "GET", "/reviews", signed_in(**CERT_QUEUE)),
    Row("cert", "GET", "/reviews/{review_id}", signed_in(**CERT_QUEUE)),
    Row("cert", "POST", "/reviews/{review_id}/claim", signed_in(**CERT_ACTION)),
    Row("cert", "POST", "/reviews/{review_id}/messages", signed_in(**CERT_ACTION),
        json={"text": "Merci de renvoyer le mandat signé."}),
    Row("cert", "POST", "/reviews/{review_id}/reject", signed_in(**CERT_ACTION),
        json={"reason": "illisible", "note": "Le mandat est illisible."}),
    Row("cert", "POST", "/reviews/{review_id}/accept", signed_in(**CERT_ACTION),
        json={"note": ""}),
    # payment: the payer alone
    Row("payment", "GET", "/fees", anyone(READ)),
    Row("payment", "POST", "/payments", signed_in(owner=ACT), json="the owner's dossier, a card"),
    Row("payment", "GET", "/payments/{payment_id}", signed_in(owner=READ)),
    Row("payment", "POST", "/payments/{payment_id}/record", signed_in(owner=READ)),
    Row("payment", "GET", "/dossiers/{dossier_id}", signed_in(owner=READ)),
    # documents: the certificate is the owner's; a supporting document is the staff's too
    Row("documents", "GET", "/dossiers/{dossier_id}/documents",
        signed_in(owner=READ, **STAFF_READ)),
    Row("documents", "POST", "/dossiers/{dossier_id}/attachments", signed_in(owner=ACT),
        upload=True),
    Row("documents", "GET", "/documents/{document_id}", signed_in(owner=READ)),
    Row("documents", "GET", "/documents/{document_id}", signed_in(owner=READ, **STAFF_READ),
        values={"document_id": "supporting"}),
    Row("documents", "GET", "/verification/{certificate_number}", anyone(READ)),
]
# Refusals first: each caller meets the dossier as the owner left it.
ORDER = ("anonymous", "expired", "forged", "other_citizen", "operator", "auditor", "cert_agent",
         "owner")


def path_of(row: Row, world: Landscape) -> str:
    values = {
        "dossier_id": world.dossier_id, "payment_id": world.payment_id,
        "document_id": world.certificate_document_id, "review_id": world.review_id,
        "plate": world.plate, "number": world.situation_number,
        "certificate_number": world.certificate_number,
        **{name: {"supporting": world.supporting_document_id}[v] for name, v in row.values.items()},
    }
    return row.route.format(**values)


def request_of(row: Row, world: Landscape, kind: str) -> dict[str, Any]:
    owner = world.callers["owner"]
    assert owner is not None
    bodies: dict[str, Any] = {
        "new account": {"email": f"matrice.{uuid.uuid4().hex[:8]}@example.fr",
                        "password": PASSWORD, "given_name": "Jeanne", "family_name": "ESSAI"},
        "owner credentials": {"email": owner.email, "password": PASSWORD},
        "the owner's vehicle": {"reason": "perte", "person": "titulaire", "special_case": False,
                                "plate": world.plate},
        "the owner's dossier, a card": {"dossier_id": world.dossier_id, **GOOD_CARD},
    }
    request: dict[str, Any] = {"params": row.query}
    if row.json is not None:
        request["json"] = bodies.get(row.json, row.json) if isinstance(row.json, str) else row.json
    if row.upload:
        request["files"] = {"file": ("mandat.pdf", files.pdf("Mandat"), "application/pdf")}
        request["data"] = {"kind": "mandat"}
    return request


@pytest.fixture(scope="module")
def world(stack: Stack) -> Iterator[Landscape]:
    with Api(stack.config) as api:
        yield landscape(api)


def documented_routes(api: Api) -> set[tuple[str, str, str]]:
    found = set()
    for service in ("identity", "requests", "cert", "payment", "documents", "notifications"):
        document = api.call("GET", service, "/schema/openapi.json").json()
        for path, item in document["paths"].items():
            for method in item:
                if method in {"get", "post", "put", "patch", "delete"}:
                    found.add((service, method.upper(), path.rstrip("/") or "/"))
    return found


def test_the_table_covers_every_documented_route(api: Api) -> None:
    assert documented_routes(api) == {(r.service, r.method, r.route) for r in TABLE}


def test_every_caller_gets_the_answer_the_rules_give_it_on_every_route(
    api: Api, world: Landscape
) -> None:
    wrong = []
    for row in TABLE:
        for kind in ORDER:
            expected = row.expected[kind]
            answer = api.call(row.method, row.service, path_of(row, world), world.callers[kind],
                              **request_of(row, world, kind))
            unauthenticated = answer.status_code == 401 and (
                answer.headers.get("content-type", "").startswith("application/json")
                and answer.json().get("message") == UNAUTHENTICATED
            )
            if expected is UNAUTHENTICATED_:
                ok = unauthenticated
            else:
                ok = answer.status_code in expected and not unauthenticated
            if not ok:
                wrong.append(f"{kind:>13} {row.method} {row.service}{path_of(row, world)}: "
                             f"{answer.status_code}, expected {sorted(expected)} "
                             f"{answer.text[:160]}")

    assert wrong == [], "\n".join(wrong)
