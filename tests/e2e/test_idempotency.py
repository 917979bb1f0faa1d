"""A write sent twice is done once: `Idempotency-Key` on the services' APIs, and the portal's
forms submitted twice (double click, reload), whichever process each copy reaches."""

from __future__ import annotations

import re
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx

from ants_stack.stack import Stack
from tests.e2e.client import PASSWORD, Api, fleet_plate


def test_a_write_sent_twice_with_one_key_is_done_once_and_a_refusal_is_not_kept(api: Api) -> None:
    owner = api.new_citizen("Flotte", "ESSAI")
    plate = fleet_plate()
    key = str(uuid.uuid4())

    def start() -> httpx.Response:
        return api.call("POST", "requests", "/dossiers", owner, headers={"Idempotency-Key": key},
                        json={"reason": "perte", "person": "titulaire", "special_case": False, "plate": plate})

    with ThreadPoolExecutor(2) as pool:
        first, second = pool.map(lambda _: start(), range(2))
    assert first.status_code == second.status_code == 201, (first.text, second.text)
    assert first.json()["dossier_id"] == second.json()["dossier_id"]
    assert "true" in {first.headers.get("idempotent-replayed"), second.headers.get("idempotent-replayed")}
    basket = api.call("GET", "requests", "/dossiers", owner).json()
    assert [d["dossier_id"] for d in basket] == [first.json()["dossier_id"]]

    # A refused request leaves nothing under its key: corrected, it is done.
    other = api.new_citizen("Flotte", "ESSAI")
    key = str(uuid.uuid4())
    body = {"reason": "perte", "person": "titulaire", "special_case": False, "plate": "pas une plaque"}
    refused = api.call("POST", "requests", "/dossiers", other, headers={"Idempotency-Key": key}, json=body)
    assert refused.status_code == 422
    corrected = api.call("POST", "requests", "/dossiers", other, headers={"Idempotency-Key": key},
                         json={**body, "plate": fleet_plate()})
    assert corrected.status_code == 201 and "idempotent-replayed" not in corrected.headers


def test_a_portal_form_submitted_twice_at_once_starts_one_dossier(api: Api, stack: Stack) -> None:
    owner = api.new_citizen("Flotte", "ESSAI")
    plate = fleet_plate()
    with httpx.Client(base_url=stack.config.url("portal"), timeout=30) as browser:
        page = browser.get("/connexion")
        csrf = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
        assert csrf, page.text
        signed_in = browser.post("/connexion", data={
            "_csrf_token": csrf.group(1), "email": owner.email, "password": PASSWORD,
        })
        assert signed_in.status_code in (302, 303), signed_in.text
        form = browser.get("/demarches/duplicata")
        fields = {
            name: re.search(rf'name="{name}" value="([^"]+)"', form.text)
            for name in ("_csrf_token", "form_token")
        }
        assert all(fields.values()), form.text
        data = {
            **{name: found.group(1) for name, found in fields.items() if found},
            "reason": "perte", "person": "titulaire", "plate": plate,
        }
        with ThreadPoolExecutor(2) as pool:
            answers = list(pool.map(lambda _: browser.post("/demarches/duplicata", data=data), range(2)))
    assert [a.status_code for a in answers] == [302, 302], [a.text[:300] for a in answers]
    assert answers[0].headers["location"] == answers[1].headers["location"]
    basket = api.call("GET", "requests", "/dossiers", owner).json()
    assert [d["plate"] for d in basket] == [plate]
