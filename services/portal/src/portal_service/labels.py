"""French wording of the choices the forms offer (the services keep the rules)."""

from __future__ import annotations

REASON_CHOICES = (
    ("perte", "Perte"),
    ("vol", "Vol"),
    ("deterioration", "Détérioration"),
)
PERSON_CHOICES = (
    ("titulaire", "Titulaire", "Le certificat d'immatriculation est à votre nom."),
    ("cotitulaire", "Co-titulaire", "Votre nom figure sur le certificat avec celui du titulaire."),
    ("mandataire", "Mandataire",
     "Vous agissez pour le compte du titulaire (par exemple la société de location d'un "
     "véhicule loué)."),
)
SPECIAL_CASE = (
    "Le véhicule m'a été cédé mais je ne dispose plus du certificat d'immatriculation pour "
    "l'immatriculer à mon nom"
)
SWORN_STATEMENT = (
    "J'atteste sur l'honneur l'exactitude des informations déclarées dans cette demande."
)
LEGAL_TERMS = (
    "J'ai pris connaissance des conditions légales d'utilisation de la téléprocédure et je "
    "sais qu'une fausse déclaration m'expose aux sanctions prévues par le code pénal."
)
# The CERT's reasons as the citizen reads them (the service sends only the code).
REJECTION_REASONS = {
    "illisible": "Document illisible",
    "incomplet": "Document incomplet",
    "non_conforme": "Document non conforme",
    "autre": "Autre motif",
}
DOCUMENT_KINDS = {
    "cpi": "Certificat provisoire d'immatriculation",
    "recapitulatif": "Récapitulatif de la demande",
    "declaration": "Déclaration de vol",
}
ACCEPTED_UPLOADS = ".pdf,.jpg,.jpeg,.png,application/pdf,image/jpeg,image/png"
ACCEPTED_UPLOADS_TEXT = "PDF, JPEG ou PNG"
