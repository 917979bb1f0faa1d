"""`ants-stack run`: the whole system on its embedded defaults, until Ctrl-C."""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path

from ants_stack.stack import Stack, StackConfig

DEMO_LOGINS = [
    ("Marie MARTIN (citoyenne, perte, AB-123-CD)", "marie.martin@example.fr"),
    ("Julien PAUL (citoyen, vol, EF-456-GH et IJ-789-KL)", "julien.paul@example.fr"),
    ("Agent du CERT", "agent.cert@example.fr"),
    ("Second agent du CERT", "agent2.cert@example.fr"),
    ("Auditeur", "auditeur@example.fr"),
]


def main() -> None:
    parser = argparse.ArgumentParser(prog="ants-stack")
    parser.add_argument("command", choices=["run"])
    parser.add_argument("--var", type=Path, default=Path("var"), help="data folder (default var/)")
    parser.add_argument("--postgres", metavar="PREFIX", help="use PostgreSQL databases PREFIX_<service>")
    parser.add_argument(
        "--replicas", type=int, default=1, metavar="N",
        help="processes of every backend service (PostgreSQL only); replica k listens on port + 100 * k",
    )
    args = parser.parse_args()

    stack = Stack(StackConfig(var_dir=args.var, postgres_prefix=None, replicas=args.replicas))
    if args.postgres:
        stack.config.postgres_prefix = args.postgres
    try:
        stack.config.check()
    except RuntimeError as error:
        parser.error(str(error))
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        print("Démarrage du broker et des services…", flush=True)
        stack.start()
        print_welcome(stack)
        while not stopping:
            for what in stack.supervise_once():
                print(f"! {what} s'est arrêté : redémarré", flush=True)
            time.sleep(1)
    except RuntimeError as error:
        print(f"Échec du démarrage : {error}", file=sys.stderr)
        sys.exit(1)
    finally:
        print("\nArrêt des services…", flush=True)
        stack.config.postgres_prefix = None  # keep the databases: make run keeps every dossier
        stack.stop()
        print("Arrêté. Les dossiers sont conservés dans", stack.config.var_dir, flush=True)


def print_welcome(stack: Stack) -> None:
    c = stack.config
    print("\nLe système est prêt.\n")
    if "portal" in stack.services:
        print(f"  Portail (citoyens et CERT) : {c.url('portal')}")
    for name in ("identity", "requests", "cert", "payment", "documents", "notifications"):
        urls = c.replica_urls(name)
        print(f"  API {name:<10} {urls[0]}   (OpenAPI : {urls[0]}/schema)")
        for url in urls[1:]:
            print(f"  {'':<14} {url}")
    print(f"  Broker Kafka      127.0.0.1:{c.broker_port}")
    print(f"  Serveur de courriel (SMTP) 127.0.0.1:{c.mail_port}, messages dans {stack.mail_dir}/")
    if "portal" in stack.services:
        print(f"  Courriels envoyés : {c.url('portal')}/demo/courriels")
    print(f"  Journaux          {stack.logs}/\n")
    print("Comptes de démonstration (mot de passe : demo-2026) :")
    for who, email in DEMO_LOGINS:
        print(f"  {email:<28} {who}")
    print("\nCtrl-C pour tout arrêter.", flush=True)


if __name__ == "__main__":
    main()
