"""Creating an account through the portal: the person is signed in; a taken address is
left as it was and its owner is told by mail."""

from __future__ import annotations

import re
import uuid
from email import message_from_bytes, policy

import httpx

from ants_stack.stack import Stack


def create_account(portal: str, email: str, password: str) -> httpx.Response:
    """Fill in « Créer un compte » as a browser would (with its CSRF token)."""
    with httpx.Client(base_url=portal, timeout=30) as browser:
        page = browser.get("/compte/creation")
        token = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
        assert token, page.text
        return browser.post("/compte/creation", data={
            "_csrf_token": token.group(1), "given_name": "Marie", "family_name": "MARTIN",
            "email": email, "password": password,
        })


def subjects_of_mails_to(stack: Stack, email: str) -> list[str]:
    folder = stack.config.var_dir / "identity" / "mail"
    mails = [message_from_bytes(p.read_bytes(), policy=policy.default)
             for p in sorted(folder.glob("*.eml"))]
    return [str(m["Subject"]) for m in mails if m["To"] == email]


def test_creating_an_account_on_the_portal_signs_in_and_a_taken_address_stays_its_owners(
    stack: Stack,
) -> None:
    portal = stack.config.url("portal")
    email = f"marie.{uuid.uuid4().hex[:8]}@example.fr"

    created = create_account(portal, email, "un-secret-1")
    assert created.is_redirect, created.text
    assert created.headers["location"] == "/compte/bienvenue"

    again = create_account(portal, email, "autre-secret")
    assert not again.is_redirect  # nobody is signed in to the owner's account
    assert "Créer un compte" in again.text
    assert subjects_of_mails_to(stack, email) == [
        "Votre compte a été créé", "Demande de création de compte"
    ]
