"""French wording and formats printed on the documents: dates, amounts, labels."""

from __future__ import annotations

from datetime import date, datetime, tzinfo, UTC
from decimal import Decimal

REASONS = {"perte": "Perte", "vol": "Vol", "deterioration": "Détérioration"}
PERSONS = {
    "titulaire": "Titulaire du certificat d'immatriculation",
    "cotitulaire": "Co-titulaire du certificat d'immatriculation",
    "mandataire": "Mandataire (personne agissant pour le compte du titulaire)",
}
SPECIAL_CASE = (
    "«\u00a0Le véhicule m'a été cédé mais je ne dispose plus du certificat d'immatriculation "
    "pour l'immatriculer à mon nom\u00a0»"
)
# The supporting documents the CERT accepted, as the documents name them.
SUPPORTING_DOCUMENTS = {
    "declaration_vol": "Déclaration de vol",
    "mandat": "Mandat du titulaire (cerfa n° 13757 ou lettre signée)",
    "piece_identite_titulaire": "Pièce d'identité du titulaire",
    "piece_identite_demandeur": "Pièce d'identité du demandeur",
    "certificat_cession": "Certificat de cession (cerfa n° 15776)",
}
# Who asked, when it is not the holder.
REQUESTER_ROLES = {
    "mandataire": "mandataire du titulaire",
    "special_case": "acquéreur du véhicule",
}
DAMAGED_CERTIFICATE = (
    "Vous avez déclaré un certificat d'immatriculation détérioré : conservez-le. L'ANTS "
    "demande de garder le certificat détérioré pendant cinq ans."
)
SWORN_STATEMENT = "Je certifie sur l'honneur l'exactitude des informations déclarées."
LEGAL_TERMS = (
    "J'ai pris connaissance des conditions légales d'utilisation de la téléprocédure et des "
    "sanctions encourues en cas de fausse déclaration."
)

# The wording above, which the documents can lay out once for all dossiers.
FIXED = frozenset({
    *REASONS.values(), *PERSONS.values(), SPECIAL_CASE, SWORN_STATEMENT, LEGAL_TERMS,
    *SUPPORTING_DOCUMENTS.values(),
})


def french_date(day: date) -> str:
    return day.strftime("%d/%m/%Y")


def local_time(moment: datetime | str, zone: tzinfo) -> datetime:
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(zone)


def french_datetime(moment: datetime | str, zone: tzinfo) -> str:
    local = local_time(moment, zone)
    return f"{french_date(local.date())} à {local:%H:%M}"


def french_amount(amount: str | Decimal, currency_sign: str) -> str:
    """Decimal("1234.5") -> "1 234,50 €": a comma for decimals, a space between thousands."""
    value = Decimal(amount).quantize(Decimal("0.01"))
    units, cents = f"{value:,.2f}".split(".")
    return f"{units.replace(',', ' ')},{cents} {currency_sign}"


def holder_name(holder: dict[str, str]) -> str:
    """Family name in capitals, then the given name, as printed on a registration certificate."""
    return f"{holder.get('family_name', '').upper()} {holder.get('given_name', '')}".strip()


def requester_role(person: str, special_case: bool) -> str | None:
    """How the requester stands to the holder, when the requester is not the holder."""
    if person == "mandataire":
        return REQUESTER_ROLES["mandataire"]
    if special_case:
        return REQUESTER_ROLES["special_case"]
    return None
