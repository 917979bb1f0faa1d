"""What a client needs to retry or to correct a call, in the real responses: `Allow` on a
405, `Retry-After` on a 503 and a 429, from the services and from the portal."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest

from ants_stack.stack import IDENTITY_PROVIDER, SERVICES, Stack


@pytest.mark.parametrize("service", [*SERVICES, "portal"])
def test_a_method_a_route_does_not_take_is_answered_with_the_ones_it_does(
    stack: Stack, service: str
) -> None:
    answer = httpx.delete(f"{stack.config.url(service)}/health")

    assert answer.status_code == 405
    assert "GET" in {m.strip() for m in answer.headers["Allow"].split(",")}


def test_when_the_identity_provider_is_down_identity_and_the_portal_say_when_to_retry(
    stack: Stack,
) -> None:
    provider = stack.processes[IDENTITY_PROVIDER]
    provider.terminate()
    provider.wait(10)
    try:
        answer = httpx.post(f"{stack.config.url('identity')}/franceconnect/authorizations")
        page = httpx.get(f"{stack.config.url('portal')}/connexion/franceconnect")
    finally:
        stack.restart_service(IDENTITY_PROVIDER)

    assert answer.status_code == 503
    assert int(answer.headers["Retry-After"]) > 0
    assert "FranceConnect n'est pas disponible" in answer.json()["message"]
    assert page.status_code == 503
    assert int(page.headers["Retry-After"]) > 0


def test_repeated_wrong_passwords_on_the_portal_say_when_to_retry(stack: Stack) -> None:
    email = f"personne.{uuid.uuid4().hex[:8]}@example.fr"
    with httpx.Client(base_url=stack.config.url("portal"), timeout=30) as browser:
        statuses = []
        for _ in range(8):
            page = browser.get("/connexion")
            token = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
            assert token, page.text
            answer = browser.post("/connexion", data={
                "_csrf_token": token.group(1), "email": email, "password": "pas-le-bon",
            })
            statuses.append(answer.status_code)
            if answer.status_code == 429:
                break

    assert statuses[-1] == 429, statuses
    assert int(answer.headers["Retry-After"]) > 0
