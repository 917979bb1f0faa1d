"""Password hashing with scrypt (standard library); only the hash is ever stored."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import threading

# Each derivation with these parameters holds 128 * N * R bytes (16 MiB) while it runs.
N, R, P = 2**14, 8, 1


class Passwords:
    """Hashes and verifies passwords, at most `concurrency` at a time.

    Verifying for an address that has no account runs the same derivation against a dummy
    hash: a login takes the same work whether or not the account exists, so its duration
    does not tell which addresses are registered.
    """

    def __init__(self, concurrency: int = 2) -> None:
        self._slots = threading.BoundedSemaphore(concurrency)
        self._dummy = encode(N, R, P, os.urandom(16), os.urandom(32))

    def hash(self, password: str) -> str:
        salt = os.urandom(16)
        return encode(N, R, P, salt, self.derive(password, salt, N, R, P))

    def verify(self, password: str, encoded: str | None) -> bool:
        """Whether the password matches; `encoded` is None when there is no such account."""
        _, n, r, p, salt, digest = (encoded or self._dummy).split("$")
        candidate = self.derive(password, base64.b64decode(salt), int(n), int(r), int(p))
        return hmac.compare_digest(candidate, base64.b64decode(digest)) and encoded is not None

    def derive(self, password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
        with self._slots:  # bounds the memory of concurrent logins and registrations
            return hashlib.scrypt(
                password.encode(), salt=salt, n=n, r=r, p=p, dklen=32,
                maxmem=2 * 128 * n * r * p,
            )


def encode(n: int, r: int, p: int, salt: bytes, digest: bytes) -> str:
    return "scrypt${}${}${}${}${}".format(
        n, r, p, base64.b64encode(salt).decode(), base64.b64encode(digest).decode()
    )
