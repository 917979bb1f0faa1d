"""The two PDFs given once a duplicate is paid: the provisional certificate (CPI) and the summary.

Rendering is deterministic: the same dossier and certificate give the same bytes (fixed
creation date, no random identifiers), so a retried delivery rewrites identical files.
"""

from __future__ import annotations

import logging
import pickle
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from decimal import Decimal
from pathlib import Path
from typing import Any

import segno
from fpdf import FPDF

from documents_service.domain.model import DossierFile, supporting_kind
from documents_service.rendering import wording

# Font subsetting narrates every glyph table at INFO level: noise in the service's log.
logging.getLogger("fontTools").setLevel(logging.WARNING)

NAVY = (22, 38, 94)
INK = (25, 25, 30)
MUTED = (95, 95, 105)
PANEL = (238, 241, 248)
RULE = (190, 196, 210)
MARGIN = 15.0
LABEL_WIDTH = 64.0
# The CPI: the column of fields beside the QR code, the plate's frame.
COLUMN = 118.0
QR_SIZE = 44.0
PLATE_WIDTH, PLATE_HEIGHT = 92.0, 18.0
# The QR code's mask pattern, chosen once (segno's pick for a typical verification address).
QR_MASK = 2
# How many wrapped texts Fonts keeps before starting afresh.
WRAPPED_KEPT = 2048
# A run of dark modules in a row of segno's matrix (one byte a module, 1 when dark).
DARK_RUN = re.compile(rb"[\x01-\xff]+")
DEJAVU = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf")
# Letters outside Latin-1 that Unicode does not decompose into a base letter and an accent.
LATIN1_FOLDS = str.maketrans({
    "’": "'", "‘": "'", "“": '"', "”": '"', "–": "-", "—": "-", "€": "EUR", "œ": "oe",
    "Œ": "OE", "Ł": "L", "ł": "l", "Đ": "D", "đ": "d", "Ħ": "H", "ħ": "h", "ı": "i",
})


@dataclass(frozen=True)
class IssuedCertificate:
    """What the documents print about the certificate being issued."""

    number: str
    issued_at: datetime
    valid_until: date
    verification_url: str


class Fonts:
    """A Unicode TrueType font when the machine has one, else the PDF core Helvetica.

    Helvetica only covers Latin-1: French accents print, the euro sign and characters of
    other scripts do not, so the text is folded to what it can show.
    """

    def __init__(self, font_dir: Path | None) -> None:
        regular, bold = (font_dir / name if font_dir else None for name in DEJAVU)
        self.unicode = bool(regular and bold and regular.is_file() and bold.is_file())
        self.regular, self.bold = regular, bold
        self.family = "DejaVu" if self.unicode else "helvetica"
        self.euro = "€" if self.unicode else "EUR"
        self.tick = "✔" if self.unicode else "X"
        # Lines of fixed wording already wrapped, by (text, width, size, bold): labels, the
        # declarations, the CPI's notice are the same from one dossier to the next. What a
        # dossier says (names, addresses) is not kept.
        self.wrapped: dict[tuple[str, float, float, bool], tuple[str, ...]] = {}

    def install(self, pdf: FPDF) -> None:
        if self.unicode:
            pdf.add_font(self.family, "", str(self.regular))
            pdf.add_font(self.family, "B", str(self.bold))

    def printable(self, text: str) -> str:
        if self.unicode or text.isascii():
            return text
        text = text.translate(LATIN1_FOLDS)
        if max(text) <= "\xff":
            return text
        folded = []
        for char in text:
            if ord(char) < 256:
                folded.append(char)
            else:
                base = unicodedata.normalize("NFKD", char).encode("latin-1", "ignore")
                folded.append(base.decode("latin-1") or "?")
        return "".join(folded)


class OfficialDocument(FPDF):
    """An A4 page with a title band, labelled sections and a footer carrying the reference."""

    def __init__(self, fonts: Fonts, reference: str, created: datetime, title: str) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.typeface = fonts
        self.reference = reference
        self.last_page_done = False
        # Positions noted while drawing a page's fixed parts, for the parts drawn later.
        self.marks: dict[str, float] = {}
        self.set_margins(MARGIN, 22, MARGIN)
        self.set_auto_page_break(auto=True, margin=18)
        fonts.install(self)
        self.set_creation_date(created)
        self.set_title(self.typeface.printable(title))
        self.set_lang("fr-FR")
        self.set_creator("Téléprocédure duplicata")
        self.set_producer("Téléprocédure duplicata")
        self.alias_nb_pages()
        # Both faces, to measure text in either without switching the page's font.
        self.faces: dict[bool, Any] = {}
        for bold in (True, False):
            self.set_font(fonts.family, "B" if bold else "", 10)
            self.faces[bold] = self.current_font

    def __getstate__(self) -> dict[str, Any]:
        # Copies share the renderer's Fonts (and what it keeps) rather than carry their own.
        return {**self.__dict__, "typeface": None}

    def font(self, size: float, bold: bool = False, color: tuple[int, int, int] = INK) -> None:
        """The font and colour of the text that follows. The fill colour follows suit: every
        shape sets its own, and text whose colour differs from the fill colour gets
        wrapped in a save/set colour/restore sequence by fpdf2, one per line."""
        self.set_font(self.typeface.family, "B" if bold else "", size)
        self.set_text_color(*color)
        self.set_fill_color(*color)

    def measure(self, text: str, size: float | None = None, bold: bool | None = None) -> float:
        """Width of text (already printable) in mm, in the given size and face, by default
        the current ones: get_string_width() without its styled fragments (no markdown,
        spacing or stretching here)."""
        face = self.current_font if bold is None else self.faces[bold]
        assert face is not None
        return face.get_text_width(text, size or self.font_size_pt, None)[1] / self.k

    def put(
        self, x: float, y: float, width: float, height: float, text: str, align: str = "L",
        inset: float | None = None,
    ) -> None:
        """One line of text where fpdf2's cell(width, height) at (x, y) would print it,
        without its line breaking machinery: left or right `inset` (the cell margin by
        default), or centred; the baseline a little below the middle of the height."""
        # Non-breaking spaces keep words together when wrapping; drawn, they are spaces
        # (as multi_cell does: viewers ignore them when spacing words).
        text = self.typeface.printable(text).replace("\u00a0", " ")
        if not text:
            return
        inset = self.c_margin if inset is None else inset
        if align == "L":
            left = x + inset
        elif align == "R":
            left = x + width - inset - self.measure(text)
        else:
            left = x + (width - self.measure(text)) / 2
        self.text(left, y + height / 2 + 0.3 * self.font_size, text)

    def lines(
        self, text: str, width: float, size: float | None = None, bold: bool | None = None,
        keep: bool = False,
    ) -> tuple[str, ...]:
        """Printable text cut into lines no wider than `width` (in the given size and face,
        by default the current ones): at spaces, and inside a word only when that word
        alone is wider. A text that fits is measured once; fixed wording (`keep`) seen
        before is not measured again."""
        size = size or self.font_size_pt
        bold = "B" in self.font_style if bold is None else bold
        if not keep:
            return tuple(self._wrap(text, width, size, bold))
        key = (text, width, size, bold)
        lines = self.typeface.wrapped.get(key)
        if lines is None:
            if len(self.typeface.wrapped) >= WRAPPED_KEPT:
                self.typeface.wrapped.clear()
            lines = self.typeface.wrapped[key] = tuple(self._wrap(text, width, size, bold))
        return lines

    def _wrap(self, text: str, width: float, size: float, bold: bool) -> list[str]:
        text = self.typeface.printable(text)
        result = []
        for paragraph in text.split("\n"):
            if self.measure(paragraph, size, bold) <= width + 1e-6:
                result.append(paragraph)
                continue
            space = self.measure(" ", size, bold)
            line, line_width = "", 0.0
            for word in paragraph.split(" "):
                word_width = self.measure(word, size, bold)
                if line and line_width + space + word_width <= width + 1e-6:
                    line, line_width = f"{line} {word}", line_width + space + word_width
                    continue
                if line:
                    result.append(line)
                if word_width > width + 1e-6:
                    # A word wider than the line: cut between characters, as many as fit.
                    piece, word_width = "", 0.0
                    for char in word:
                        char_width = self.measure(char, size, bold)
                        if piece and word_width + char_width > width + 1e-6:
                            result.append(piece)
                            piece, word_width = "", 0.0
                        piece, word_width = piece + char, word_width + char_width
                    word = piece
                line, line_width = word, word_width
            result.append(line)
        return result

    def block(
        self, x: float, y: float, width: float, height: float, text: str, align: str = "L",
        inset: float | None = None,
    ) -> float:
        """Text wrapped within `width` as multi_cell would, one line every `height` mm from
        y; returns the y below the last line."""
        inset = self.c_margin if inset is None else inset
        for line in self.lines(text, width - 2 * inset):
            self.put(x, y, width, height, line, align, inset)
            y += height
        return y

    def header(self) -> None:
        self.set_fill_color(*NAVY)
        self.rect(0, 0, self.w, 4, style="F")
        self.font(8, bold=True, color=NAVY)
        self.put(MARGIN, 8, self.epw, 4, "DEMANDE DE DUPLICATA DU CERTIFICAT D'IMMATRICULATION")
        self.font(8, color=MUTED)
        self.put(MARGIN, 8, self.epw, 4, "Téléprocédure", align="R")
        self.set_draw_color(*RULE)
        self.set_line_width(0.3)
        self.line(MARGIN, 14, self.w - MARGIN, 14)
        self.set_y(22)

    def footer(self) -> None:
        self.set_y(-15)
        self.set_draw_color(*RULE)
        self.line(MARGIN, self.get_y(), self.w - MARGIN, self.get_y())
        self.font(7.5, color=MUTED)
        self.put(MARGIN, self.get_y(), self.epw, 6, self.reference)
        if self.last_page_done:
            # output() closes the last page: the count is known.
            self.put(MARGIN, self.get_y(), self.epw, 6, f"Page {self.page}/{self.page}", "R")
        else:
            # Another page follows: a cell, where fpdf2 fills in the count ({nb}) at the end.
            self.set_x(MARGIN)
            self.cell(0, 6, f"Page {self.page_no()}/{{nb}}", align="R")

    def output(self, *args: Any, **kwargs: Any) -> Any:
        self.last_page_done = True
        return super().output(*args, **kwargs)

    def title_block(self, title: str, subtitle: str) -> None:
        self.font(17, bold=True, color=NAVY)
        y = self.block(MARGIN, self.get_y(), self.epw, 8, title, align="C")
        self.font(9.5, color=MUTED)
        y = self.block(MARGIN, y + 1, self.epw, 5, subtitle, align="C")
        self.set_xy(MARGIN, y + 4)

    def key_figures(self, labels: list[str]) -> None:
        """A shaded band of a few labelled values side by side (number, dates): the band and
        the labels; key_values() prints the values."""
        width = (self.w - 2 * MARGIN) / len(labels)
        top = self.marks["figures"] = self.get_y()
        self.set_fill_color(*PANEL)
        self.rect(MARGIN, top, self.w - 2 * MARGIN, 17, style="F")
        self.set_fill_color(*NAVY)
        self.rect(MARGIN, top, 1.2, 17, style="F")
        self.font(7.5, color=MUTED)
        for index, label in enumerate(labels):
            self.put(MARGIN + 4 + index * width, top + 2.5, width - 6, 4.5, label.upper())
        self.set_xy(MARGIN, top + 17 + 5)

    def key_values(self, values: list[str]) -> None:
        width, top = (self.w - 2 * MARGIN) / len(values), self.marks["figures"]
        self.font(12, bold=True)
        for index, value in enumerate(values):
            self.put(MARGIN + 4 + index * width, top + 7.5, width - 6, 6.5, value)

    def section(self, title: str, width: float | None = None) -> None:
        width = width or self.w - 2 * MARGIN
        if self.will_page_break(6.5 + 2 + 5):
            self.add_page()
        y = self.get_y() + 6.5
        self.font(10.5, bold=True, color=NAVY)
        self.put(MARGIN, self.get_y(), width, 6.5, title.upper())
        self.set_draw_color(*NAVY)
        self.set_line_width(0.5)
        self.line(MARGIN, y, MARGIN + width, y)
        self.set_line_width(0.2)
        self.set_xy(MARGIN, y + 2)

    def fields(
        self, rows: list[tuple[str, str, bool]], width: float | None = None
    ) -> None:
        """(label, value, bold) rows one under the other: a muted label, its value beside it;
        either wraps when too long for its column. Laid out first, then drawn one style at
        a time (labels, values, bold values) rather than switching fonts row by row.

        A row that does not fit at the foot of the page starts the next one; a row longer
        than a whole page goes on from page to page."""
        width = width or self.w - 2 * MARGIN
        label_width, value_width = LABEL_WIDTH - 2 * self.c_margin, width - LABEL_WIDTH
        page_lines = int((self.page_break_trigger - self.t_margin) // 5)
        placed: list[tuple[float, tuple[str, ...], tuple[str, ...], bool]] = []
        for label, value, bold in rows:
            label_lines = self.lines(label, label_width, 9, False, keep=True)
            value_lines = self.lines(
                value, value_width - 2 * self.c_margin, 10, bold, keep=value in wording.FIXED
            )
            count = max(len(label_lines), len(value_lines))
            if self.will_page_break(5 * count) and count <= page_lines:
                self._draw_fields(placed, value_width)
                placed = []
                self.add_page()
            while True:
                room = max(0, int((self.page_break_trigger - self.get_y()) // 5))
                placed.append((self.get_y(), label_lines[:room], value_lines[:room], bold))
                self.set_y(self.get_y() + 5 * min(count, room))
                if count <= room:
                    break
                label_lines, value_lines, count = label_lines[room:], value_lines[room:], count - room
                self._draw_fields(placed, value_width)
                placed = []
                self.add_page()
            self.set_y(self.get_y() + 0.6)
        self._draw_fields(placed, value_width)

    def _draw_fields(
        self, placed: list[tuple[float, tuple[str, ...], tuple[str, ...], bool]], value_width: float
    ) -> None:
        y = self.get_y()
        self.font(9, color=MUTED)
        for top, label_lines, _, _ in placed:
            for index, line in enumerate(label_lines):
                self.put(MARGIN, top + 5 * index, LABEL_WIDTH, 5, line)
        for style in (False, True):
            if any(bold == style for *_, bold in placed):
                self.font(10, bold=style)
            for top, _, value_lines, bold in placed:
                if bold == style:
                    for index, line in enumerate(value_lines):
                        self.put(MARGIN + LABEL_WIDTH, top + 5 * index, value_width, 5, line)
        self.set_xy(MARGIN, y)

    def notice(self, text: str, keep: bool = False) -> None:
        """A framed, shaded paragraph across the page."""
        padding = 3.0
        lines = self.lines(text, self.epw - 2 * padding, 9, False, keep)
        height = 5 * len(lines) + 2 * padding
        if self.will_page_break(height):
            self.add_page()
        top = self.get_y()
        self.set_fill_color(*PANEL)
        self.set_draw_color(*RULE)
        self.rect(MARGIN, top, self.epw, height, style="DF")
        self.font(9)
        for index, line in enumerate(lines):
            self.put(MARGIN, top + padding + 5 * index, self.epw, 5, line, inset=padding)
        self.set_xy(MARGIN, top + height)

    def qr_code(self, url: str, x: float, y: float, size: float) -> None:
        """The QR code drawn as vector squares: sharp at any zoom and free of image encoders.

        The mask is fixed (any of the eight is valid): letting segno score all of them costs
        five times the encoding itself.
        """
        matrix = segno.make(url, error="m", micro=False, mask=QR_MASK).matrix
        module = size / (len(matrix) + 8)
        self.set_fill_color(255, 255, 255)
        self.rect(x, y, size, size, style="F")
        self.set_fill_color(0, 0, 0)
        # Drawn in module units (one unit a module, y downwards) so every run of dark modules
        # is a few small integers; 2% taller than a module, so rows leave no hairline seams.
        squares = []
        for row_index, row in enumerate(matrix):
            tail = f" {row_index} "
            for run in DARK_RUN.finditer(row):
                start, end = run.span()
                squares.append(f"{start}{tail}{end - start} 1.02 re")
        k, path = self.k, " ".join(squares)
        # One path for the whole symbol: fpdf2 has no public call for this, and a rect()
        # per square costs more than the rest of the page.
        self._out(
            f"q {module * k:.4f} 0 0 {-module * k:.4f} {(x + 4 * module) * k:.2f} "
            f"{(self.h - y - 4 * module) * k:.2f} cm {path} f Q"
        )


class DocumentRenderer:
    """Renders a dossier's CPI and summary; dates print in the service's time zone.

    What a document shows whatever the dossier (title, labels, frames) is drawn once; each
    document starts from a copy of that page and adds the dossier's values.
    """

    CERTIFICATE = "Certificat provisoire d'immatriculation"
    SUMMARY = "Récapitulatif de la demande de duplicata"

    def __init__(self, font_dir: Path | None, zone: tzinfo) -> None:
        self.typeface = Fonts(font_dir)
        self.zone = zone
        self._frames: dict[str, bytes | None] = {}

    def _date(self, moment: datetime | str) -> str:
        return wording.french_date(wording.local_time(moment, self.zone).date())

    def _start(self, title: str, reference: str, created: datetime) -> OfficialDocument:
        """A document whose first page has its fixed parts drawn.

        With the core font the page is drawn once and copied (pickled: a tenth of a
        millisecond). An embedded TrueType font cannot be shared that way, since fpdf2
        subsets it in place when writing the file: such documents are drawn whole.
        """
        frame = self._frames.get(title, b"")
        if not frame:
            pdf = OfficialDocument(self.typeface, reference, created, title)
            pdf.add_page()
            self._draw_frame(pdf, title)
            if frame is None or self.typeface.unicode:
                return pdf
            try:
                frame = pickle.dumps(pdf, pickle.HIGHEST_PROTOCOL)
            except (pickle.PicklingError, TypeError, AttributeError):
                # Some future fpdf2 might hold something that does not pickle.
                self._frames[title] = None
                return pdf
            self._frames[title] = frame
        # Bytes this renderer made itself, not data from outside.
        pdf = pickle.loads(frame)
        pdf.typeface = self.typeface
        pdf.reference = reference
        pdf.set_creation_date(created)
        return pdf

    def _draw_frame(self, pdf: OfficialDocument, title: str) -> None:
        if title == self.CERTIFICATE:
            pdf.title_block(
                "CERTIFICAT PROVISOIRE D'IMMATRICULATION",
                "Délivré à la suite d'une demande de duplicata du certificat d'immatriculation",
            )
            pdf.key_figures(["N° du certificat", "Délivré le", "Valable jusqu'au"])
            self._plate_frame(pdf)
            top = pdf.marks["column"] = pdf.get_y()
            qr_x = pdf.marks["qr_x"] = pdf.w - MARGIN - QR_SIZE
            pdf.font(7.5, color=MUTED)
            pdf.marks["qr_caption"] = pdf.block(
                qr_x - 4, top + QR_SIZE + 4, QR_SIZE + 8, 3.8,
                "Vérifiez ce certificat en scannant le code ou à l'adresse :", align="C",
            )
            pdf.set_xy(MARGIN, top)
            pdf.section("Véhicule", COLUMN)
        else:
            pdf.title_block(
                "RÉCAPITULATIF DE LA DEMANDE DE DUPLICATA",
                "Certificat d'immatriculation : ce que vous avez déclaré et payé",
            )
            pdf.key_figures(["Dossier n°", "Certificat provisoire n°"])
            pdf.section("Dates")

    def certificate(self, dossier: DossierFile, issued: IssuedCertificate) -> bytes:
        pdf = self._start(
            self.CERTIFICATE,
            f"Certificat provisoire n° {issued.number} - dossier n° {dossier.dossier_number}",
            issued.issued_at,
        )
        pdf.key_values([
            issued.number,
            self._date(issued.issued_at),
            wording.french_date(issued.valid_until),
        ])
        self._plate(pdf, dossier.vehicle.get("plate", ""))

        # The code beside the vehicle, on the first page even if long fields run onto more.
        qr_x, fields_top = pdf.marks["qr_x"], pdf.get_y()
        pdf.qr_code(issued.verification_url, qr_x, pdf.marks["column"] + 2, QR_SIZE)
        pdf.font(6.5, color=NAVY)
        # Break before the number rather than inside it.
        address, _, number = issued.verification_url.rpartition("/")
        qr_bottom = pdf.block(
            qr_x - 4, pdf.marks["qr_caption"], QR_SIZE + 8, 3.5, f"{address}/\n{number}",
            align="C",
        )
        pdf.set_xy(MARGIN, fields_top)

        vehicle = dossier.vehicle
        rows = [
            ("(A) Numéro d'immatriculation", vehicle.get("plate", ""), True),
            ("(E) Numéro d'identification", vehicle.get("vin", ""), False),
            ("(D.1) Marque", vehicle.get("make", ""), False),
            ("(D.3) Dénomination commerciale", vehicle.get("model", ""), False),
        ]
        if vehicle.get("first_registration"):
            first = date.fromisoformat(str(vehicle["first_registration"]))
            rows.append(("(B) Date de 1re immatriculation", wording.french_date(first), False))
        pdf.fields(rows, COLUMN)
        pdf.ln(3)
        pdf.section("Titulaire", COLUMN)
        rows = [("(C.1) Nom, prénom", wording.holder_name(dossier.holder), True)]
        if dossier.holder.get("address"):
            rows.append(("(C.3) Adresse", dossier.holder["address"], False))
        pdf.fields(rows, COLUMN)
        pdf.ln(3)
        pdf.section("Demande", COLUMN)
        pdf.fields([
            ("Dossier n°", dossier.dossier_number, False),
            ("Motif", wording.REASONS.get(dossier.reason, dossier.reason), False),
            *self._requester_rows(dossier),
        ], COLUMN)
        bottom = pdf.get_y() if pdf.page > 1 else max(pdf.get_y(), qr_bottom)
        pdf.set_xy(MARGIN, bottom + 6)
        pdf.notice(
            "Ce certificat provisoire vous permet de circuler en France avec le véhicule "
            f"ci-dessus jusqu'au {wording.french_date(issued.valid_until)} inclus, dans l'attente "
            "du duplicata de votre certificat d'immatriculation, envoyé à votre adresse. "
            "Présentez-le avec une pièce d'identité en cas de contrôle. Il ne peut pas être "
            "prolongé.",
            keep=True,  # the same for every certificate of the day
        )
        return bytes(pdf.output())

    def _plate_frame(self, pdf: OfficialDocument) -> None:
        """The registration plate's frame: white, rounded, with blue bands at both ends."""
        x, y = (pdf.w - PLATE_WIDTH) / 2, pdf.get_y()
        pdf.marks["plate"] = y
        pdf.set_fill_color(255, 255, 255)
        pdf.set_draw_color(*INK)
        pdf.set_line_width(0.8)
        pdf.rect(x, y, PLATE_WIDTH, PLATE_HEIGHT, style="DF", round_corners=True, corner_radius=2)
        pdf.set_fill_color(*NAVY)
        pdf.rect(x + 0.4, y + 0.4, 8, PLATE_HEIGHT - 0.8, style="F")
        pdf.rect(x + PLATE_WIDTH - 8.4, y + 0.4, 8, PLATE_HEIGHT - 0.8, style="F")
        pdf.set_line_width(0.2)
        pdf.set_xy(MARGIN, y + PLATE_HEIGHT + 8)

    def _plate(self, pdf: OfficialDocument, plate: str) -> None:
        """The registration number in the plate's frame, black on white."""
        x, y = (pdf.w - PLATE_WIDTH) / 2, pdf.marks["plate"]
        pdf.font(24, bold=True)
        pdf.put(x, y + 1.5, PLATE_WIDTH, PLATE_HEIGHT - 3, plate, align="C")

    def summary(self, dossier: DossierFile, issued: IssuedCertificate) -> bytes:
        pdf = self._start(
            self.SUMMARY, f"Récapitulatif - dossier n° {dossier.dossier_number}", issued.issued_at
        )
        payment = dossier.payment or {}
        submission = dossier.submission or {}
        pdf.key_values([dossier.dossier_number, issued.number])

        pdf.fields([
            (label, wording.french_datetime(moment, self.zone), False)
            for label, moment in (
                ("Demande commencée le", dossier.started_at),
                ("Demande validée le", submission["submitted_at"]),
                ("Paiement enregistré le", payment["paid_at"]),
            )
        ])
        pdf.ln(2)

        pdf.section("Votre demande")
        rows = [
            ("Motif", wording.REASONS.get(dossier.reason, dossier.reason), True),
            ("Personne concernée", wording.PERSONS.get(dossier.person, dossier.person), False),
        ]
        if dossier.special_case:
            rows.append(("Cas particulier", wording.SPECIAL_CASE, False))
        rows += self._requester_rows(dossier)
        pdf.fields(rows)
        pdf.ln(2)

        accepted = self._supporting_rows(dossier)
        if accepted:
            pdf.section("Pièces justificatives acceptées par le CERT")
            pdf.fields(accepted)
            pdf.ln(2)

        pdf.section("Déclarations")
        pdf.fields([
            (f"{self.typeface.tick}  Cochée" if ticked else "Non cochée", text, False)
            for ticked, text in (
                (submission.get("sworn_statement"), wording.SWORN_STATEMENT),
                (submission.get("legal_terms"), wording.LEGAL_TERMS),
            )
        ])
        pdf.ln(2)

        pdf.section("Véhicule et titulaire")
        vehicle = dossier.vehicle
        make_and_model = f"{vehicle.get('make', '')} {vehicle.get('model', '')}".strip()
        pdf.fields([
            ("Numéro d'immatriculation", vehicle.get("plate", ""), True),
            ("Numéro d'identification (VIN)", vehicle.get("vin", ""), False),
            ("Marque et modèle", make_and_model, False),
            ("Titulaire", wording.holder_name(dossier.holder), False),
        ])
        pdf.ln(2)

        pdf.section("Paiement")
        self._fees(pdf, payment)
        pdf.ln(2)
        pdf.fields([
            ("Carte bancaire", f"Carte se terminant par {payment.get('card_last4', '')}", False),
            ("Référence du paiement", payment.get("psp_reference", ""), False),
        ])
        pdf.ln(3)
        if dossier.reason == "deterioration":
            pdf.notice(wording.DAMAGED_CERTIFICATE, keep=True)
            pdf.ln(2)
        pdf.notice(
            "Conservez ce récapitulatif. Le duplicata de votre certificat d'immatriculation vous "
            "sera envoyé à votre adresse ; en attendant, le certificat provisoire "
            f"n° {issued.number} vous permet de circuler jusqu'au "
            f"{wording.french_date(issued.valid_until)} inclus."
        )
        return bytes(pdf.output())

    def _requester_rows(self, dossier: DossierFile) -> list[tuple[str, str, bool]]:
        """Who asked and under which document, when it was not the holder."""
        role = wording.requester_role(dossier.person, dossier.special_case)
        if role is None or not dossier.requester:
            return []
        rows = [("Demandée par", f"{wording.holder_name(dossier.requester)}, {role}", True)]
        proof = "mandat" if dossier.person == "mandataire" else "certificat_cession"
        for document in dossier.accepted_supporting_documents:
            if supporting_kind(document) == proof:
                received = wording.french_datetime(document["created_at"], self.zone)
                rows.append((
                    "Mandat" if proof == "mandat" else "Cession",
                    f"{wording.SUPPORTING_DOCUMENTS[proof]}, reçu le {received} et accepté "
                    "par le CERT",
                    False,
                ))
        return rows

    def _supporting_rows(self, dossier: DossierFile) -> list[tuple[str, str, bool]]:
        return [
            (wording.SUPPORTING_DOCUMENTS[kind],
             f"Reçu le {wording.french_datetime(document['created_at'], self.zone)}", False)
            for document in dossier.accepted_supporting_documents
            if (kind := supporting_kind(document)) is not None
        ]

    def _fees(self, pdf: OfficialDocument, payment: dict[str, Any]) -> None:
        """The fee lines as a table: a navy heading, rules between rows, a shaded total."""
        euro = self.typeface.euro
        widths, aligns = (22.0, 118.0, 40.0), ("L", "L", "R")
        line_height, pad_y, pad_x = 5.5, 1.0, 2.5
        rows = [(
            (line["code"], line["label"], wording.french_amount(line["amount"], euro))
        ) for line in payment.get("lines", [])]
        pdf.font(9.5)
        cells = [
            [pdf.lines(text, width - 2 * pad_x) for text, width in zip(row, widths, strict=True)]
            for row in rows
        ]
        heights = [max(len(lines) for lines in row) * line_height + 2 * pad_y for row in cells]
        row_height = line_height + 2 * pad_y
        if pdf.will_page_break(sum(heights) + 2 * row_height):
            pdf.add_page()
        left, top = MARGIN, pdf.get_y()
        bottom = top + row_height + sum(heights) + row_height

        pdf.set_fill_color(*NAVY)
        pdf.rect(left, top, pdf.epw, row_height, style="F")
        pdf.set_fill_color(*PANEL)
        pdf.rect(left, bottom - row_height, pdf.epw, row_height, style="F")
        pdf.set_draw_color(*NAVY)
        pdf.set_line_width(0.2)
        rule = top + row_height
        for height in (*heights, 0):
            pdf.line(left, rule, left + pdf.epw, rule)
            rule += height

        def row_of(y: float, height: float, texts: list[tuple[str, ...]]) -> None:
            x = left
            for lines, width, align in zip(texts, widths, aligns, strict=True):
                line_y = y + pad_y + (height - 2 * pad_y - len(lines) * line_height) / 2
                for line in lines:
                    pdf.put(x, line_y, width, line_height, line, align, inset=pad_x)
                    line_y += line_height
                x += width

        pdf.font(9.5, bold=True, color=(255, 255, 255))
        row_of(top, row_height, [("Code",), ("Désignation",), ("Montant",)])
        pdf.font(9.5)
        y = top + row_height
        for row_cells, height in zip(cells, heights, strict=True):
            row_of(y, height, row_cells)
            y += height
        pdf.font(9.5, bold=True)
        total = wording.french_amount(Decimal(payment.get("amount", "0")), euro)
        pdf.put(left, y + pad_y, widths[0] + widths[1], line_height, "Total payé", inset=pad_x)
        pdf.put(left + widths[0] + widths[1], y + pad_y, widths[2], line_height, total, "R",
                inset=pad_x)
        pdf.set_xy(MARGIN, bottom)
