"""The OpenID Connect protocol, by authlib: the authorization code flow as FranceConnect runs
it (confidential client, PKCE S256 required, `state`, `nonce` required, `acr` eidas1), ID
tokens signed ES256 with a key published at the JWKS endpoint, bearer-protected userinfo.

Codes, tokens and nonces live in memory: one process, a demo and test stand-in.
"""

from __future__ import annotations

import hmac
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from authlib.common.security import generate_token
from authlib.oauth2 import AuthorizationServer as BaseAuthorizationServer
from authlib.oauth2 import OAuth2Request, ResourceProtector
from authlib.oauth2.rfc6749 import ClientMixin, InvalidRequestError, TokenMixin, grants
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2.rfc6750 import BearerTokenGenerator, BearerTokenValidator
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import AuthorizationCodeMixin
from authlib.oidc.core import grants as oidc_grants
from joserfc.jwk import ECKey

from ants_identity_provider.identities import SCOPE_CLAIMS, Identity

CODE_TTL_SECONDS = 60  # FranceConnect's codes live one minute
ACCESS_TOKEN_TTL_SECONDS = 60
ID_TOKEN_ALGORITHM = "ES256"
ACR_VALUES = ("eidas1",)  # the level this provider vouches at (FranceConnect's "eidas1")


@dataclass(frozen=True)
class Client(ClientMixin):  # type: ignore[misc]
    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...]
    id_token_signed_response_alg: str = ID_TOKEN_ALGORITHM

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str:
        return self.redirect_uris[0]

    def get_allowed_scope(self, scope: str) -> str:
        return " ".join(s for s in (scope or "").split() if s in SCOPE_CLAIMS)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return hmac.compare_digest(client_secret.encode(), self.client_secret.encode())

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in ("client_secret_post", "client_secret_basic")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


@dataclass
class AuthorizationCode(AuthorizationCodeMixin):  # type: ignore[misc]
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    user: Identity
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    acr: str
    auth_time: int = field(default_factory=lambda: int(time.time()))

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time

    def get_acr(self) -> str:
        return self.acr

    def is_expired(self) -> bool:
        return time.time() > self.auth_time + CODE_TTL_SECONDS


@dataclass
class AccessToken(TokenMixin):  # type: ignore[misc]
    access_token: str
    client_id: str
    scope: str
    user: Identity
    expires_at: float

    def check_client(self, client: Client) -> bool:
        return self.client_id == client.client_id

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return max(0, int(self.expires_at - time.time()))

    def is_expired(self) -> bool:
        return time.time() >= self.expires_at

    def is_revoked(self) -> bool:
        return False

    def get_user(self) -> Identity:
        return self.user


class Memory:
    """Codes (single use), access tokens and the nonces already used, per client."""

    def __init__(self) -> None:
        self.codes: dict[str, AuthorizationCode] = {}
        self.tokens: dict[str, AccessToken] = {}
        self.nonces: dict[tuple[str, str], float] = {}
        self.lock = threading.Lock()

    def forget_expired(self) -> None:
        now = time.time()
        with self.lock:
            for code in [c for c, item in self.codes.items() if item.is_expired()]:
                del self.codes[code]
            for token in [t for t, item in self.tokens.items() if item.is_expired()]:
                del self.tokens[token]
            for key in [k for k, at in self.nonces.items() if at < now - 3600]:
                del self.nonces[key]


class RequiredCodeChallenge(CodeChallenge):  # type: ignore[misc]
    """PKCE for every client, and only S256 (a confidential client is no excuse)."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge") or data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("PKCE is required: code_challenge with method S256.")
        super().validate_code_challenge(grant, redirect_uri)


class Server(BaseAuthorizationServer):  # type: ignore[misc]
    def __init__(self, issuer: str, clients: list[Client], signing_key: ECKey) -> None:
        super().__init__(scopes_supported=list(SCOPE_CLAIMS))
        self.issuer = issuer
        self.clients = {c.client_id: c for c in clients}
        self.signing_key = signing_key
        self.memory = Memory()
        self.register_token_generator("default", BearerTokenGenerator(
            access_token_generator=lambda **_: generate_token(42),
            expires_generator=lambda *_: ACCESS_TOKEN_TTL_SECONDS,
        ))
        self.register_grant(CodeGrant, [RequiredCodeChallenge(required=True), OpenIDCode(self)])
        self.resources = ResourceProtector()
        self.resources.register_token_validator(AccessTokens(self.memory))

    def query_client(self, client_id: str) -> Client | None:
        return self.clients.get(client_id)

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        with self.memory.lock:
            self.memory.tokens[token["access_token"]] = AccessToken(
                token["access_token"], request.client.client_id, token.get("scope", ""),
                request.user, time.time() + int(token.get("expires_in", ACCESS_TOKEN_TTL_SECONDS)),
            )

    def create_oauth2_request(self, request: OAuth2Request) -> OAuth2Request:
        return request  # the HTTP layer builds it (see `FormRequest`)

    def handle_response(self, status: int, body: Any, headers: list[tuple[str, str]]) -> Any:
        return status, body, headers

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        pass

    def userinfo(self, request: OAuth2Request) -> dict[str, str]:
        token = self.resources.validate_request(["openid"], request)
        return token.user.claims(token.scope)

    def metadata(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "userinfo_endpoint": f"{self.issuer}/userinfo",
            "jwks_uri": f"{self.issuer}/jwks",
            "scopes_supported": list(SCOPE_CLAIMS),
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": [ID_TOKEN_ALGORITHM],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "code_challenge_methods_supported": ["S256"],
            "acr_values_supported": list(ACR_VALUES),
            "claims_supported": sorted({c for cs in SCOPE_CLAIMS.values() for c in cs} | {
                "iss", "aud", "exp", "iat", "nonce", "acr", "auth_time", "at_hash"
            }),
        }

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.signing_key.as_dict(private=False, use="sig", alg=ID_TOKEN_ALGORITHM)]}


class FormRequest(OAuth2Request):  # type: ignore[misc]
    """An HTTP request as authlib reads it: the query and the form merged into one payload."""

    def __init__(self, method: str, url: str, headers: dict[str, str], data: dict[str, str]) -> None:
        super().__init__(method, url, headers=headers)
        self.payload = BasicOAuth2Payload(data)
        self._data = data

    @property
    def form(self) -> dict[str, str]:
        return self._data

    @property
    def args(self) -> dict[str, str]:
        return self._data


class CodeGrant(grants.AuthorizationCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_post", "client_secret_basic"]

    def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
        data = request.payload.data
        item = AuthorizationCode(
            code=code, client_id=request.client.client_id,
            redirect_uri=request.payload.redirect_uri, scope=request.scope or "",
            user=request.user, nonce=data.get("nonce"),
            code_challenge=data.get("code_challenge"),
            code_challenge_method=data.get("code_challenge_method"),
            acr=ACR_VALUES[0],
        )
        memory = self.server.memory
        with memory.lock:
            memory.codes[code] = item
            if item.nonce:
                memory.nonces[(item.client_id, item.nonce)] = time.time()

    def query_authorization_code(self, code: str, client: Client) -> AuthorizationCode | None:
        item = self.server.memory.codes.get(code)
        if item and item.client_id == client.client_id and not item.is_expired():
            return item
        return None

    def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
        with self.server.memory.lock:
            self.server.memory.codes.pop(authorization_code.code, None)

    def authenticate_user(self, authorization_code: AuthorizationCode) -> Identity:
        return authorization_code.user


class OpenIDCode(oidc_grants.OpenIDCode):  # type: ignore[misc]
    def __init__(self, server: Server) -> None:
        super().__init__(require_nonce=True)
        self.server = server

    def exists_nonce(self, nonce: str, request: OAuth2Request) -> bool:
        return (request.payload.client_id, nonce) in self.server.memory.nonces

    def resolve_client_private_key(self, client: Client) -> ECKey:
        return self.server.signing_key

    def get_client_claims(self, client: Client) -> dict[str, Any]:
        return {"iss": self.server.issuer, "aud": [client.client_id]}

    def get_encode_header(self, client: Client) -> dict[str, str]:
        return {"alg": ID_TOKEN_ALGORITHM, "kid": self.server.signing_key.kid or ""}

    def generate_user_info(self, user: Identity, scope: str) -> dict[str, str]:
        return {"sub": user.sub}  # as FranceConnect: the person's claims come from userinfo


class AccessTokens(BearerTokenValidator):  # type: ignore[misc]
    def __init__(self, memory: Memory) -> None:
        super().__init__()
        self.memory = memory

    def authenticate_token(self, token_string: str) -> AccessToken | None:
        return self.memory.tokens.get(token_string)
