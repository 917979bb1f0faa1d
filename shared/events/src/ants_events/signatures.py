"""Producer signatures of published records: who produced an event, provable by anyone.

Every record a service publishes carries two extension attributes (CloudEvents binary mode):
- `ce_signingkeyid`: the first 16 hex digits of the SHA-256 of the producer's raw Ed25519
  public key (the `key_id` of its ledger checkpoints: one key per service);
- `ce_signature`: the base64 Ed25519 signature of the record's statement:

    canonical({"headers": {every `ce_*` header but ce_signature, and content-type},
               "key": the record key (UTF-8 text),
               "value_sha256": hex SHA-256 of the record value})

  where `canonical` is JSON with keys sorted, no spaces and ASCII only (`ledger.canonical`).
  Transport headers (`traceparent`) are not signed: intermediaries may rewrite them.

Consumers pin each producer's public key (`<service>.pem` in a directory) and accept a
record only when the key of the service named by its `ce_source` verifies it and that
service produces the topic it came from. Kafka ACLs keep strangers off the topics; the
signature keeps a service (or anyone holding write access) from speaking for another, and is
the proof an auditor keeps.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Mapping
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from ants_events import topics
from ants_events.cloudevents import InvalidEnvelope
from ants_events.ledger import canonical, key_id

SIGNATURE_HEADER = "ce_signature"
KEY_ID_HEADER = "ce_signingkeyid"
SOURCE_PREFIX = "/ants/"

Headers = Mapping[str, bytes | str]


class UntrustedRecord(InvalidEnvelope):
    """The record is not signed by the service it claims to come from."""


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def statement(headers: Headers, key: bytes | str | None, value: bytes | None) -> bytes:
    """The bytes a producer signs for a record."""
    signed = {
        name: _text(v) for name, v in headers.items()
        if (name.startswith("ce_") and name != SIGNATURE_HEADER) or name == "content-type"
    }
    return canonical({
        "headers": signed,
        "key": _text(key or b""),
        "value_sha256": hashlib.sha256(value or b"").hexdigest(),
    })


class RecordSigner:
    """A service's producer key: signs the records its relay publishes."""

    def __init__(self, private_key_pem: bytes) -> None:
        key = serialization.load_pem_private_key(private_key_pem, password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("a producer key must be an Ed25519 key")
        # Keys are read with cryptography (PEM files); records are signed with libsodium,
        # which signs in two thirds of OpenSSL's time here (the same Ed25519 signatures).
        self._key = SigningKey(key.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        ))
        self.key_id = key_id(bytes(self._key.verify_key))

    @classmethod
    def from_file(cls, path: Path) -> RecordSigner:
        return cls(path.read_bytes())

    def sign(self, headers: dict[str, str], key: bytes, value: bytes) -> dict[str, str]:
        """The headers with the key id and the signature added."""
        signed = {**headers, KEY_ID_HEADER: self.key_id}
        signature = self._key.sign(statement(signed, key, value)).signature
        return {**signed, SIGNATURE_HEADER: base64.b64encode(signature).decode()}


class TrustedProducers:
    """The pinned public keys of the producers a consumer believes, by service name. A
    service may have several (`payment.pem` and `payment.next.pem` while its key is
    replaced): a record names the one that signed it by its key id."""

    def __init__(self, keys: Mapping[str, Iterable[Ed25519PublicKey]]) -> None:
        # Verified with libsodium: half of OpenSSL's time for the same Ed25519 check.
        self.keys: dict[str, dict[str, VerifyKey]] = {
            service: {_key_id_of(key): VerifyKey(_raw(key)) for key in service_keys}
            for service, service_keys in keys.items()
        }

    @classmethod
    def from_dir(cls, folder: Path) -> TrustedProducers:
        """Every `<service>.pem` or `<service>.<label>.pem` (an Ed25519 public key,
        SubjectPublicKeyInfo PEM) in a folder; none when it does not exist (then every record
        is refused)."""
        keys: dict[str, list[Ed25519PublicKey]] = {}
        if folder.is_dir():
            for path in sorted(folder.glob("*.pem")):
                key = serialization.load_pem_public_key(path.read_bytes())
                if isinstance(key, Ed25519PublicKey):
                    keys.setdefault(path.name.split(".", 1)[0], []).append(key)
        return cls(keys)

    def producer_of(self, headers: Headers) -> str:
        source = _text(headers.get("ce_source") or b"")
        if not source.startswith(SOURCE_PREFIX):
            raise UntrustedRecord(f"ce_source {source[:60]!r} names no service")
        return source[len(SOURCE_PREFIX):]

    def verify(
        self, topic: str, headers: Headers, key: bytes | str | None, value: bytes | None
    ) -> str:
        """The producing service, once its pinned key verified the record; raises
        UntrustedRecord otherwise."""
        service = self.producer_of(headers)
        if topic not in (topics.BY_PRODUCER.get(service), topics.CHECKPOINTS):
            raise UntrustedRecord(f"{service} does not produce {topic}")
        pinned = self.keys.get(service)
        if not pinned:
            raise UntrustedRecord(f"no pinned key for {service}")
        signature = headers.get(SIGNATURE_HEADER)
        if signature is None:
            raise UntrustedRecord("unsigned record")
        public_key = pinned.get(_text(headers.get(KEY_ID_HEADER) or b""))
        if public_key is None:
            raise UntrustedRecord(f"signed with a key other than {service}'s pinned keys")
        try:
            public_key.verify(
                statement(headers, key, value), base64.b64decode(_text(signature), validate=True)
            )
        except (BadSignatureError, ValueError) as error:
            raise UntrustedRecord(f"bad signature for {service}") from error
        return service


def _raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _key_id_of(key: Ed25519PublicKey) -> str:
    return key_id(_raw(key))
