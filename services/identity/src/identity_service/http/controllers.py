"""Accounts, sessions and the caller's identity."""

from __future__ import annotations

import asyncio
from uuid import UUID

from litestar import Controller, get, post
from msgspec import Struct

from ants_runtime.auth import Principal, TokenIssuer
from identity_service.application import IdentityApplication


class NewAccount(Struct):
    email: str
    password: str
    given_name: str
    family_name: str


class Credentials(Struct):
    email: str
    password: str


class AccountCreated(Struct):
    account_id: UUID


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


class AccountsController(Controller):
    tags = ["accounts"]

    @post("/accounts", summary="Create a citizen account")
    async def register(self, data: NewAccount, identity: IdentityApplication) -> AccountCreated:
        account_id = await asyncio.to_thread(
            identity.register, data.email, data.password, data.given_name, data.family_name
        )
        return AccountCreated(account_id)

    @post("/sessions", status_code=200, summary="Log in: get a bearer token")
    async def login(
        self, data: Credentials, identity: IdentityApplication, issuer: TokenIssuer
    ) -> Session:
        account = await asyncio.to_thread(identity.authenticate, data.email, data.password)
        principal = Principal(
            account.id, account.email, account.given_name, account.family_name,
            frozenset(account.roles),
        )
        return Session(access_token=issuer.issue(principal), expires_in=issuer.ttl_seconds)

    @get("/me", summary="Who the bearer is")
    async def me(self, principal: Principal) -> Me:
        return Me(
            principal.account_id, principal.email, principal.given_name, principal.family_name,
            sorted(principal.roles),
        )
