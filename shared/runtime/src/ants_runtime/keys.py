"""Create the key pairs once (kept if already there):
`python -m ants_runtime.keys TOKEN-PRIVATE.pem TOKEN-PUBLIC.pem [CONTACT-PRIVATE.pem CONTACT-PUBLIC.pem]`
(the token signing pair, then the notifications service's address sealing pair)."""

import sys
from pathlib import Path

from ants_runtime.auth import ensure_keypair
from ants_runtime.sealed import ensure_x25519_keypair

if __name__ == "__main__":
    ensure_keypair(Path(sys.argv[1]), Path(sys.argv[2]))
    if len(sys.argv) == 5:
        ensure_x25519_keypair(Path(sys.argv[3]), Path(sys.argv[4]))
