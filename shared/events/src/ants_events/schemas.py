"""JSON Schema (draft-07) of every contract, the AsyncAPI document, and a compatibility check.

`python -m ants_events.schemas` rewrites `shared/events/schemas/`; the tests compare those
published files with the code and refuse a change that would break existing consumers.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from ants_events import topics
from ants_events.base import IntegrationEvent
from ants_events.registry import CONTRACTS, NO_LONGER_PUBLISHED

DRAFT_07 = "http://json-schema.org/draft-07/schema#"
PROVENANCE_SCHEMA = {
    "ce_actor": {"type": "string", "description": "account:<uuid> or service:<name>"},
    "ce_actorrole": {"type": "string", "description": "the account's roles, or service"},
    "ce_correlationid": {"type": "string", "description": "X-Request-ID of the causing request"},
    "ce_causationid": {"type": "string", "description": "ce_id of the event reacted to"},
}
# The producer's signature of the record (ants_events.signatures, docs/agencies.md).
SIGNATURE_SCHEMA = {
    "ce_signingkeyid": {
        "type": "string", "pattern": "^[0-9a-f]{16}$",
        "description": "first 16 hex digits of SHA-256 of the producer's raw Ed25519 public key",
    },
    "ce_signature": {
        "type": "string", "contentEncoding": "base64",
        "description": "Ed25519 signature of the canonical JSON of the ce_* headers (but this "
        "one), content-type, the record key and the SHA-256 of the value",
    },
}
SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"


def json_schema(contract: type[IntegrationEvent]) -> dict[str, Any]:
    schema = contract.model_json_schema(ref_template="#/definitions/{model}")
    if "$defs" in schema:
        schema["definitions"] = schema.pop("$defs")
    return {"$schema": DRAFT_07, "$id": contract.ce_type(), **schema}


def schema_file(contract: type[IntegrationEvent]) -> str:
    return f"{contract.ce_type()}.json"


def asyncapi() -> dict[str, Any]:
    channels: dict[str, Any] = {}
    for topic in topics.ALL:
        producer = topic.split(".")[1]
        messages: dict[str, Any] = {
            c.ce_type(): {"$ref": f"#/components/messages/{c.ce_type()}"}
            for c in CONTRACTS
            if c.producer == producer
        }
        channels[topic] = {
            "address": topic,
            "description": (
                "Every service's signed log checkpoints (ants_events.ledger); key = service."
                if topic == topics.CHECKPOINTS else
                f"Events of the {producer} service; key = subject (dossier or account id)."
            ),
            "messages": messages,
        }
    messages = {
        c.ce_type(): {
            "name": c.type_name,
            "title": f"{c.type_name} v{c.version}",
            "summary": (c.__doc__ or "").strip().splitlines()[0] if c.__doc__ else c.type_name,
            **({"description": NO_LONGER_PUBLISHED[c]} if c in NO_LONGER_PUBLISHED else {}),
            "contentType": "application/json",
            "bindings": {"kafka": {"key": {"type": "string", "format": "uuid"}}},
            "headers": {
                "type": "object",
                "required": [
                    "ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time", "ce_subject",
                    "ce_signingkeyid", "ce_signature",
                ],
                "properties": {
                    "ce_specversion": {"const": "1.0"},
                    "ce_id": {"type": "string", "format": "uuid"},
                    "ce_source": (
                        {"type": "string", "pattern": "^/ants/[a-z]+$"}
                        if c.producer == "checkpoints" else {"const": f"/ants/{c.producer}"}
                    ),
                    "ce_type": {"const": c.ce_type()},
                    "ce_time": {"type": "string", "format": "date-time"},
                    "ce_subject": {"type": "string"},
                    "ce_sequence": {"type": "string"},
                    "traceparent": {"type": "string"},
                    **PROVENANCE_SCHEMA,
                    **SIGNATURE_SCHEMA,
                },
            },
            "payload": {"$ref": f"schemas/{schema_file(c)}"},
        }
        for c in CONTRACTS
    }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Demande de duplicata: event topics",
            "version": "1.0.0",
            "description": "CloudEvents 1.0, Kafka binding, binary mode.",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "components": {"messages": messages},
    }


def breaking_changes(old: dict[str, Any], new: dict[str, Any], where: str = "") -> list[str]:
    """What in `new` would break a consumer written against `old`, nested models included
    (the leaves of a checkpoint, the lines of an amount)."""
    problems = []
    new_definitions = new.get("definitions", {})
    for model, definition in old.get("definitions", {}).items():
        if model not in new_definitions:
            problems.append(f"{where}model '{model}' was removed")
        else:
            problems += breaking_changes(definition, new_definitions[model], f"{where}{model}.")
    old_props, new_props = old.get("properties", {}), new.get("properties", {})
    for name in old.get("required", []):
        if name not in new.get("required", []):
            problems.append(f"{where}required field '{name}' is no longer required")
    for name, prop in old_props.items():
        if name not in new_props:
            problems.append(f"{where}field '{name}' was removed")
        elif _type_of(prop) != _type_of(new_props[name]):
            problems.append(f"{where}field '{name}' changed type")
    for name in new.get("required", []):
        if name not in old.get("required", []):
            problems.append(f"{where}new required field '{name}' (old producers do not send it)")
    return problems


def _type_of(prop: dict[str, Any]) -> Any:
    return prop.get("type") or prop.get("$ref") or prop.get("anyOf") or prop.get("const")


def write(directory: Path = SCHEMA_DIR) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for contract in CONTRACTS:
        (directory / schema_file(contract)).write_text(dump(json_schema(contract)))
    (directory.parent / "asyncapi.json").write_text(dump(asyncapi()))


def dump(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


if __name__ == "__main__":
    write(Path(sys.argv[1]) if len(sys.argv) > 1 else SCHEMA_DIR)
