"""Accounts, sessions and the caller's identity."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.status_codes import HTTP_202_ACCEPTED
from msgspec import Struct

from ants_runtime.auth import Principal, TokenIssuer
from ants_runtime.http import NON_BLANK, error_body, error_responses, rule
from identity_service.application import IdentityApplication
from identity_service.domain.model import EMAIL, MIN_PASSWORD_LENGTH
from identity_service.domain.throttle import TooManyAttempts

REGISTRATION_RECEIVED = (
    "Votre demande de création de compte est enregistrée : un courriel a été envoyé à "
    "l'adresse indiquée."
)


class NewAccount(Struct):
    email: Annotated[str, rule(pattern=EMAIL.pattern)]
    password: Annotated[str, rule(min_length=MIN_PASSWORD_LENGTH)]
    given_name: Annotated[str, rule(pattern=NON_BLANK)]
    family_name: Annotated[str, rule(pattern=NON_BLANK)]


class Credentials(Struct):
    email: str
    password: str


class RegistrationReceived(Struct):
    message: str


class Session(Struct):
    access_token: str
    expires_in: int
    token_type: str = "Bearer"


class Me(Struct):
    account_id: UUID
    email: str
    given_name: str
    family_name: str
    roles: list[str]


def too_many_attempts(_: Request[Any, Any, Any], error: TooManyAttempts) -> Response[Any]:
    response = error_body(429, str(error))
    response.headers["Retry-After"] = str(error.retry_after_seconds)
    return response


class AccountsController(Controller):
    tags = ["accounts"]
    exception_handlers = {TooManyAttempts: too_many_attempts}

    @post(
        "/accounts", status_code=HTTP_202_ACCEPTED, summary="Create a citizen account",
        description="The same answer whether or not the address already has an account: a "
        "mail tells its owner which it was (created, or someone tried to register it again).",
        responses=error_responses(400, 422),
    )
    async def register(
        self, data: NewAccount, identity: IdentityApplication
    ) -> RegistrationReceived:
        await asyncio.to_thread(
            identity.register, data.email, data.password, data.given_name, data.family_name
        )
        return RegistrationReceived(REGISTRATION_RECEIVED)

    @post(
        "/sessions", status_code=200, summary="Log in: get a bearer token",
        description="Failed logins are counted per e-mail address and per client address: "
        "after a few, each attempt must wait longer, then none is taken for a while (429 "
        "with Retry-After). A successful login clears the count of the account.",
        responses=error_responses(400, 401, 422, 429, why={401: "Wrong e-mail or password"}),
    )
    async def login(
        self, data: Credentials, identity: IdentityApplication, issuer: TokenIssuer,
        client_address: str | None,
    ) -> Session:
        account = await asyncio.to_thread(
            identity.authenticate, data.email, data.password, client_address
        )
        principal = Principal(
            account.id, account.email, account.given_name, account.family_name,
            frozenset(account.roles),
        )
        return Session(access_token=issuer.issue(principal), expires_in=issuer.ttl_seconds)

    @get("/me", summary="Who the bearer is", responses=error_responses(401))
    async def me(self, principal: Principal) -> Me:
        return Me(
            principal.account_id, principal.email, principal.given_name, principal.family_name,
            sorted(principal.roles),
        )
