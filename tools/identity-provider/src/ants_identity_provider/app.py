"""The HTTP side of the demo provider: discovery, JWKS, the authorization page where a demo
person picks who they are, the token and userinfo endpoints, and the enrolment API."""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import urlencode

from authlib.oauth2 import OAuth2Error
from litestar import Litestar, Request, Response, get, post
from litestar.di import Provide

from ants_identity_provider.identities import Directory, Identity, InvalidIdentity
from ants_identity_provider.keys import load_or_create_signing_key
from ants_identity_provider.server import Client, FormRequest, Server
from ants_identity_provider.settings import Settings, get_settings

PAGE = """<!doctype html>
<html lang="fr"><head><meta charset="utf-8"><title>Fournisseur d'identité de démonstration</title>
<style>body{{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem}}
label{{display:block;margin:.5rem 0}}button{{margin-top:1rem;padding:.5rem 1rem}}</style></head>
<body><h1>Fournisseur d'identité de démonstration</h1>
<p>Ce fournisseur suit le parcours de FranceConnect pour les démonstrations et les tests :
choisissez la personne dont l'identité sera transmise au service.</p>
{body}</body></html>"""


def page(body: str, status: int = 200) -> Response[str]:
    return Response(PAGE.format(body=body), status_code=status, media_type="text/html")


async def oauth_request(request: Request[Any, Any, Any]) -> FormRequest:
    data = dict(request.query_params)
    if request.method == "POST":
        data |= dict(await request.form())
    return FormRequest(request.method, str(request.url), request.headers, data)  # type: ignore[arg-type]


def reply(result: tuple[int, Any, list[tuple[str, str]]]) -> Response[Any]:
    status, body, headers = result
    return Response(body, status_code=status, headers=dict(headers))


def chooser(identities: list[Identity], action: str) -> str:
    choices = "".join(
        f'<label><input type="radio" name="identity" value="{html.escape(i.sub)}" required> '
        f"{html.escape(i.given_name)} {html.escape(i.family_name)}, née ou né le "
        f"{html.escape(i.birthdate)}</label>"
        for i in identities
    )
    return (f'<form method="post" action="{html.escape(action)}">{choices}'
            '<button type="submit">Transmettre cette identité</button></form>'
            '<h2>Une personne inscrite pour un essai</h2>'
            f'<form method="post" action="{html.escape(action)}">'
            '<label for="enrolled">Identifiant de la personne (réponse de POST /identities)</label>'
            '<input id="enrolled" name="identity" required autocomplete="off">'
            '<button type="submit">Transmettre l\'identité de cette personne</button></form>')


@get("/.well-known/openid-configuration", sync_to_thread=False)
def discovery(server: Server) -> dict[str, Any]:
    return server.metadata()


@get("/jwks", sync_to_thread=False)
def jwks(server: Server) -> dict[str, Any]:
    return server.jwks()


@get("/authorize")
async def authorize_page(request: Request[Any, Any, Any], server: Server, directory: Directory) -> Response[Any]:
    oauth = await oauth_request(request)
    try:
        server.get_consent_grant(oauth)
    except OAuth2Error as error:
        return page(f"<p>Demande refusée : {html.escape(error.error)} "
                    f"{html.escape(error.description or '')}</p>", 400)
    return page(chooser(directory.demo(), "/authorize?" + urlencode(dict(request.query_params))))


@post("/authorize", status_code=302)
async def authorize(request: Request[Any, Any, Any], server: Server, directory: Directory) -> Response[Any]:
    oauth = await oauth_request(request)
    try:
        grant = server.get_consent_grant(oauth)
    except OAuth2Error as error:
        return page(f"<p>Demande refusée : {html.escape(error.error)}</p>", 400)
    person = directory.get(oauth.payload.data.get("identity", ""))
    if person is None:
        return page("<p>Personne inconnue de ce fournisseur.</p>", 400)
    return reply(server.create_authorization_response(oauth, grant_user=person, grant=grant))


@post("/token", status_code=200)
async def token(request: Request[Any, Any, Any], server: Server) -> Response[Any]:
    server.memory.forget_expired()
    return reply(server.create_token_response(await oauth_request(request)))


@get("/userinfo")
async def userinfo(request: Request[Any, Any, Any], server: Server) -> Response[Any]:
    try:
        return Response(server.userinfo(await oauth_request(request)))
    except OAuth2Error as error:
        status, body, headers = error()
        return Response(body, status_code=status, headers=dict(headers) | {
            "WWW-Authenticate": f'Bearer error="{error.error}"',
        })


@post("/identities", status_code=201)
async def enrol(
    data: dict[str, str], directory: Directory, settings: Settings,
) -> Response[Any]:
    """Create a verified person (demo and tests only, IDP_ENROLMENT): given_name (every given
    name), family_name, birthdate (YYYY-MM-DD), email, optionally birthplace (INSEE code),
    birthcountry, gender. Answers the new subject, to pick on the authorization page."""
    if not settings.enrolment:
        return Response({"error": "enrolment is disabled"}, status_code=404)
    try:
        person = directory.enrol(data)
    except InvalidIdentity as error:
        return Response({"error": str(error)}, status_code=422)
    return Response({"sub": person.sub}, status_code=201)


@get("/health", sync_to_thread=False)
def health() -> dict[str, str]:
    return {"status": "ok"}


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or get_settings()
    client = Client(
        settings.client_id, settings.client_secret,
        tuple(u.strip() for u in settings.redirect_uris.split(",") if u.strip()),
    )
    server = Server(settings.issuer_url, [client], load_or_create_signing_key(settings.signing_key_file))
    directory = Directory.load()
    return Litestar(
        [discovery, jwks, authorize_page, authorize, token, userinfo, enrol, health],
        dependencies={
            "server": Provide(lambda: server, sync_to_thread=False),
            "directory": Provide(lambda: directory, sync_to_thread=False),
            "settings": Provide(lambda: settings, sync_to_thread=False),
        },
        openapi_config=None,
    )


def main() -> None:
    import uvicorn

    settings = get_settings()
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="warning")
