"""The small French page shown to someone who scans a CPI's QR code with a phone."""

from __future__ import annotations

from datetime import tzinfo
from html import escape

from litestar import Response

from documents_service.application import Verification
from documents_service.rendering.wording import french_date, local_time

STYLE = """
body{margin:0;font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1e1e24;
background:#f3f5fa;line-height:1.5}
header{background:#16265e;color:#fff;padding:.9rem 1.2rem;font-weight:600}
main{max-width:34rem;margin:1.5rem auto;padding:0 1rem}
.card{background:#fff;border-radius:.5rem;padding:1.2rem 1.4rem;border-left:.4rem solid #1f7a3a;
box-shadow:0 1px 3px rgba(0,0,0,.12)}
.card.invalid{border-left-color:#b3261e}
h1{font-size:1.35rem;margin:0 0 .8rem}
dl{display:grid;grid-template-columns:auto 1fr;gap:.3rem 1rem;margin:0}
dt{color:#55555f}dd{margin:0;font-weight:600}.nowrap{white-space:nowrap}
p.note{color:#55555f;font-size:.9rem}
"""


def html(body: str, status: int) -> Response[str]:
    return Response(
        body, status_code=status, media_type="text/html; charset=utf-8",
        headers={"Cache-Control": "no-store"},
    )


def page(title: str, content: str) -> str:
    return (
        '<!doctype html><html lang="fr"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="robots" content="noindex">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>"
        "<header>Vérification d'un certificat provisoire d'immatriculation</header>"
        f"<main>{content}</main></body></html>"
    )


def certificate(found: Verification, valid: bool, zone: tzinfo) -> str:
    until = french_date(found.valid_until)
    headline = (
        f"Certificat provisoire valide jusqu'au {until}"
        if valid
        else f"Certificat provisoire expiré depuis le {until}"
    )
    issued = french_date(local_time(found.issued_at, zone).date())
    content = (
        f'<section class="card{"" if valid else " invalid"}" aria-labelledby="statut">'
        f'<h1 id="statut">{escape(headline)}</h1><dl>'
        f'<dt>Numéro du certificat</dt><dd class="nowrap">{escape(found.certificate_number)}</dd>'
        f'<dt>Immatriculation</dt><dd class="nowrap">{escape(found.plate)}</dd>'
        f"<dt>Délivré le</dt><dd>{escape(issued)}</dd>"
        f"<dt>Valable jusqu'au</dt><dd>{escape(until)}</dd>"
        "</dl></section>"
        '<p class="note">Vérifiez que l\'immatriculation ci-dessus est bien celle du '
        "véhicule et du certificat présentés.</p>"
    )
    return page(headline, content)


def unknown_certificate() -> str:
    content = (
        '<section class="card invalid" aria-labelledby="statut">'
        '<h1 id="statut">Certificat inconnu.</h1>'
        "<p>Aucun certificat provisoire ne porte ce numéro. Vérifiez le numéro saisi ou "
        "scannez de nouveau le code du certificat.</p></section>"
    )
    return page("Certificat inconnu", content)
