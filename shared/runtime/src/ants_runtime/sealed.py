"""A personal value sealed for one service: only the holder of that service's private key
can read it, whoever else reads the topic that carries it.

Used for the citizen's e-mail address, which the notifications service needs and which must
not travel in clear on the identity topic that other agencies read. X25519 key agreement,
HKDF-SHA256, AES-256-GCM (an ECIES construction). Sealing is deterministic for a given
`context` (the event id) and sender secret: republishing an event gives the same bytes, so
the signed ledger of the identity service covers exactly what the topic shows, while two
events never share a key.
"""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

PREFIX = "x25519-aesgcm"


class SealError(ValueError):
    pass


def _derive(secret: bytes, salt: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(secret)


def _raw(public: X25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(public: X25519PublicKey) -> str:
    """A short name of the recipient key, so that a rotated key is recognised."""
    return hashlib.sha256(_raw(public)).hexdigest()[:16]


class Sealer:
    """Seals values for one recipient key. `secret` (the sender's own, never published)
    makes the ephemeral key of each context unpredictable to anyone else."""

    def __init__(self, recipient: X25519PublicKey, secret: bytes) -> None:
        self.recipient, self.secret = recipient, secret
        self.kid = key_id(recipient)

    @classmethod
    def from_file(cls, public_key_file: Path, secret: bytes) -> Sealer:
        key = serialization.load_pem_public_key(public_key_file.read_bytes())
        if not isinstance(key, X25519PublicKey):
            raise SealError("not an X25519 public key")
        return cls(key, secret)

    def seal(self, value: str, context: str) -> str:
        ephemeral = X25519PrivateKey.from_private_bytes(
            _derive(self.secret, context.encode(), b"ants sealed value: ephemeral key")
        )
        shared = ephemeral.exchange(self.recipient)
        ephemeral_public = _raw(ephemeral.public_key())
        key = _derive(shared, ephemeral_public, b"ants sealed value: content key")
        # A fresh key per context: a fixed nonce is safe, each key encrypts once.
        ciphertext = AESGCM(key).encrypt(bytes(12), value.encode(), self.kid.encode())
        blob = base64.urlsafe_b64encode(ephemeral_public + ciphertext).decode().rstrip("=")
        return f"{PREFIX}.{self.kid}.{blob}"


class Opener:
    """Opens what was sealed for this private key."""

    def __init__(self, private: X25519PrivateKey) -> None:
        self.private = private
        self.kid = key_id(private.public_key())

    @classmethod
    def from_file(cls, private_key_file: Path) -> Opener:
        key = serialization.load_pem_private_key(private_key_file.read_bytes(), password=None)
        if not isinstance(key, X25519PrivateKey):
            raise SealError("not an X25519 private key")
        return cls(key)

    def open(self, sealed: str) -> str:
        try:
            prefix, kid, blob = sealed.split(".", 2)
        except ValueError:
            raise SealError("not a sealed value") from None
        if prefix != PREFIX or kid != self.kid:
            raise SealError("sealed for another key")
        raw = base64.urlsafe_b64decode(blob + "=" * (-len(blob) % 4))
        ephemeral_public, ciphertext = raw[:32], raw[32:]
        shared = self.private.exchange(X25519PublicKey.from_public_bytes(ephemeral_public))
        key = _derive(shared, ephemeral_public, b"ants sealed value: content key")
        try:
            return AESGCM(key).decrypt(bytes(12), ciphertext, kid.encode()).decode()
        except Exception as error:  # noqa: BLE001 - tampered or truncated
            raise SealError("cannot open the sealed value") from error


def ensure_x25519_keypair(private_file: Path, public_file: Path) -> None:
    """Create the key pair on first start (the embedded default); keep an existing one."""
    if private_file.exists() and public_file.exists():
        return
    private_file.parent.mkdir(parents=True, exist_ok=True)
    key = X25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    descriptor = os.open(private_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(pem)
    public_file.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
