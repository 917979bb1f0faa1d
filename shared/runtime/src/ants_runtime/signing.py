"""Producer keys: the service's own (it signs what its relay publishes) and the pinned keys of
the producers it believes (see `ants_events.signatures`)."""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path

from ants_events.signatures import RecordSigner, TrustedProducers
from ants_runtime.auth import ensure_keypair
from ants_runtime.settings import ServiceSettings


def public_key_file(private_key_file: Path) -> Path:
    """`ledger-private.pem` -> `ledger-public.pem` (or `<stem>-public.pem`), side by side."""
    name = private_key_file.name
    return private_key_file.with_name(
        name.replace("private", "public") if "private" in name else f"{private_key_file.stem}-public.pem"
    )


def producer_signer(settings: ServiceSettings) -> RecordSigner:
    """The service's signing key (its ledger key), created on first start when absent."""
    key_file = settings.signing_key_file
    ensure_keypair(key_file, public_key_file(key_file))
    return RecordSigner.from_file(key_file)


def trusted_producers(settings: ServiceSettings) -> TrustedProducers:
    return TrustedProducers.from_dir(settings.producer_keys_dir)


def pin_producer_keys(data_dir: Path, services: Iterable[str], folder: Path) -> None:
    """The embedded deployment: each service's key pair under its data folder (created when
    absent), its public key pinned as `<folder>/<service>.pem` for every consumer."""
    folder.mkdir(parents=True, exist_ok=True)
    for service in services:
        private = data_dir / service / "keys" / "ledger-private.pem"
        public = public_key_file(private)
        ensure_keypair(private, public)
        shutil.copyfile(public, folder / f"{service}.pem")
