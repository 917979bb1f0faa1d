"""The people this provider vouches for: the demo identities, and those created through its
enrolment API (tests and benchmarks make a verified person for themselves there)."""

from __future__ import annotations

import json
import re
import threading
import uuid
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path

DEMO_IDENTITIES = Path(__file__).with_name("demo_identities.json")
INSEE_CODE = re.compile(r"^[0-9][0-9AB][0-9]{3}$")

# FranceConnect's scopes and the claims each one releases.
SCOPE_CLAIMS = {
    "openid": ("sub",),
    "given_name": ("given_name",),
    "family_name": ("family_name",),
    "birthdate": ("birthdate",),
    "birthplace": ("birthplace",),
    "birthcountry": ("birthcountry",),
    "gender": ("gender",),
    "email": ("email",),
}


DEFAULT_BIRTHDATE = "1980-01-01"


def demo_birthdate(given_name: str, family_name: str) -> str:
    """The birth date of the demo person of that name (the first of their given names), for
    tests that make a verified person who must match the seeded SIV; a fixed date otherwise."""
    for raw in json.loads(DEMO_IDENTITIES.read_text()):
        if (raw["given_name"].split()[0].upper(), raw["family_name"].upper()) == (
            given_name.split()[0].upper() if given_name.split() else "", family_name.upper()
        ):
            return str(raw["birthdate"])
    return DEFAULT_BIRTHDATE


class InvalidIdentity(ValueError):
    pass


@dataclass(frozen=True)
class Identity:
    sub: str
    given_name: str  # every given name, separated by spaces, as in the civil register
    family_name: str
    birthdate: str  # YYYY-MM-DD
    birthplace: str  # INSEE code of the commune (France), empty abroad
    birthcountry: str  # INSEE code of the country, 99100 for France
    gender: str
    email: str

    def claims(self, scope: str) -> dict[str, str]:
        """What the scopes release (the userinfo and ID token claims)."""
        released = {"sub": self.sub}
        for name in scope.split():
            for claim in SCOPE_CLAIMS.get(name, ()):
                released[claim] = asdict(self)[claim]
        return released


def check_identity(raw: dict[str, str]) -> None:
    for name in ("given_name", "family_name", "email"):
        if not str(raw.get(name, "")).strip():
            raise InvalidIdentity(f"{name} is required")
    try:
        date.fromisoformat(str(raw.get("birthdate", "")))
    except ValueError as error:
        raise InvalidIdentity("birthdate: YYYY-MM-DD") from error
    if raw.get("birthplace") and not INSEE_CODE.match(str(raw["birthplace"])):
        raise InvalidIdentity("birthplace: an INSEE commune code")


class Directory:
    """In memory: the demo identities are read at start, enrolled ones live until a restart
    (the accounts they signed in to keep their link by subject)."""

    def __init__(self, identities: list[Identity]) -> None:
        self._by_sub = {i.sub: i for i in identities}
        self._lock = threading.Lock()

    @classmethod
    def load(cls, path: Path = DEMO_IDENTITIES) -> Directory:
        return cls([Identity(**raw) for raw in json.loads(path.read_text())])

    def get(self, sub: str) -> Identity | None:
        return self._by_sub.get(sub)

    def demo(self) -> list[Identity]:
        return [i for i in self._by_sub.values() if i.sub.startswith("demo-")]

    def enrol(self, raw: dict[str, str]) -> Identity:
        check_identity(raw)
        identity = Identity(
            sub=str(uuid.uuid4()),
            given_name=" ".join(str(raw["given_name"]).split()),
            family_name=" ".join(str(raw["family_name"]).split()),
            birthdate=str(raw["birthdate"]),
            birthplace=str(raw.get("birthplace", "")),
            birthcountry=str(raw.get("birthcountry", "99100")),
            gender=str(raw.get("gender", "")),
            email=str(raw["email"]).strip().lower(),
        )
        with self._lock:
            self._by_sub[identity.sub] = identity
        return identity
