"""Create the key pairs of a deployment (each kept when it exists):

`python -m ants_runtime.keys PRIVATE.pem PUBLIC.pem [--producers FOLDER SERVICE...]`

- the token signing key pair, PRIVATE.pem and PUBLIC.pem;
- with `--producers`, each service's producer key pair, `FOLDER/<service>/keys/ledger-private.pem`
  (it signs the service's checkpoints and published records), its public key pinned as
  `FOLDER/../producers/<service>.pem` for the consumers (TRUSTED_PRODUCER_KEYS_DIR).
"""

import sys
from pathlib import Path

from ants_runtime.auth import ensure_keypair
from ants_runtime.signing import pin_producer_keys

if __name__ == "__main__":
    ensure_keypair(Path(sys.argv[1]), Path(sys.argv[2]))
    if len(sys.argv) > 4 and sys.argv[3] == "--producers":
        folder = Path(sys.argv[4])
        pin_producer_keys(folder, sys.argv[5:], folder.parent / "producers")
