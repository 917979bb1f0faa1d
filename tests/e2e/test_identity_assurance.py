"""Only a person an identity provider vouched for may ask for a duplicate of a vehicle's
certificate: the names typed at registration prove nothing. Signing in runs FranceConnect's
flow against the demo provider over HTTP (authorization code, PKCE, state, nonce, eidas1)."""

from __future__ import annotations

import html
import uuid

import httpx

from ants_identity_provider.enrolment import person, sign_in
from ants_stack.stack import IDENTITY_PROVIDER, Stack
from tests.e2e.client import Api, User


def test_a_self_registered_marie_martin_cannot_start_a_request_for_her_car(api: Api) -> None:
    impostor = api.self_registered("Marie", "MARTIN")

    refused = api.start(impostor, "AB-123-CD")

    assert refused.status_code == 403, refused.text
    assert "S'identifier avec FranceConnect" in refused.json()["message"]
    me = api.call("GET", "identity", "/me", impostor).json()
    assert me["identity_verified"] is False


def test_marie_signed_in_through_the_provider_can_start_one(api: Api, stack: Stack) -> None:
    answer = sign_in(api.http, stack.config.url("identity"), "demo-marie-martin")
    assert answer.status_code == 200, answer.text
    marie = User("marie.martin@example.fr", answer.json()["access_token"])

    started = api.start(marie, "PQ-741-RS")

    assert started.status_code == 201, started.text
    assert started.json()["holder"]["family_name"] == "MARTIN"
    me = api.call("GET", "identity", "/me", marie).json()
    assert me["identity_verified"] is True
    assert me["email"] == "marie.martin@example.fr"  # the demo account, linked to her identity
    api.call("POST", "requests", f"/dossiers/{started.json()['dossier_id']}/cancel", marie)


def test_a_namesake_born_another_day_is_not_the_holder(api: Api, stack: Stack) -> None:
    namesake = person("Marie", "MARTIN", f"marie.{uuid.uuid4().hex[:8]}@example.fr", "1991-07-30")
    enrolled = api.http.post(f"{stack.config.url(IDENTITY_PROVIDER)}/identities", json=namesake)
    answer = sign_in(api.http, stack.config.url("identity"), enrolled.json()["sub"])
    other_marie = User(namesake["email"], answer.json()["access_token"])

    refused = api.start(other_marie, "AB-123-CD")

    assert refused.status_code == 403, refused.text
    assert "vous n'êtes pas titulaire" in refused.json()["message"]


def test_an_answer_of_the_provider_counts_once(api: Api, stack: Stack) -> None:
    identity = stack.config.url("identity")
    started = api.http.post(f"{identity}/franceconnect/authorizations").json()
    chosen = api.http.post(started["authorization_url"], data={"identity": "demo-julien-paul"})
    returned = httpx.URL(chosen.headers["location"]).params
    answer = {"state": returned["state"], "code": returned["code"]}

    first = api.http.post(f"{identity}/franceconnect/sessions", json=answer)
    replayed = api.http.post(f"{identity}/franceconnect/sessions", json=answer)
    forged_state = api.http.post(
        f"{identity}/franceconnect/sessions", json=answer | {"state": "x" * 43}
    )

    assert first.status_code == 200, first.text
    assert replayed.status_code == 401 and "expiré ou a déjà servi" in replayed.json()["message"]
    assert forged_state.status_code == 401


def test_the_provider_refuses_a_request_without_pkce(stack: Stack) -> None:
    provider = stack.config.url(IDENTITY_PROVIDER)
    page = httpx.get(f"{provider}/authorize", params={
        "response_type": "code", "client_id": "ants-identity", "scope": "openid given_name",
        "redirect_uri": f"{stack.config.url('portal')}/connexion/franceconnect/retour",
        "state": "s" * 32, "nonce": "n" * 32,
    })
    assert page.status_code == 400
    assert "PKCE" in page.text


def test_the_portal_signs_julien_in_with_the_provider(stack: Stack) -> None:
    with httpx.Client(base_url=stack.config.url("portal"), timeout=30) as browser:
        login = browser.get("/connexion")
        assert "S'identifier avec FranceConnect" in html.unescape(login.text)

        to_provider = browser.get("/connexion/franceconnect")
        assert to_provider.status_code in (302, 303), to_provider.text
        provider_page = browser.get(to_provider.headers["location"])
        assert "Julien PAUL" in provider_page.text
        back = browser.post(to_provider.headers["location"], data={"identity": "demo-julien-paul"})
        assert back.headers["location"].startswith(stack.config.url("portal"))
        signed_in = browser.get(back.headers["location"])
        assert signed_in.headers["location"] == "/mon-espace", signed_in.text
        assert "Julien" in browser.get("/mon-espace").text


def test_the_portal_refuses_a_return_it_did_not_send(stack: Stack) -> None:
    """A provider's answer started in another browser (someone signing a victim in as
    themselves) is not accepted."""
    with httpx.Client(timeout=30) as attacker, httpx.Client(timeout=30) as victim:
        portal = stack.config.url("portal")
        to_provider = attacker.get(f"{portal}/connexion/franceconnect")
        back = attacker.post(to_provider.headers["location"], data={"identity": "demo-karim-benali"})

        answer = victim.get(back.headers["location"])

        assert answer.status_code == 400
        assert "La connexion avec FranceConnect n'a pas abouti" in html.unescape(answer.text)
        assert victim.get(f"{portal}/mon-espace").status_code in (302, 303)


def test_a_password_account_linked_to_its_verified_identity_keeps_its_password(
    api: Api, stack: Stack
) -> None:
    """The owner signed in with the password proves the account is theirs, the provider
    proves who they are: linked, the password gives the verified identity too. One person,
    one account: another account cannot take the same person."""
    marie = api.self_registered("Marie", "MARTIN")
    provider, identity = stack.config.url(IDENTITY_PROVIDER), stack.config.url("identity")
    namesake = person("Marie", "MARTIN", marie.email, "1991-07-30")
    subject = api.http.post(f"{provider}/identities", json=namesake).json()["sub"]

    linked = sign_in(api.http, identity, subject, marie.token)
    again_with_password = api.login(marie.email)
    someone_else = api.self_registered("Marie", "MARTIN")
    taken = sign_in(api.http, identity, subject, someone_else.token)

    assert linked.status_code == 200, linked.text
    assert api.call("GET", "identity", "/me", again_with_password).json()["identity_verified"]
    assert taken.status_code == 409
    assert "déjà liée à un autre compte" in taken.json()["message"]
