"""What the browser tests share: screenshots of every step, page checks, sample files."""

from __future__ import annotations

import random
import re
import shutil
import struct
import time
import uuid
import zlib
from collections.abc import Callable
from pathlib import Path

import httpx
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Locator, Page, expect

from ants_identity_provider.enrolment import person

PASSWORD = "demo-2026"
# Luhn-valid and accepted by the simulated payment provider.
CARD = {"number": "4970 1000 0000 0006", "expiry": "12/30", "cvv": "123"}
EXPIRED_CARD = {"number": "4970 1000 0000 0006", "expiry": "01/21", "cvv": "123"}

PAGE_BASICS = """() => {
  const problems = [];
  if (document.documentElement.lang !== "fr") problems.push("the page is not marked as French");
  const titles = document.querySelectorAll("h1").length;
  if (titles !== 1) problems.push(`${titles} h1 headings`);
  if (!document.querySelector('a.skip-link[href="#contenu"]')) problems.push("no skip link");
  for (const field of document.querySelectorAll("input, select, textarea")) {
    if (field.type === "hidden") continue;
    const named = (field.labels && field.labels.length) || field.getAttribute("aria-label");
    if (!named) problems.push(`no label for ${field.name || field.id}`);
  }
  const overflow = document.documentElement.scrollWidth - document.documentElement.clientWidth;
  if (overflow > 0) problems.push(`horizontal scroll of ${overflow} px`);
  return problems;
}"""


class Screens:
    """Saves `<nn>-<step>.png` for each step of a test, after checking the page's basics."""

    def __init__(self, folder: Path) -> None:
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        self.folder = folder
        self.count = 0

    def shot(self, page: Page, step: str) -> Path:
        page.wait_for_load_state("load")
        problems = page.evaluate(PAGE_BASICS)
        self.count += 1
        path = self.folder / f"{self.count:02d}-{step}.png"
        page.screenshot(path=str(path), full_page=True)
        assert problems == [], f"{step}: {problems} (see {path})"
        return path


def log_in(page: Page, portal: str, email: str, password: str = PASSWORD) -> None:
    page.goto(f"{portal}/connexion")
    page.get_by_label("Adresse électronique").fill(email)
    page.get_by_label("Mot de passe").fill(password)
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("button", name="Se déconnecter")).to_be_visible()


def menu(page: Page) -> Locator:
    return page.get_by_role("navigation", name="Menu principal")


def start_request(page: Page, reason: str, plate: str, person: str = "Titulaire") -> None:
    """« Je refais ma carte grise »: the request form, as the user guide fills it."""
    page.get_by_role("link", name="Je refais ma carte grise (certificat d'immatriculation)").click()
    page.get_by_label(reason, exact=True).check()
    page.get_by_label(person, exact=True).check()
    page.get_by_label("Numéro d'immatriculation").fill(plate)


def tick_declarations(page: Page) -> None:
    page.get_by_label("J'atteste sur l'honneur").check()
    page.get_by_label("J'ai pris connaissance des conditions légales").check()


def fill_card(page: Page, card: dict[str, str]) -> None:
    page.get_by_label("Numéro de la carte").fill(card["number"])
    page.get_by_label("Date d'expiration").fill(card["expiry"])
    page.get_by_label("Cryptogramme").fill(card["cvv"])


def download(page: Page, link: str) -> tuple[str, bytes]:
    with page.expect_download() as info:
        page.get_by_role("link", name=link).click()
    return info.value.suggested_filename, Path(info.value.path()).read_bytes()


def reload_until(page: Page, locator: Callable[[], Locator], timeout: float = 30.0) -> Locator:
    """Reload until the element shows up: news travels between services as events."""
    deadline = time.monotonic() + timeout
    while True:
        found = locator()
        if found.count() > 0:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"not shown within {timeout} s on {page.url}")
        page.wait_for_timeout(700)
        try:
            page.reload()
        except PlaywrightError as error:
            # A waiting page reloads itself when its dossier changes: ours was cut short.
            if "ERR_ABORTED" not in str(error):
                raise
            page.wait_for_load_state()


def row_with(page: Page, text: str) -> Locator:
    return page.get_by_role("row").filter(has_text=re.compile(re.escape(text)))


# --- sample declarations ---------------------------------------------------------------------


def blurry_photo(path: Path, width: int = 480, height: int = 320) -> Path:
    """A PNG where nothing can be read: what a CERT agent rejects as « illisible »."""
    rnd = random.Random(7)
    rows = []
    for y in range(height):
        row = bytearray([0])
        for x in range(width):
            grey = 150 + 40 * ((x // 24 + y // 24) % 2) + rnd.randint(-30, 30)
            row += bytes([max(0, min(255, grey))] * 3)
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"".join(rows), 9)) + chunk(b"IEND", b"")
    )
    return path


def police_declaration(path: Path, name: str, plate: str) -> Path:
    """A readable PDF receipt of a theft declaration."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(0, 12, "Récépissé de déclaration de vol", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=12)
    for line in (
        "Commissariat de police de Toulouse",
        f"Déclarant : {name}",
        f"Objet : vol du certificat d'immatriculation du véhicule {plate}",
        "Fait le 3 mars 2026",
    ):
        pdf.cell(0, 9, line, new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(path))
    return path


# --- citizens of the seeded test fleet -------------------------------------------------------


def sign_in_verified(
    page: Page, portal: str, identity_provider: str, given_name: str, family_name: str
) -> str:
    """A new person enrolled at the demo identity provider signs in on the portal with
    « S'identifier avec FranceConnect » (only a verified identity may ask for a duplicate),
    then « Mon Espace »; returns their address."""
    email = f"{given_name}.{family_name}.{uuid.uuid4().hex[:8]}@example.fr".lower()
    enrolled = httpx.post(
        f"{identity_provider}/identities", json=person(given_name, family_name, email), timeout=30
    )
    assert enrolled.status_code == 201, enrolled.text
    page.goto(f"{portal}/connexion")
    page.get_by_role("link", name="S'identifier avec FranceConnect").click()
    page.get_by_label("Identifiant de la personne").fill(enrolled.json()["sub"])
    page.get_by_role("button", name="Transmettre l'identité de cette personne").click()
    expect(page.get_by_role("heading", name="Mon Espace")).to_be_visible()
    return email


def send_theft_declaration(
    page: Page, plate: str, declaration: Path, screens: Screens, who: str = "demandeur"
) -> None:
    """A theft request on a vehicle whose theft is not in the SIV, up to the CERT's queue."""
    start_request(page, "Vol", plate)
    screens.shot(page, f"{who}-la-demande")
    page.get_by_role("button", name="Continuer").click()
    tick_declarations(page)
    screens.shot(page, f"{who}-les-declarations")
    page.get_by_role("button", name="Valider").click()
    expect(page.get_by_role("heading", name="Envoyer la déclaration de vol")).to_be_visible()
    page.get_by_label("Déclaration de vol").set_input_files(declaration)
    screens.shot(page, f"{who}-declaration-de-vol-jointe")
    page.get_by_role("button", name="Valider").click()
    waiting = re.compile("en attente de contrôle par le CERT")
    expect(page.get_by_role("heading", name=waiting)).to_be_visible()
    screens.shot(page, f"{who}-en-attente-du-cert")
