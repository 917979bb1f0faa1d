"""The portal against fake services: each test says what the services answer."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from litestar.testing import TestClient
from portal_service.app import create_app
from portal_service.clients import Services
from portal_service.settings import Settings

SERVICES = ("identity", "requests", "cert", "payment", "documents")
Handler = Callable[[httpx.Request], httpx.Response]


@dataclass
class FakeServices:
    """Routes "<service> <METHOD> <path>" to a handler; records every call."""

    routes: dict[str, Handler | httpx.Response | list[httpx.Response]] = field(default_factory=dict)
    calls: list[httpx.Request] = field(default_factory=list)

    def on(self, service: str, method: str, path: str,
           answer: Handler | httpx.Response | list[httpx.Response]) -> None:
        self.routes[f"{service} {method} {path}"] = answer

    def seen(self, service: str, method: str, path: str) -> list[httpx.Request]:
        host = f"{service}.test"
        return [c for c in self.calls
                if c.url.host == host and c.method == method and c.url.path == path]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request)
        service = request.url.host.removesuffix(".test")
        answer = self.routes.get(f"{service} {request.method} {request.url.path}")
        if answer is None:
            return httpx.Response(404, json={"message": f"no fake for {request.url}"})
        if isinstance(answer, list):
            return answer.pop(0) if len(answer) > 1 else answer[0]
        if isinstance(answer, httpx.Response):
            return answer
        return answer(request)


@pytest.fixture()
def fake() -> FakeServices:
    fake = FakeServices()
    fake.on("identity", "POST", "/sessions", httpx.Response(200, json={
        "access_token": "token-marie", "token_type": "Bearer", "expires_in": 3600}))
    fake.on("identity", "GET", "/me", httpx.Response(200, json={
        "account_id": "0b6f3d4e-8c1a-4c57-9d3e-3f2b1a0c9e11", "email": "marie@example.fr",
        "given_name": "Marie", "family_name": "MARTIN", "roles": ["citizen"]}))
    fake.on("requests", "GET", "/dossiers", httpx.Response(200, json=[]))
    fake.on("requests", "GET", "/vehicles", httpx.Response(200, json={
        "vehicles": [{"plate": "AB-123-CD", "make": "RENAULT", "model": "CLIO V",
                      "first_registration": "2021-03-15", "role": "titulaire"}],
        "more": False}))
    return fake


@pytest.fixture()
def settings() -> Settings:
    urls: dict[str, Any] = {f"portal_{name}_url": f"http://{name}.test" for name in SERVICES}
    return Settings(portal_session_secret="test-secret", portal_catch_up_seconds=1.5, **urls)


@pytest.fixture()
def client(fake: FakeServices, settings: Settings) -> Iterator[TestClient[Any]]:
    services = Services(settings, transport=httpx.MockTransport(fake))
    with TestClient(create_app(settings, services)) as test_client:
        yield test_client


@pytest.fixture()
def logged_in(client: TestClient[Any]) -> TestClient[Any]:
    page = client.get("/connexion")
    token = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
    assert token, page.text
    response = client.post("/connexion", data={
        "_csrf_token": token.group(1), "email": "marie@example.fr", "password": "demo-2026"})
    assert response.status_code == 200, response.text
    return client
