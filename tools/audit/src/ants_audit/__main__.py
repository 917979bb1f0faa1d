"""ants-audit: the auditors' command line.

    ants-audit export DOSSIER_ID -o FILE   the dossier's history with its proofs, one JSON file
    ants-audit verify FILE                 offline: exit 0 when intact, else names the first bad event
    ants-audit replay DOSSIER_ID           the timeline and the state after each event
                      [--from-topics | --compare]

Authentication (export, replay): a bearer token in ANTS_TOKEN, or --email with the password
prompted. The defaults reach the system `make run` starts on this machine.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from ants_audit import replay
from ants_events.signatures import TrustedProducers
from ants_audit.verify import verify_bundle

console = Console(stderr=True)
out = Console(width=None if sys.stdout.isatty() else 240)  # a file or a pipe: no wrapping


class Services:
    def __init__(self, args: argparse.Namespace) -> None:
        self.identity = args.identity_url.rstrip("/")
        self.requests = args.requests_url.rstrip("/")
        self.http = httpx.Client(timeout=60.0)
        self.token = os.environ.get("ANTS_TOKEN") or ""
        if args.email:
            password = getpass.getpass(f"Mot de passe de {args.email} : ")
            answer = self.http.post(f"{self.identity}/sessions", json={"email": args.email, "password": password})
            if answer.status_code != 200:
                raise SystemExit(f"login refused ({answer.status_code})")
            self.token = answer.json()["access_token"]
        if not self.token:
            raise SystemExit("no credentials: set ANTS_TOKEN or pass --email")

    def get(self, path: str, **params: Any) -> Any:
        answer = self.http.get(f"{self.requests}{path}", params=params or None,
                               headers={"Authorization": f"Bearer {self.token}"})
        if answer.status_code != 200:
            raise SystemExit(f"GET {path}: {answer.status_code} {answer.text[:200]}")
        return answer.json()


def export(args: argparse.Namespace) -> int:
    services = Services(args)
    bundle = services.get(f"/dossiers/{args.dossier_id}/audit/bundle")
    Path(args.output).write_text(json.dumps(bundle, indent=2, ensure_ascii=False) + "\n")
    unproven = sum(1 for e in bundle["events"] if not e.get("proof"))
    console.print(f"{len(bundle['events'])} events from {', '.join(sorted(bundle['checkpoints']))} "
                  f"written to {args.output}" + (f"; {unproven} not yet covered by a checkpoint" if unproven else ""))
    return 0


def verify(args: argparse.Namespace) -> int:
    try:
        bundle = json.loads(Path(args.file).read_text())
    except (OSError, ValueError) as error:
        out.print(f"unreadable bundle: {error}")
        return 2
    pinned = dict(item.split("=", 1) for item in args.key or [])
    findings = verify_bundle(bundle, pinned)
    if not findings:
        keys = ", ".join(f"{s} {k[:12]}…" for s, k in sorted(bundle["public_keys"].items()))
        out.print(f"intact: {len(bundle['events'])} events, signed by {keys}")
        return 0
    out.print(f"NOT INTACT: {findings[0]}")
    for finding in findings[1:]:
        out.print(f"  also: {finding}")
    return 1


def replay_command(args: argparse.Namespace) -> int:
    records: list[replay.TopicRecord] = []
    refused: list[str] = []
    if args.from_topics or args.compare:
        with Progress(TextColumn("scanning the topics"), BarColumn(), MofNCompleteColumn(),
                      TaskProgressColumn(), TextColumn("{task.fields[rate]}"), TimeElapsedColumn(),
                      console=console) as progress:
            task = progress.add_task("scan", total=None, rate="")

            def advance(scanned: int, total: int) -> None:
                elapsed = progress.tasks[0].elapsed or 0
                rate = f"{scanned / elapsed:,.0f} records/s" if elapsed else ""
                progress.update(task, completed=scanned, total=total, rate=rate)

            trusted = TrustedProducers.from_dir(args.producer_keys)
            if not trusted.keys:
                console.print(f"no pinned producer key (<service>.pem) in {args.producer_keys}")
                return 2
            records = replay.run(replay.read_topics(
                args.bootstrap, args.dossier_id, advance, trusted=trusted, refused=refused
            ))
        for why in refused:
            console.print(f"left out, not signed by its producer: {why}")
    if args.from_topics and not args.compare:
        table = Table("at", "service", "event", "actor", *replay.COMPARED[:1], "state")
        for record, state in replay.topic_timeline(records):
            table.add_row(record.headers.get("ce_time", "")[:23], record.service, record.type,
                          record.headers.get("ce_actor", ""), str(state["status"]), _brief(state))
        out.print(table)
        return 0
    services = Services(args)
    history = services.get(f"/dossiers/{args.dossier_id}/history")
    if not args.compare:
        table = Table("version", "at", "event", "status", "state")
        for event in history:
            state = replay.api_view(services.get(f"/dossiers/{args.dossier_id}/audit/state",
                                                 as_of_version=event["version"]))
            table.add_row(str(event["version"]), event["at"][:23], event["type"], str(state["status"]), _brief(state))
        out.print(table)
        return 0
    whole = services.get(f"/dossiers/{args.dossier_id}/audit")
    versions = {e["event_id"]: e["stream_version"] for e in whole if e.get("stream_version")}
    rows = replay.compare(records, history, versions, lambda v: services.get(
        f"/dossiers/{args.dossier_id}/audit/state", as_of_version=v))
    table = Table("version", "event", "from the topics", "from the API", "agree")
    disagreements = 0
    for version, kind, topics_state, api_state in rows:
        agree = topics_state == api_state
        disagreements += not agree
        table.add_row(str(version), kind, _brief(topics_state), _brief(api_state), "yes" if agree else "NO")
    out.print(table)
    out.print("the topics and the API agree at every version" if not disagreements
              else f"they disagree at {disagreements} version(s)")
    return 0 if not disagreements else 1


def _brief(state: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in state.items() if v is not None and k != "status")


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog="ants-audit", description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = main.add_subparsers(dest="command", required=True)

    def with_services(command: argparse.ArgumentParser) -> None:
        command.add_argument("--email", help="log in as this auditor (the password is prompted)")
        command.add_argument("--identity-url", default=os.environ.get("ANTS_IDENTITY_URL", "http://127.0.0.1:8001"))
        command.add_argument("--requests-url", default=os.environ.get("ANTS_REQUESTS_URL", "http://127.0.0.1:8002"))
        command.add_argument("--bootstrap", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
                             help="Kafka bootstrap servers (replay --from-topics, --compare)")

    exporting = commands.add_parser("export", help="export a dossier's history with its proofs")
    exporting.add_argument("dossier_id")
    exporting.add_argument("-o", "--output", required=True)
    with_services(exporting)
    exporting.set_defaults(run=export)

    verifying = commands.add_parser("verify", help="verify a bundle offline")
    verifying.add_argument("file")
    verifying.add_argument("--key", action="append", metavar="SERVICE=BASE64",
                           help="pin a service's checkpoint key (repeatable)")
    verifying.set_defaults(run=verify)

    replaying = commands.add_parser("replay", help="a dossier's timeline with the state after each event")
    replaying.add_argument("dossier_id")
    source = replaying.add_mutually_exclusive_group()
    source.add_argument("--from-topics", action="store_true", help="from the Kafka topics alone")
    source.add_argument("--compare", action="store_true", help="both, and say whether they agree")
    replaying.add_argument(
        "--producer-keys", type=Path,
        default=Path(os.environ.get("TRUSTED_PRODUCER_KEYS_DIR", "var/keys/producers")),
        help="folder of the producers' pinned public keys, <service>.pem: a record from the "
        "topics counts only when its producer's key verifies it",
    )
    with_services(replaying)
    replaying.set_defaults(run=replay_command)
    return main


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
