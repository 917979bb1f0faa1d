"""The tamper-evident log every service keeps of its stored events, as anyone can check it.

Each service appends every event it stores to a Merkle tree hashed as in RFC 9162
(Certificate Transparency 2.0), section 2.1:

    leaf hash  = SHA-256(0x00 || leaf data)
    node hash  = SHA-256(0x01 || left || right)

and signs its root (a checkpoint, Ed25519) every few seconds while events arrive. The leaf
data of the event stored at notification `position` is the canonical JSON (see `canonical`)
of `{"event": E, "position": P, "record": R}` where

- E = SHA-256 hex of `originator_id "\\n" originator_version "\\n" topic "\\n"` followed by
  the stored state bytes: the stored event exactly as the service's database holds it;
- R = SHA-256 hex of the canonical JSON of the Kafka record the service publishes for it
  (`{"headers": {covered CloudEvents headers}, "key": K, "value": V}`), or null for an
  event that stays private to the service.

So a topic reader can check a published record against a signed checkpoint without seeing
the service's database, and the service can check every stored row against the same tree.
Everything here is the standard library plus `cryptography` for Ed25519.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
STATEMENT_FORMAT = "ants-checkpoint/1"

# The record headers a record digest covers: the CloudEvents attributes (and the provenance
# extensions) a producer sets. Transport headers such as `traceparent` are left out.
COVERED_HEADERS = (
    "ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time", "ce_subject", "ce_sequence",
    "ce_actor", "ce_actorrole", "ce_correlationid", "ce_causationid", "content-type",
)


def canonical(document: Any) -> bytes:
    """The one byte form of a JSON document that digests and signatures are taken over:
    keys sorted, no spaces, ASCII only (non-ASCII characters as \\u escapes)."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- digests of one event ----------------------------------------------------------------


def event_digest(originator_id: str, originator_version: int, topic: str, state: bytes) -> str:
    head = f"{originator_id}\n{originator_version}\n{topic}\n".encode()
    return sha256_hex(head + state)


def record_digest(headers: Mapping[str, str], key: str, value: str) -> str:
    covered = {name: headers[name] for name in COVERED_HEADERS if name in headers}
    return sha256_hex(canonical({"headers": covered, "key": key, "value": value}))


def leaf_data(position: int, event: str, record: str | None) -> bytes:
    return canonical({"event": event, "position": position, "record": record})


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


# --- the Merkle tree (RFC 9162 2.1) ---------------------------------------------------------


class Frontier:
    """The roots of the perfect subtrees a log of `size` leaves splits into, largest first:
    enough to append a leaf and to give the tree's root without the leaves themselves."""

    def __init__(self, size: int = 0, nodes: Sequence[tuple[int, bytes]] = ()) -> None:
        self.size = size
        self.nodes = list(nodes)  # (height, hash)

    def append(self, leaf: bytes) -> None:
        self.nodes.append((0, leaf))
        self.size += 1
        while len(self.nodes) > 1 and self.nodes[-1][0] == self.nodes[-2][0]:
            (height, right), (_, left) = self.nodes.pop(), self.nodes.pop()
            self.nodes.append((height + 1, node_hash(left, right)))

    def root(self) -> bytes:
        if not self.nodes:
            return hashlib.sha256(b"").digest()
        accumulated = self.nodes[-1][1]
        for _, node in reversed(self.nodes[:-1]):
            accumulated = node_hash(node, accumulated)
        return accumulated

    def dump(self) -> str:
        return json.dumps({"size": self.size, "nodes": [[h, n.hex()] for h, n in self.nodes]})

    @classmethod
    def load(cls, text: str | None) -> Frontier:
        if not text:
            return cls()
        state = json.loads(text)
        return cls(state["size"], [(h, bytes.fromhex(n)) for h, n in state["nodes"]])


def tree_root(leaves: Sequence[bytes]) -> bytes:
    frontier = Frontier()
    for leaf in leaves:
        frontier.append(leaf)
    return frontier.root()


def _largest_power_of_two_below(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def inclusion_proof(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """The audit path of leaf `index` in the tree of all `leaves` (RFC 9162 2.1.3.1)."""
    if not 0 <= index < len(leaves):
        raise IndexError(index)
    if len(leaves) == 1:
        return []
    k = _largest_power_of_two_below(len(leaves))
    if index < k:
        return inclusion_proof(leaves[:k], index) + [tree_root(leaves[k:])]
    return inclusion_proof(leaves[k:], index - k) + [tree_root(leaves[:k])]


def root_from_inclusion(leaf: bytes, index: int, size: int, path: Sequence[bytes]) -> bytes | None:
    """The root that `path` proves `leaf` at `index` belongs to, or None when the path does
    not fit a tree of `size` leaves (RFC 9162 2.1.3.2)."""
    if not 0 <= index < size:
        return None
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


# --- checkpoints ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    """A signed tree head: `service` vouches that its log's first `tree_size` events hash to
    `root_hash`. The signature is Ed25519 over `statement()`."""

    service: str
    tree_size: int
    root_hash: str  # hex
    signed_at: str  # ISO 8601
    key_id: str
    signature: str = ""  # base64

    def statement(self) -> bytes:
        return canonical({
            "format": STATEMENT_FORMAT, "key_id": self.key_id, "root_hash": self.root_hash,
            "service": self.service, "signed_at": self.signed_at, "tree_size": self.tree_size,
        })

    def as_dict(self) -> dict[str, Any]:
        return {
            "service": self.service, "tree_size": self.tree_size, "root_hash": self.root_hash,
            "signed_at": self.signed_at, "key_id": self.key_id, "signature": self.signature,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Checkpoint:
        return cls(
            service=str(data["service"]), tree_size=int(data["tree_size"]),
            root_hash=str(data["root_hash"]), signed_at=str(data["signed_at"]),
            key_id=str(data["key_id"]), signature=str(data.get("signature", "")),
        )


def key_id(public_key_raw: bytes) -> str:
    return sha256_hex(public_key_raw)[:16]


def public_key_raw(public_key_pem: bytes) -> bytes:
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_public_key(public_key_pem)
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def signature_valid(statement: bytes, signature_b64: str, public_key_b64: str) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key_b64, validate=True))
        key.verify(base64.b64decode(signature_b64, validate=True), statement)
        return True
    except (InvalidSignature, ValueError):
        return False


def checkpoint_valid(checkpoint: Checkpoint, public_key_b64: str) -> bool:
    raw = base64.b64decode(public_key_b64)
    return key_id(raw) == checkpoint.key_id and signature_valid(
        checkpoint.statement(), checkpoint.signature, public_key_b64
    )


def leaf_hashes(entries: Iterable[tuple[int, str, str | None]]) -> list[bytes]:
    """Leaf hashes of (position, event digest, record digest) entries, in log order."""
    return [leaf_hash(leaf_data(p, e, r)) for p, e, r in entries]
