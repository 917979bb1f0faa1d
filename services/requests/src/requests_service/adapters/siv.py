"""The national vehicle registry (SIV), as an adapter over a seeded local dataset."""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

DEFAULT_DATASET = Path(__file__).with_name("siv_dataset.json")


def person_key(given_name: str, family_name: str) -> tuple[str, str]:
    """Names compared without case, accents or extra spaces."""

    def fold(text: str) -> str:
        text = unicodedata.normalize("NFKD", text)
        text = "".join(c for c in text if not unicodedata.combining(c))
        return " ".join(text.replace("-", " ").upper().split())

    return fold(given_name), fold(family_name)


@dataclass(frozen=True)
class Person:
    given_name: str
    family_name: str
    address: str = ""
    birthdate: str = ""  # YYYY-MM-DD when the registry has it

    def is_named(self, given_name: str, family_name: str, birthdate: str = "") -> bool:
        """Whether this is the person an identity provider described: the same family name,
        the registry's given name(s) being all of theirs or the first, and the same birth
        date when both are known."""
        mine, theirs = person_key(self.given_name, self.family_name), person_key(given_name, family_name)
        if mine[1] != theirs[1]:
            return False
        first_given_name = theirs[0].split(" ")[0]
        if mine[0] not in (theirs[0], first_given_name):
            return False
        return not (self.birthdate and birthdate) or self.birthdate == birthdate


@dataclass(frozen=True)
class VehicleRecord:
    plate: str
    vin: str
    make: str
    model: str
    first_registration: str
    holder: Person
    co_holders: tuple[Person, ...] = ()
    theft_of_title_recorded: bool = False
    pledges: tuple[dict[str, str], ...] = ()  # gages: creditor, registered_on
    objections: tuple[dict[str, str], ...] = ()  # oppositions: kind, label, by, registered_on
    extra: dict[str, Any] = field(default_factory=dict)


class VehicleRegistry(Protocol):
    def find(self, plate: str) -> VehicleRecord | None: ...

    def held_by(self, given_name: str, family_name: str) -> list[VehicleRecord]:
        """The vehicles whose holder or a co-holder bears this name, by plate."""
        ...


class SeededSiv:
    """Reads vehicles from a JSON file; a `fleets` entry expands to many numbered vehicles."""

    def __init__(self, vehicles: dict[str, VehicleRecord]) -> None:
        self.vehicles = vehicles
        self.by_person: dict[tuple[str, str], list[VehicleRecord]] = {}
        for vehicle in sorted(vehicles.values(), key=lambda v: v.plate):
            for person in (vehicle.holder, *vehicle.co_holders):
                key = person_key(person.given_name, person.family_name)
                self.by_person.setdefault(key, []).append(vehicle)

    @classmethod
    def load(cls, path: Path | None = None) -> SeededSiv:
        raw = json.loads((path or DEFAULT_DATASET).read_text())
        vehicles = {v["plate"]: _record(v) for v in raw.get("vehicles", [])}
        for fleet in raw.get("fleets", []):
            for n in range(fleet["count"]):
                block, number = divmod(n, 999)
                plate = f"{fleet['prefix']}-{number + 1:03d}-{_suffix(block)}"
                vehicles[plate] = _record(
                    {**fleet["template"], "plate": plate, "vin": f"{fleet['vin_prefix']}{n:08d}"}
                )
        return cls(vehicles)

    def find(self, plate: str) -> VehicleRecord | None:
        return self.vehicles.get(plate)

    def held_by(self, given_name: str, family_name: str) -> list[VehicleRecord]:
        return list(self.by_person.get(person_key(given_name, family_name), []))


def _suffix(block: int) -> str:
    letters = "ABCDEFGHJKLMNPQRSTVWXYZ"  # no I, O, U in SIV numbers
    return letters[block // len(letters) % len(letters)] + letters[block % len(letters)]


def _person(raw: dict[str, Any]) -> Person:
    return Person(
        raw["given_name"], raw["family_name"], raw.get("address", ""), raw.get("birthdate", "")
    )


def _record(raw: dict[str, Any]) -> VehicleRecord:
    return VehicleRecord(
        plate=raw["plate"],
        vin=raw["vin"],
        make=raw["make"],
        model=raw["model"],
        first_registration=raw["first_registration"],
        holder=_person(raw["holder"]),
        co_holders=tuple(_person(p) for p in raw.get("co_holders", [])),
        theft_of_title_recorded=raw.get("theft_of_title_recorded", False),
        pledges=tuple(raw.get("pledges", [])),
        objections=tuple(raw.get("objections", [])),
    )
