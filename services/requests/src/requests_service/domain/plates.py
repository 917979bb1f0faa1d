"""Registration numbers: the SIV format (AB-123-CD) and the old FNI one (1234 AB 56)."""

from __future__ import annotations

import re

from requests_service.domain.errors import InvalidRequest

PLATE_MAX_LENGTH = 20  # room for spaces around a plate; the longest FNI number has 12 signs
SIV = re.compile(r"^([A-Z]{2})[\s-]?(\d{3})[\s-]?([A-Z]{2})$")
FNI = re.compile(r"^\d{1,4}\s*-?\s*[A-Z]{1,3}\s*-?\s*(\d{2}|2A|2B|97\d)$")


def normalise_plate(raw: str) -> str:
    """Return the plate as AB-123-CD, or raise InvalidRequest with what to do instead."""
    text = " ".join(raw.strip().upper().split())
    if not text:
        raise InvalidRequest("Renseignez le numéro d'immatriculation.", field="plate")
    match = SIV.match(text)
    if match:
        if match.group(2) == "000":
            raise InvalidRequest(
                f"« {raw.strip()} » n'est pas un numéro d'immatriculation valide "
                "(le nombre 000 n'est pas attribué).",
                field="plate",
            )
        return f"{match.group(1)}-{match.group(2)}-{match.group(3)}"
    if FNI.match(text):
        raise InvalidRequest(
            f"« {raw.strip()} » est un numéro à l'ancien format (FNI). Un duplicata ne peut pas "
            "être demandé pour ce numéro : faites une demande de changement de titre, qui "
            "attribuera au véhicule un numéro au format AB-123-CD.",
            field="plate",
        )
    raise InvalidRequest(
        f"« {raw.strip()} » n'est pas un numéro d'immatriculation valide : "
        "le format attendu est AB-123-CD.",
        field="plate",
    )
