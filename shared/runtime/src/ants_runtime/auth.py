"""Bearer tokens: signed by identity with its private key, verified anywhere with the public key."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID, uuid4

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

ALGORITHM = "EdDSA"
ISSUER = "ants-identity"


class InvalidToken(Exception):
    pass


@dataclass(frozen=True)
class VerifiedIdentity:
    """Who an identity provider (FranceConnect) vouched the person is, as its claims said:
    every given name, the family name, the birth date (YYYY-MM-DD) and the INSEE code of the
    birthplace (empty when born abroad)."""

    given_name: str
    family_name: str
    birthdate: str
    birthplace: str = ""

    def as_claims(self) -> dict[str, str]:
        return {
            "given_name": self.given_name, "family_name": self.family_name,
            "birthdate": self.birthdate, "birthplace": self.birthplace,
        }


@dataclass(frozen=True)
class Principal:
    account_id: UUID
    email: str
    given_name: str
    family_name: str
    roles: frozenset[str]
    # None: the names are only what the person typed when registering (self-asserted).
    verified: VerifiedIdentity | None = None

    def has_role(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))


class TokenIssuer:
    def __init__(self, private_key_pem: bytes, ttl_seconds: int = 3600) -> None:
        self._key = serialization.load_pem_private_key(private_key_pem, password=None)
        self.ttl_seconds = ttl_seconds

    def issue(self, principal: Principal) -> str:
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "sub": str(principal.account_id),
            "email": principal.email,
            "given_name": principal.given_name,
            "family_name": principal.family_name,
            "roles": sorted(principal.roles),
            **({"verified_identity": principal.verified.as_claims()} if principal.verified else {}),
            "iat": now,
            "exp": now + self.ttl_seconds,
            "jti": str(uuid4()),
        }
        return jwt.encode(claims, self._key, algorithm=ALGORITHM)  # type: ignore[arg-type]


class TokenVerifier:
    """Verifies a token's signature once, then remembers it until it expires: a client's
    successive calls with the same token cost a dictionary lookup, not an Ed25519 check."""

    remembered = 10_000

    def __init__(self, public_key_pem: bytes) -> None:
        self._key = serialization.load_pem_public_key(public_key_pem)
        self._verified: OrderedDict[str, tuple[float, Principal]] = OrderedDict()
        self._lock = threading.Lock()

    @classmethod
    def from_file(cls, path: Path) -> TokenVerifier:
        return cls(path.read_bytes())

    def verify(self, token: str) -> Principal:
        now = time.time()
        with self._lock:
            known = self._verified.get(token)
            if known is not None and known[0] > now:
                self._verified.move_to_end(token)
                return known[1]
        principal, expires_at = self._decode(token)
        with self._lock:
            self._verified[token] = (expires_at, principal)
            while len(self._verified) > self.remembered:
                self._verified.popitem(last=False)
        return principal

    def _decode(self, token: str) -> tuple[Principal, float]:
        try:
            claims = jwt.decode(
                token, self._key, algorithms=[ALGORITHM], issuer=ISSUER,  # type: ignore[arg-type]
                options={"require": ["exp", "sub", "iss"]},
            )
            principal = Principal(
                account_id=UUID(claims["sub"]),
                email=claims["email"],
                given_name=claims["given_name"],
                family_name=claims["family_name"],
                roles=frozenset(claims["roles"]),
                verified=verified_identity(claims.get("verified_identity")),
            )
            return principal, float(claims["exp"])
        except (jwt.PyJWTError, KeyError, ValueError, TypeError) as error:
            raise InvalidToken(str(error)) from error


def verified_identity(claims: object) -> VerifiedIdentity | None:
    if not isinstance(claims, dict):
        return None
    return VerifiedIdentity(
        str(claims["given_name"]), str(claims["family_name"]), str(claims["birthdate"]),
        str(claims.get("birthplace", "")),
    )


def ensure_keypair(private_path: Path, public_path: Path) -> None:
    """Create the signing key pair once (the embedded default; production mounts a secret)."""
    if private_path.exists() and public_path.exists():
        return
    private_path.parent.mkdir(parents=True, exist_ok=True)
    public_path.parent.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    private_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    private_path.chmod(0o600)
    public_path.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
