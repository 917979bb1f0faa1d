"""What the browser is told to enforce on the real portal: a Content-Security-Policy that
forbids other sites to frame the pages and scripts from elsewhere, no sniffing of content
types, no full address in the Referer sent to other sites, and HTTPS only once the portal
is reached over HTTPS (behind the TLS proxy that says so)."""

from __future__ import annotations

import httpx
import pytest

from ants_stack.stack import Stack

# A page, a page that is not there, a stylesheet, a method a route does not take.
ANSWERS = [("GET", "/connexion"), ("GET", "/nulle-part"), ("GET", "/static/portal.css"),
           ("DELETE", "/connexion")]


def directives(policy: str) -> dict[str, list[str]]:
    parsed = {}
    for directive in filter(None, (d.strip() for d in policy.split(";"))):
        name, *values = directive.split()
        parsed[name] = values
    return parsed


@pytest.mark.parametrize(("method", "path"), ANSWERS)
def test_every_answer_of_the_portal_carries_the_security_headers(
    stack: Stack, method: str, path: str
) -> None:
    answer = httpx.request(method, f"{stack.config.url('portal')}{path}")

    policy = directives(answer.headers["Content-Security-Policy"])
    assert policy["frame-ancestors"] in (["'self'"], ["'none'"])
    assert policy["default-src"] == ["'self'"]
    assert "'unsafe-inline'" not in policy.get("script-src", policy["default-src"])
    assert policy["base-uri"] == ["'none'"]
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["Referrer-Policy"] in ("same-origin", "no-referrer",
                                                 "strict-origin-when-cross-origin")
    assert "Strict-Transport-Security" not in answer.headers  # plain HTTP: no HSTS


def test_behind_the_tls_proxy_the_portal_asks_browsers_to_keep_to_https(stack: Stack) -> None:
    page = httpx.get(f"{stack.config.url('portal')}/connexion",
                     headers={"X-Forwarded-Proto": "https"})

    assert page.status_code == 200
    hsts = dict(
        (part.strip().partition("=")[0].lower(), part.strip().partition("=")[2])
        for part in page.headers["Strict-Transport-Security"].split(";")
    )
    assert int(hsts["max-age"]) >= 365 * 24 * 3600
    assert "includesubdomains" in hsts
    assert "frame-ancestors" in page.headers["Content-Security-Policy"]
