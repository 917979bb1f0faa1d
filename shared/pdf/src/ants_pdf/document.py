"""The official look shared by every PDF the procedure hands out: an A4 page with a title
band, labelled sections, a footer carrying the reference, and a vector QR code.

The documents service prints the CPI and the summary with it; the requests service, which
holds the SIV data, prints the certificat de situation administrative.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from datetime import datetime
from pathlib import Path
from typing import Any

import segno
from fpdf import FPDF

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

    # Wording printed alike on every document of a kind: wrapped once, then reused.
    fixed_wording: frozenset[str] = frozenset()
    # The running header: which procedure the document belongs to.
    heading = "DEMANDE DE DUPLICATA DU CERTIFICAT D'IMMATRICULATION"

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
        self.put(MARGIN, 8, self.epw, 4, self.heading)
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
                value, value_width - 2 * self.c_margin, 10, bold, keep=value in self.fixed_wording
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
