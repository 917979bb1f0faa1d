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
SPECIAL_CASE_HINT = (
    "Vous avez acheté ce véhicule, il n'est pas encore à votre nom et vous n'avez plus son "
    "certificat d'immatriculation. Vous n'êtes pas titulaire dans le SIV : vous enverrez au "
    "CERT le certificat de cession (cerfa n° 15776) signé par le vendeur et une copie de votre "
    "pièce d'identité."
)
MANDATE_HINT = (
    "Si vous agissez pour le titulaire, vous enverrez au CERT le mandat qu'il a signé "
    "(cerfa n° 13757 ou lettre signée) et une copie de sa pièce d'identité."
)
# The supporting documents the CERT reviews, and what the citizen should send for each.
SUPPORTING_DOCUMENTS = {
    "declaration_vol": "Déclaration de vol",
    "mandat": "Mandat signé par le titulaire",
    "piece_identite_titulaire": "Pièce d'identité du titulaire",
    "piece_identite_demandeur": "Votre pièce d'identité",
    "certificat_cession": "Certificat de cession",
}
SUPPORTING_HINTS = {
    "declaration_vol": "Le récépissé de la déclaration faite au commissariat de police ou à la "
    "brigade de gendarmerie.",
    "mandat": "Le formulaire cerfa n° 13757 ou une lettre, daté et signé par le titulaire, qui "
    "vous autorise à faire cette demande pour lui.",
    "piece_identite_titulaire": "Une copie lisible, recto et verso, de la carte d'identité, du "
    "passeport ou du titre de séjour du titulaire du certificat.",
    "piece_identite_demandeur": "Une copie lisible, recto et verso, de votre carte d'identité, "
    "de votre passeport ou de votre titre de séjour.",
    "certificat_cession": "Le formulaire cerfa n° 15776, rempli et signé par le vendeur et par "
    "vous au moment de la vente.",
}
DAMAGED_CERTIFICATE = (
    "Conservez votre certificat d'immatriculation détérioré : l'ANTS demande de le garder "
    "pendant cinq ans."
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
    "avis_expedition": "Avis d'expédition du certificat d'immatriculation",
    "declaration": "Déclaration de vol",
    **{kind: label for kind, label in SUPPORTING_DOCUMENTS.items() if kind != "declaration_vol"},
}
ACCEPTED_UPLOADS = ".pdf,.jpg,.jpeg,.png,application/pdf,image/jpeg,image/png"
ACCEPTED_UPLOADS_TEXT = "PDF, JPEG ou PNG"

# The auditor's timeline: which service spoke, what happened, who caused it.
AUDIT_SERVICES = {
    "requests": "Demandes",
    "cert": "CERT",
    "payment": "Paiement",
    "documents": "Documents",
    "identity": "Comptes",
}
AUDIT_EVENTS = {
    "RequestStarted": "Demande créée",
    "RequestSubmitted": "Déclarations signées, demande envoyée",
    "TheftDeclarationRequested": "Dossier en attente de la déclaration de vol",
    "DocumentsRequested": "Dossier en attente de pièces justificatives",
    "DeclarationUploaded": "Pièce envoyée",
    "AttachmentRejected": "Pièce refusée par le CERT",
    "AttachmentAccepted": "Pièce acceptée par le CERT",
    "MessagePosted": "Message",
    "RequestReadyForPayment": "Dossier prêt pour le paiement",
    "PaymentRecorded": "Paiement enregistré",
    "CertificateIssued": "Certificat provisoire délivré",
    "RequestCompleted": "Demande terminée",
    "RequestCancelled": "Demande annulée",
}
AUDIT_ROLES = {
    "citizen": "usager",
    "cert_agent": "agent du CERT",
    "auditor": "auditeur",
    "operator": "exploitant",
}


def roles_of(roles: list[str]) -> str:
    """« Agent du CERT, auditeur »: the roles of the person who caused an event."""
    text = ", ".join(AUDIT_ROLES.get(role, role) for role in roles)
    return text[:1].upper() + text[1:]

# The documents given at the end, as a download button names them (with their article).
DOWNLOAD_NAMES = {
    "cpi": "le certificat provisoire d'immatriculation",
    "recapitulatif": "le récapitulatif de la demande",
    "avis_expedition": "l'avis d'expédition",
}
