"""Offline verification of an export bundle: no service, database or network.

The checks, in the order docs/audit-bundle.md gives them: the checkpoints' signatures, the
exporter's signed manifest, then each event: its data is its published record, the record
is in its producer's signed log (inclusion proof), and the events are the manifest's, in its
order. The first problem names the first event at fault.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ants_events.ledger import (
    Checkpoint,
    canonical,
    checkpoint_valid,
    key_id,
    leaf_data,
    leaf_hash,
    record_digest,
    root_from_inclusion,
    signature_valid,
)

BUNDLE_FORMAT = "ants-audit-bundle/1"


@dataclass(frozen=True)
class Finding:
    kind: str  # checkpoint | manifest | edited | removed | reordered | inserted | unproven
    message: str
    index: int | None = None  # the event's place in the bundle (0-based), when it is one

    def __str__(self) -> str:
        return self.message


def describe(event: dict[str, Any], index: int) -> str:
    return (f"event #{index + 1} ({event.get('service')} {event.get('type')} at "
            f"{event.get('at')}, position {event.get('position')})")


def verify_bundle(bundle: dict[str, Any], pinned_keys: dict[str, str] | None = None) -> list[Finding]:
    """Every problem found, the most fundamental first, then by event order."""
    if bundle.get("format") != BUNDLE_FORMAT:
        return [Finding("manifest", f"not an audit bundle of format {BUNDLE_FORMAT}")]
    keys = dict(bundle.get("public_keys") or {})
    findings = _check_keys(keys, pinned_keys or {})
    checkpoints = {s: Checkpoint.from_dict(c) for s, c in (bundle.get("checkpoints") or {}).items()}
    for service, checkpoint in sorted(checkpoints.items()):
        if service not in keys or not checkpoint_valid(checkpoint, keys[service]):
            findings.append(Finding(
                "checkpoint", f"the checkpoint of {service} (size {checkpoint.tree_size}) does "
                "not carry a valid signature of its key",
            ))
    manifest = bundle.get("manifest") or {}
    exporter = manifest.get("exporter", "")
    if exporter not in keys or not signature_valid(
        canonical(manifest), bundle.get("manifest_signature", ""), keys[exporter]
    ) or manifest.get("key_id") != _key_id(keys[exporter]):
        findings.append(Finding("manifest", "the manifest does not carry a valid signature of "
                                "its exporter: the list of events cannot be trusted"))
        manifest = {"events": [], "checkpoints": []}
    signed_heads = {s: (size, root) for s, size, root in manifest.get("checkpoints", [])}
    for service, checkpoint in checkpoints.items():
        if signed_heads and signed_heads.get(service) != (checkpoint.tree_size, checkpoint.root_hash):
            findings.append(Finding("checkpoint", f"the checkpoint of {service} is not the one "
                                    "the manifest was signed with"))
    events = list(bundle.get("events") or [])
    findings += [f for i, e in enumerate(events) for f in _check_event(e, i, checkpoints)]
    findings += _check_against_manifest(events, manifest.get("events", []))
    return sorted(findings, key=lambda f: (f.index is not None, f.index or 0))


def _key_id(public_key_b64: str) -> str:
    import base64

    return key_id(base64.b64decode(public_key_b64))


def _check_keys(keys: dict[str, str], pinned: dict[str, str]) -> list[Finding]:
    return [
        Finding("checkpoint", f"the key of {service} in the bundle is not the pinned one")
        for service, key in pinned.items() if keys.get(service) != key
    ]


def _check_event(event: dict[str, Any], index: int, checkpoints: dict[str, Checkpoint]) -> list[Finding]:
    name = describe(event, index)
    record = event.get("record") or {}
    headers = record.get("headers") or {}
    try:
        published = json.loads(record.get("value", ""))
    except ValueError:
        return [Finding("edited", f"{name}: its record is not JSON", index)]
    shown = {
        "data": published,
        "service": headers.get("ce_source", "").rsplit("/", 1)[-1],
        "type": _type_name(headers.get("ce_type", "")),
        "version": _version(headers.get("ce_type", "")),
        "at": headers.get("ce_time"),
        "position": int(headers["ce_sequence"]) if str(headers.get("ce_sequence", "")).isdigit() else None,
    }
    differing = [field for field, value in shown.items() if event.get(field) != value]
    if differing:
        return [Finding("edited", f"{name} was edited: its {', '.join(differing)} differ from "
                        "the record its producer published", index)]
    proof = event.get("proof")
    checkpoint = checkpoints.get(shown["service"])
    if not proof or checkpoint is None:
        return [Finding("unproven", f"{name} has no inclusion proof in a signed checkpoint of "
                        f"{shown['service']}", index)]
    digest = record_digest(headers, record.get("key", ""), record.get("value", ""))
    leaf = leaf_hash(leaf_data(shown["position"], proof.get("event_digest", ""), digest))
    try:
        path = [bytes.fromhex(h) for h in proof.get("path", [])]
        root = root_from_inclusion(leaf, int(proof["leaf_index"]), checkpoint.tree_size, path)
    except (KeyError, ValueError, TypeError):
        root = None
    if root is None or root.hex() != checkpoint.root_hash:
        return [Finding("edited", f"{name} is not in the log {shown['service']} signed: it was "
                        "edited or forged", index)]
    return []


def _type_name(ce_type: str) -> str | None:
    parts = ce_type.rsplit(".", 2)  # fr.ants.<service> . <Type> . v<N>
    return parts[1] if len(parts) == 3 else None


def _version(ce_type: str) -> int | None:
    last = ce_type.rsplit(".", 1)[-1]
    return int(last[1:]) if last.startswith("v") and last[1:].isdigit() else None


def _check_against_manifest(events: list[dict[str, Any]], expected: list[list[Any]]) -> list[Finding]:
    """Walk both lists side by side: what the manifest lists and the bundle lacks was
    removed, what the bundle has and the manifest lacks was inserted, the rest moved."""
    actual = [(e.get("service"), e.get("position")) for e in events]
    wanted = [(s, p) for s, p, _ in expected]
    findings: list[Finding] = []
    i = j = 0
    while i < len(wanted) or j < len(actual):
        if j < len(actual) and i < len(wanted) and actual[j] == wanted[i]:
            i, j = i + 1, j + 1
        elif i < len(wanted) and wanted[i] not in actual:
            where = j if j < len(actual) else len(actual)
            findings.append(Finding(
                "removed", f"an event was removed before event #{where + 1}: {wanted[i][0]}'s "
                f"event at position {wanted[i][1]} (#{i + 1} of the signed manifest)"
                if j < len(actual) else f"the last events were removed: {wanted[i][0]}'s event "
                f"at position {wanted[i][1]} (#{i + 1} of the signed manifest) is missing", where,
            ))
            i += 1
        elif j < len(actual) and actual[j] not in wanted:
            findings.append(Finding("inserted", f"{describe(events[j], j)} was inserted: the "
                                    "signed manifest does not list it", j))
            j += 1
        else:
            findings.append(Finding("reordered", f"{describe(events[j], j)} is out of order: "
                                    f"the signed manifest lists it as #{wanted.index(actual[j]) + 1}", j))
            wanted.remove(actual[j])
            j += 1
            continue
    return findings
