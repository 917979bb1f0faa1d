"""Create the key pairs of a deployment (each kept when it exists):

`python -m ants_runtime.keys PRIVATE.pem PUBLIC.pem [CONTACT-PRIVATE.pem CONTACT-PUBLIC.pem]
[--producers FOLDER SERVICE...]`

- the token signing key pair, PRIVATE.pem and PUBLIC.pem;
- the notifications service's address sealing pair, CONTACT-PRIVATE.pem and CONTACT-PUBLIC.pem;
- with `--producers`, each service's producer key pair, `FOLDER/<service>/keys/ledger-private.pem`
  (it signs the service's checkpoints and published records), its public key pinned as
  `FOLDER/../producers/<service>.pem` for the consumers (TRUSTED_PRODUCER_KEYS_DIR).
"""

import sys
from pathlib import Path

from ants_runtime.auth import ensure_keypair
from ants_runtime.sealed import ensure_x25519_keypair
from ants_runtime.signing import pin_producer_keys

if __name__ == "__main__":
    args = sys.argv[1:]
    producers = args[args.index("--producers") + 1 :] if "--producers" in args else []
    pairs = args[: args.index("--producers")] if "--producers" in args else args
    ensure_keypair(Path(pairs[0]), Path(pairs[1]))
    if len(pairs) == 4:
        ensure_x25519_keypair(Path(pairs[2]), Path(pairs[3]))
    if producers:
        folder = Path(producers[0])
        pin_producer_keys(folder, producers[1:], folder.parent / "producers")
