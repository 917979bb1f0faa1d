"""The relying party of an OpenID Connect provider run as FranceConnect runs it: the
authorization code flow with PKCE (S256), `state`, `nonce` and `acr_values=eidas1`; the ID
token's signature checked against the provider's JWKS and its claims (issuer, audience,
expiry, nonce, acr, at_hash) by authlib and joserfc; the person's claims read from userinfo.

Nothing here is hand-written JOSE: the libraries verify, this module only says what to expect.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, cast

import httpx
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, KeySetSerialization
from joserfc.jws import JWSRegistry

METADATA_TTL_SECONDS = 300
CLAIMS = ("given_name", "family_name", "birthdate", "birthplace")


class ProviderUnavailable(Exception):
    """The provider did not answer (503: retry later)."""


class IdentityNotVerified(Exception):
    """The provider's answer did not prove who the person is: a token that does not verify,
    a code refused, claims missing (401)."""


@dataclass(frozen=True)
class AuthorizationRequest:
    url: str
    state: str
    nonce: str
    code_verifier: str


@dataclass(frozen=True)
class VerifiedClaims:
    issuer: str
    subject: str
    given_name: str  # every given name
    family_name: str
    birthdate: str
    birthplace: str
    email: str

    def identity(self) -> dict[str, str]:
        return {
            "given_name": self.given_name, "family_name": self.family_name,
            "birthdate": self.birthdate, "birthplace": self.birthplace,
        }


def verify_id_token(
    id_token: str, access_token: str, jwks: dict[str, Any], *, issuer: str, client_id: str,
    nonce: str, acr_values: tuple[str, ...], algorithms: list[str], leeway: int = 60,
    now: int | None = None,
) -> dict[str, Any]:
    """The ID token's claims once its signature (a key of `jwks`), issuer, audience, expiry,
    nonce, acr and at_hash hold; IdentityNotVerified otherwise."""
    try:
        token = jwt.decode(
            id_token, KeySet.import_key_set(cast(KeySetSerialization, jwks)),  # the provider's JSON
            registry=JWSRegistry(algorithms=algorithms),
        )
        claims = CodeIDToken(
            token.claims, token.header,
            options={"iss": {"essential": True, "values": [issuer]},
                     "acr": {"essential": True, "values": list(acr_values)}},
            params={"nonce": nonce, "client_id": client_id, "access_token": access_token},
        )
        claims.validate(now=now, leeway=leeway)
    except (JoseError, ValueError, KeyError) as error:
        raise IdentityNotVerified(type(error).__name__) from error
    return dict(claims)


class OpenIDProvider:
    def __init__(
        self, issuer: str, client_id: str, client_secret: str, redirect_uri: str,
        scope: str, acr_values: tuple[str, ...] = ("eidas1",), timeout: float = 10.0,
    ) -> None:
        self.issuer = issuer.rstrip("/")
        self.client_id, self.client_secret = client_id, client_secret
        self.redirect_uri, self.scope, self.acr_values = redirect_uri, scope, acr_values
        self.timeout = timeout
        self._metadata: dict[str, Any] = {}
        self._metadata_at = 0.0
        self._jwks: dict[str, Any] | None = None

    def _client(self) -> AsyncOAuth2Client:
        return AsyncOAuth2Client(
            client_id=self.client_id, client_secret=self.client_secret, scope=self.scope,
            redirect_uri=self.redirect_uri, code_challenge_method="S256",
            token_endpoint_auth_method="client_secret_post", timeout=self.timeout,
            leeway=5,  # FranceConnect's access tokens live 60 s: used at once, not refreshed
        )

    async def metadata(self, max_age: float = METADATA_TTL_SECONDS) -> dict[str, Any]:
        if not self._metadata or time.monotonic() - self._metadata_at > max_age:
            document = await self._get(f"{self.issuer}/.well-known/openid-configuration")
            if document.get("issuer") != self.issuer:
                raise ProviderUnavailable("the discovery document names another issuer")
            self._metadata, self._metadata_at = document, time.monotonic()
        return self._metadata

    async def authorization_request(self) -> AuthorizationRequest:
        # Nobody is sent to a provider that does not answer now: the discovery document is read
        # again (a cached copy would hand out a URL that leads the person to an error page).
        metadata = await self.metadata(max_age=0)
        state, nonce, verifier = generate_token(32), generate_token(32), generate_token(64)
        async with self._client() as client:
            url, _ = client.create_authorization_url(
                metadata["authorization_endpoint"], state=state, nonce=nonce,
                code_verifier=verifier, acr_values=" ".join(self.acr_values),
            )
        return AuthorizationRequest(url, state, nonce, verifier)

    async def verified_claims(self, code: str, nonce: str, code_verifier: str) -> VerifiedClaims:
        metadata = await self.metadata()
        async with self._client() as client:
            try:
                token = await client.fetch_token(
                    metadata["token_endpoint"], code=code, code_verifier=code_verifier,
                    grant_type="authorization_code",
                )
            except OAuthError as error:
                raise IdentityNotVerified(error.error) from error
            except httpx.HTTPError as error:
                raise ProviderUnavailable(type(error).__name__) from error
            if "id_token" not in token:
                raise IdentityNotVerified("no ID token")
            id_claims = await self._verify(token["id_token"], token["access_token"], nonce)
            try:
                answer = await client.get(metadata["userinfo_endpoint"])
            except OAuthError as error:
                raise IdentityNotVerified(error.error) from error
            except httpx.HTTPError as error:
                raise ProviderUnavailable(type(error).__name__) from error
        if answer.status_code != 200:
            raise IdentityNotVerified(f"userinfo answered {answer.status_code}")
        info = answer.json()
        if info.get("sub") != id_claims["sub"]:  # OpenID Connect Core 5.3.2
            raise IdentityNotVerified("userinfo is about someone else")
        if not all(str(info.get(claim) or "").strip() for claim in CLAIMS[:3]):
            raise IdentityNotVerified("claims missing")
        return VerifiedClaims(
            self.issuer, str(id_claims["sub"]), " ".join(str(info["given_name"]).split()),
            " ".join(str(info["family_name"]).split()), str(info["birthdate"]),
            str(info.get("birthplace") or ""), str(info.get("email") or "").strip().lower(),
        )

    async def _verify(self, id_token: str, access_token: str, nonce: str) -> dict[str, Any]:
        metadata = await self.metadata()
        kwargs = dict(
            issuer=self.issuer, client_id=self.client_id, nonce=nonce,
            acr_values=self.acr_values,
            algorithms=metadata.get("id_token_signing_alg_values_supported") or ["RS256"],
        )
        if self._jwks is None:
            self._jwks = await self._get(metadata["jwks_uri"])
        try:
            return verify_id_token(id_token, access_token, self._jwks, **kwargs)  # type: ignore[arg-type]
        except IdentityNotVerified:
            self._jwks = await self._get(metadata["jwks_uri"])  # the provider may have rotated
            return verify_id_token(id_token, access_token, self._jwks, **kwargs)  # type: ignore[arg-type]

    async def _get(self, url: str) -> dict[str, Any]:
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as http:
                response = await http.get(url)
                response.raise_for_status()
                return dict(response.json())
        except (httpx.HTTPError, ValueError) as error:
            raise ProviderUnavailable(type(error).__name__) from error
