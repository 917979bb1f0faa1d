"""Create the token signing key pair: `python -m ants_runtime.keys PRIVATE.pem PUBLIC.pem`."""

import sys
from pathlib import Path

from ants_runtime.auth import ensure_keypair

if __name__ == "__main__":
    ensure_keypair(Path(sys.argv[1]), Path(sys.argv[2]))
