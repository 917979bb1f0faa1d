"""Accounts, sessions (password, or the identity provider) and the caller's identity."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.status_codes import HTTP_202_ACCEPTED
from msgspec import Struct
import structlog

from ants_runtime.auth import Principal, TokenIssuer, verified_identity
from ants_runtime.http import NON_BLANK, error_body, error_responses, rule
from identity_service.adapters.openid import (
    IdentityNotVerified,
    OpenIDProvider,
    ProviderUnavailable,
    VerifiedClaims,
)
from identity_service.application import IdentityApplication
from identity_service.domain.model import EMAIL, MIN_PASSWORD_LENGTH, Account, SignInRefused
from identity_service.domain.throttle import TooManyAttempts

PROVIDER_UNAVAILABLE = (
    "La connexion avec FranceConnect n'est pas disponible pour le moment. Réessayez dans "
    "quelques minutes, ou connectez-vous avec votre adresse e-mail et votre mot de passe."
)
PROVIDER_RETRY_AFTER_SECONDS = 30
IDENTITY_NOT_VERIFIED = (
    "FranceConnect n'a pas pu confirmer votre identité. Cliquez de nouveau sur "
    "« S'identifier avec FranceConnect »."
)

log = structlog.get_logger(__name__)

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
    identity_verified: bool = False


class ProviderRedirect(Struct):
    authorization_url: str
    state: str


class ProviderAnswer(Struct):
    state: Annotated[str, rule(pattern=NON_BLANK, max_length=200)]
    code: Annotated[str, rule(pattern=NON_BLANK, max_length=500)]


def principal_of(account: Account) -> Principal:
    return Principal(
        account.id, account.email, account.given_name, account.family_name,
        frozenset(account.roles), verified_identity(account.verified_identity),
    )


def provider_unavailable(_: Request[Any, Any, Any], __: ProviderUnavailable) -> Response[Any]:
    response = error_body(503, PROVIDER_UNAVAILABLE)
    response.headers["Retry-After"] = str(PROVIDER_RETRY_AFTER_SECONDS)
    return response


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
        "mail tells its owner which it was (created, or someone tried to register it again). "
        "Registrations are counted per client address: beyond a few an hour, 429 with "
        "Retry-After.",
        responses=error_responses(400, 422, 429),
    )
    async def register(
        self, data: NewAccount, identity: IdentityApplication, client_address: str | None,
    ) -> RegistrationReceived:
        await asyncio.to_thread(  # a password hash: tens of ms, off the loop
            identity.register, data.email, data.password, data.given_name, data.family_name,
            client_address,
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
        account = await asyncio.to_thread(  # a password hash: tens of ms, off the loop
            identity.authenticate, data.email, data.password, client_address
        )
        return Session(access_token=issuer.issue(principal_of(account)), expires_in=issuer.ttl_seconds)

    @get("/me", summary="Who the bearer is", responses=error_responses(401))
    async def me(self, principal: Principal) -> Me:
        return Me(
            principal.account_id, principal.email, principal.given_name, principal.family_name,
            sorted(principal.roles), principal.verified is not None,
        )


async def verified_claims(
    data: ProviderAnswer, identity: IdentityApplication, provider: OpenIDProvider | None
) -> VerifiedClaims:
    """What the provider vouches for, once this answer matches a sign-in identity started."""
    if provider is None:
        raise ProviderUnavailable("not configured")
    sign_in = await identity.call(identity.use_sign_in, data.state)
    try:
        return await provider.verified_claims(data.code, sign_in.nonce, sign_in.code_verifier)
    except IdentityNotVerified as error:
        log.warning("sign_in.not_verified", reason=str(error))
        raise SignInRefused(IDENTITY_NOT_VERIFIED) from error


class IdentityProviderController(Controller):
    """Signing in through the identity provider (FranceConnect's flow). A client (the portal)
    asks for the provider's URL, sends the person there, and hands back the `state` and
    `code` the provider returned to its redirect URI; identity checks both against what it
    sent, exchanges the code with its PKCE verifier, verifies the ID token and reads the
    person's claims."""

    path = "/franceconnect"
    tags = ["identity provider"]
    exception_handlers = {ProviderUnavailable: provider_unavailable}

    @post(
        "/authorizations", status_code=201, summary="Start a sign-in with the identity provider",
        description="Answers the provider's authorization URL (with `state`, `nonce`, a PKCE "
        "challenge and `acr_values=eidas1`) to send the person to, and the `state` the client "
        "keeps to recognise the return. Valid ten minutes, once.",
        responses=error_responses(503, why={503: "No identity provider configured or reachable"}),
    )
    async def authorize(
        self, identity: IdentityApplication, provider: OpenIDProvider | None
    ) -> ProviderRedirect:
        if provider is None:
            raise ProviderUnavailable("not configured")
        request = await provider.authorization_request()
        await identity.call(
            identity.begin_sign_in, request.state, request.nonce, request.code_verifier,
            provider.redirect_uri,
        )
        return ProviderRedirect(request.url, request.state)

    @post(
        "/sessions", status_code=200, summary="Finish a sign-in: get a bearer token",
        description="With the `state` and `code` the provider sent to the redirect URI. The "
        "account is the one linked to the person the provider vouched for, created at their "
        "first sign-in; its token carries the verified identity.",
        responses=error_responses(400, 401, 422, 503, why={
            401: "Unknown, used or expired sign-in, or an answer of the provider that does not verify",
            503: "The identity provider did not answer",
        }),
    )
    async def sign_in(
        self, data: ProviderAnswer, identity: IdentityApplication,
        provider: OpenIDProvider | None, issuer: TokenIssuer,
    ) -> Session:
        claims = await verified_claims(data, identity, provider)
        account = await identity.call(identity.sign_in_verified, claims)
        return Session(access_token=issuer.issue(principal_of(account)), expires_in=issuer.ttl_seconds)

    @post(
        "/links", status_code=200, summary="Link the caller's account to their verified identity",
        description="For an account signed in with its password: the same `state` and `code` "
        "as for /sessions. From then on the account's tokens carry the verified identity, "
        "however its owner signs in. One person, one account.",
        responses=error_responses(400, 401, 409, 422, 503, why={
            401: "Not signed in, or an answer of the provider that does not verify",
            409: "This person is linked to another account, or the account to another person",
            503: "The identity provider did not answer",
        }),
    )
    async def link(
        self, data: ProviderAnswer, principal: Principal, identity: IdentityApplication,
        provider: OpenIDProvider | None, issuer: TokenIssuer,
    ) -> Session:
        claims = await verified_claims(data, identity, provider)
        account = await identity.call(identity.link_verified, principal.account_id, claims)
        return Session(access_token=issuer.issue(principal_of(account)), expires_in=issuer.ttl_seconds)
