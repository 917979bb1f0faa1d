"""How a test or a benchmark gets a verified citizen: enrol a person at this provider
(POST /identities), then sign in through identity over HTTP exactly as a browser would:
ask identity for the provider's URL, pick the person on the provider's page (its form post),
and hand the `state` and `code` of the redirection back to identity."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx

from ants_identity_provider.identities import demo_birthdate


def person(given_name: str, family_name: str, email: str, birthdate: str | None = None) -> dict[str, str]:
    """A person to enrol; by default born on the day of the demo person of that name (so that
    they match the seeded SIV)."""
    return {
        "given_name": given_name, "family_name": family_name, "email": email,
        "birthdate": birthdate or demo_birthdate(given_name, family_name), "birthplace": "75056",
    }


def _code_and_state(redirect: httpx.Response) -> dict[str, str]:
    assert redirect.status_code == 302, redirect.text
    query = parse_qs(urlsplit(redirect.headers["location"]).query)
    return {"state": query["state"][0], "code": query["code"][0]}


def sign_in(
    http: httpx.Client, identity_url: str, subject: str, token: str | None = None
) -> httpx.Response:
    """Identity's answer to the sign-in of the provider's person `subject` (200 and a token);
    with the `token` of an account signed in with its password, links that account instead."""
    started = http.post(f"{identity_url}/franceconnect/authorizations")
    assert started.status_code == 201, started.text
    page = http.get(started.json()["authorization_url"])
    assert page.status_code == 200, page.text
    chosen = http.post(started.json()["authorization_url"], data={"identity": subject})
    if token is None:
        return http.post(f"{identity_url}/franceconnect/sessions", json=_code_and_state(chosen))
    return http.post(
        f"{identity_url}/franceconnect/links", json=_code_and_state(chosen),
        headers={"Authorization": f"Bearer {token}"},
    )


def enrol(http: httpx.Client, provider_url: str, who: dict[str, str]) -> str:
    """The new person's subject at the provider."""
    enrolled = http.post(f"{provider_url}/identities", json=who)
    assert enrolled.status_code == 201, enrolled.text
    return str(enrolled.json()["sub"])


def enrol_and_sign_in(
    http: httpx.Client, identity_url: str, provider_url: str, who: dict[str, str]
) -> str:
    """A new verified person's bearer token."""
    session = sign_in(http, identity_url, enrol(http, provider_url, who))
    assert session.status_code == 200, session.text
    return str(session.json()["access_token"])


async def enrol_and_sign_in_async(
    http: httpx.AsyncClient, identity_url: str, provider_url: str, who: dict[str, str]
) -> str:
    """The same, for asynchronous clients (benchmarks)."""
    enrolled = await http.post(f"{provider_url}/identities", json=who)
    enrolled.raise_for_status()
    started = await http.post(f"{identity_url}/franceconnect/authorizations")
    started.raise_for_status()
    url = started.json()["authorization_url"]
    chosen = await http.post(url, data={"identity": enrolled.json()["sub"]})
    session = await http.post(f"{identity_url}/franceconnect/sessions", json=_code_and_state(chosen))
    session.raise_for_status()
    return str(session.json()["access_token"])
