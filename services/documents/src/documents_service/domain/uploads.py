"""What an uploaded theft declaration may be: a complete PDF, JPEG or PNG, recognised by content.

The name and the declared type of an upload say nothing reliable; the first bytes say what
the file is, and the last ones whether it arrived whole. A declaration is shown to CERT agents,
so a file must also be plainly one format and nothing else: no HTML or script that a browser
could run (polyglots), no bytes after the format's end, no PDF actions, scripts or embedded
files, and images that Pillow decodes.
"""

from __future__ import annotations

import io
import re
import struct
import warnings
import zlib

from documents_service.domain.model import DocumentsError

PDF = "application/pdf"
JPEG = "image/jpeg"
PNG = "image/png"

EXTENSIONS = {PDF: ".pdf", JPEG: ".jpg", PNG: ".png"}

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
JPEG_SOI = b"\xff\xd8\xff"
JPEG_EOI = b"\xff\xd9"
PDF_HEADER = b"%PDF-"
PDF_EOF = b"%%EOF"
# Readers look for the end-of-file marker in the last kilobyte (PDF 1.7, annex H).
PDF_TAIL = 1024


class UploadRejected(DocumentsError):
    pass


class NoFile(UploadRejected):
    def __init__(self) -> None:
        super().__init__(
            "Aucun fichier reçu : joignez votre déclaration de vol (PDF, JPEG ou PNG)."
        )


class EmptyFile(UploadRejected):
    def __init__(self) -> None:
        super().__init__("Le fichier est vide.")


class UnsupportedFormat(UploadRejected):
    def __init__(self) -> None:
        super().__init__("Format non accepté : envoyez un fichier PDF, JPEG ou PNG.")


class DamagedFile(UploadRejected):
    def __init__(self) -> None:
        super().__init__("Le fichier est illisible ou endommagé.")


class ActiveContent(UploadRejected):
    def __init__(self) -> None:
        super().__init__(
            "Ce PDF contient des éléments actifs (script, action automatique ou fichier joint) "
            "que nous ne pouvons pas accepter : imprimez-le en PDF ou numérisez le document "
            "papier, puis envoyez ce nouveau fichier."
        )


class NotPlainFile(UploadRejected):
    def __init__(self) -> None:
        super().__init__(
            "Ce fichier contient autre chose qu'un document PDF, JPEG ou PNG (contenu ajouté "
            "à la fin ou page web) : enregistrez de nouveau votre déclaration ou numérisez-la, "
            "puis envoyez ce nouveau fichier."
        )


class FileTooLarge(UploadRejected):
    def __init__(self, max_bytes: int) -> None:
        super().__init__(f"Le fichier dépasse la taille maximale de {megabytes(max_bytes)}.")


def megabytes(size: int) -> str:
    """5242880 -> "5 Mo"; 1572864 -> "1,5 Mo" (binary megabytes, as file managers show them)."""
    value = size / (1024 * 1024)
    text = f"{value:.1f}".rstrip("0").rstrip(".").replace(".", ",")
    return f"{text} Mo"


def media_type_of(content: bytes, max_bytes: int) -> str:
    """The media type of an acceptable upload, or the reason it is refused."""
    if not content:
        raise EmptyFile
    if len(content) > max_bytes:
        raise FileTooLarge(max_bytes)
    if content.startswith(PDF_HEADER):
        media_type, complete = PDF, PDF_EOF in content[-PDF_TAIL:]
    elif content.startswith(PNG_SIGNATURE):
        media_type, complete = PNG, png_is_complete(content)
    elif content.startswith(JPEG_SOI):
        media_type, complete = JPEG, jpeg_end(content) is not None
    else:
        raise UnsupportedFormat
    if not complete:
        raise DamagedFile
    if has_markup(content[:LEADING_BYTES]):
        raise NotPlainFile
    if media_type == PDF:
        check_pdf(content)
    elif media_type == PNG:
        check_png(content)
    else:
        check_jpeg(content)
    return media_type


# Whatever its format, a file that a browser could take for a web page is refused.

LEADING_BYTES = 1024
MARKUP = re.compile(rb"<(?:html|script|!doctype|svg|iframe)", re.IGNORECASE)
# Padding that writers leave after the end of a file (line ends, spaces, NULs).
PADDING = b"\x00\t\n\f\r "


def has_markup(data: bytes) -> bool:
    return MARKUP.search(data) is not None


# PDF: nothing after the last %%EOF, and no name that starts something by itself.

# A few bytes that are not padding are tolerated after %%EOF (some writers leave one).
PDF_TRAILING_TOLERANCE = 8
ACTIVE_NAMES = frozenset(
    {b"JavaScript", b"JS", b"AA", b"Launch", b"EmbeddedFile", b"EmbeddedFiles",
     b"RichMedia", b"XFA", b"OpenAction"}
)
PDF_NAME = re.compile(rb"/([^\x00\t\n\f\r ()<>\[\]{}/%]*)")
HEX_ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")
# The decompressed object streams of a 5 MiB upload read at most this much.
OBJECT_STREAMS_BUDGET = 32 * 1024 * 1024


def check_pdf(content: bytes) -> None:
    trailing = content[content.rindex(PDF_EOF) + len(PDF_EOF) :].strip(PADDING)
    if len(trailing) > PDF_TRAILING_TOLERANCE or b"<" in trailing:
        raise NotPlainFile
    if has_active_name(content):
        raise ActiveContent
    budget = OBJECT_STREAMS_BUDGET
    for objects in object_streams(content):
        inflater = zlib.decompressobj()
        try:
            text = inflater.decompress(objects, budget)
        except zlib.error:
            raise DamagedFile from None
        budget -= len(text)
        if has_active_name(text):
            raise ActiveContent
        if budget <= 0:
            raise DamagedFile


def has_active_name(data: bytes) -> bool:
    """Whether a name such as /JavaScript or /J#61vaScript (escapes decoded) is present;
    /OpenAction is allowed only as a destination (open at a page), never as an action."""
    for found in PDF_NAME.finditer(data):
        name = HEX_ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), found.group(1))
        if name not in ACTIVE_NAMES:
            continue
        if name != b"OpenAction":
            return True
        if not data[found.end() :].lstrip(PADDING).startswith(b"["):
            return True
    return False


def object_streams(content: bytes) -> list[bytes]:
    """The raw data of the object streams (/Type /ObjStm), where objects may hide compressed."""
    found = []
    for match in re.finditer(rb"obj\b", content):
        header_end = content.find(b"stream", match.end())
        if header_end < 0:
            break
        header = content[match.end() : header_end]
        if b"endobj" in header or b"/ObjStm" not in header or b"/FlateDecode" not in header:
            continue
        start = header_end + len(b"stream")
        start += 2 if content[start : start + 2] == b"\r\n" else 1
        stop = content.find(b"endstream", start)
        found.append(content[start : stop if stop >= 0 else len(content)])
    return found


# Images: whole, nothing after their end, no markup in their metadata, and decodable.


def check_png(content: bytes) -> None:
    for kind, data, end in png_chunks(content):
        if kind != b"IDAT" and has_markup(data):
            raise NotPlainFile
        if kind == b"IEND":
            if content[end:].strip(PADDING):
                raise NotPlainFile
            break
    verify_image(content, "PNG")


def check_jpeg(content: bytes) -> None:
    """After the picture's end only padding, or further whole pictures: phones append the
    depth or HDR maps of a Multi-Picture Format photo (CIPA DC-007) that way."""
    rest = content
    while True:
        segments, end = jpeg_walk(rest)
        if end is None:
            raise NotPlainFile
        if any(has_markup(data) for data in segments):
            raise NotPlainFile
        rest = rest[end:]
        if not rest.strip(PADDING):
            break
        if not rest.startswith(JPEG_SOI):
            raise NotPlainFile
    verify_image(content, "JPEG")


def reencoded(content: bytes, media_type: str) -> bytes:
    """An accepted image drawn anew from its pixels: whatever a checked file could still
    carry besides them (metadata such as a phone's GPS position, chunks, bytes after the
    end) is not kept. The picture is turned upright first, as its EXIF orientation said.
    A PDF is returned as it is."""
    from PIL import Image, ImageOps

    if media_type not in (PNG, JPEG):
        return content
    with Image.open(io.BytesIO(content)) as original:
        image = ImageOps.exif_transpose(original)
        if media_type == JPEG and image.mode not in ("L", "RGB", "CMYK"):
            image = image.convert("RGB")
        out = io.BytesIO()
        if media_type == JPEG:
            image.save(out, format="JPEG", quality=90)
        else:
            image.save(out, format="PNG")
    return out.getvalue()


def verify_image(content: bytes, expected: str) -> None:
    """Pillow must recognise the format, check its structure and decode every pixel."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(content)) as image:
                if image.format != expected:
                    raise DamagedFile
                image.verify()
            with Image.open(io.BytesIO(content)) as image:
                image.load()
    except UploadRejected:
        raise
    except Exception:  # Pillow raises many kinds of error for a broken image
        raise DamagedFile from None


def jpeg_walk(content: bytes) -> tuple[list[bytes], int | None]:
    """The payloads of the marker segments, and the offset just after EOI (None: no EOI).

    After a start of scan (SOS), entropy-coded data runs until a marker that is neither a
    stuffed 0xFF00 nor a restart marker (RSTn); progressive JPEGs have several scans."""
    segments: list[bytes] = []
    position = 2
    size = len(content)
    while position + 4 <= size:
        if content[position] != 0xFF:
            return segments, None
        marker = content[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if marker == 0xD9:
            return segments, position + 2
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            position += 2
            continue
        (length,) = struct.unpack(">H", content[position + 2 : position + 4])
        if length < 2 or position + 2 + length > size:
            return segments, None
        segments.append(content[position + 4 : position + 2 + length])
        position += 2 + length
        if marker == 0xDA:  # entropy-coded data up to the next real marker
            while True:
                position = content.find(b"\xff", position)
                if position < 0 or position + 1 >= size:
                    return segments, None
                following = content[position + 1]
                if following == 0x00 or 0xD0 <= following <= 0xD7:
                    position += 2
                    continue
                if following == 0xFF:
                    position += 1
                    continue
                break
    if content[position : position + 2] == JPEG_EOI:
        return segments, position + 2
    return segments, None


def jpeg_end(content: bytes) -> int | None:
    return jpeg_walk(content)[1]


def png_chunks(content: bytes) -> list[tuple[bytes, bytes, int]]:
    """Each chunk's type, data and end offset (the file is known complete)."""
    chunks = []
    position = len(PNG_SIGNATURE)
    while position + 12 <= len(content):
        length, kind = struct.unpack(">I4s", content[position : position + 8])
        end = position + 12 + length
        chunks.append((kind, content[position + 8 : end - 4], end))
        if kind == b"IEND":
            break
        position = end
    return chunks


def png_is_complete(content: bytes) -> bool:
    """Walk the chunks: each one whole with a correct checksum, IHDR first, up to IEND."""
    position = len(PNG_SIGNATURE)
    first = True
    while position + 12 <= len(content):
        length, kind = struct.unpack(">I4s", content[position : position + 8])
        end = position + 12 + length
        if end > len(content):
            return False
        data = content[position + 8 : end - 4]
        (crc,) = struct.unpack(">I", content[end - 4 : end])
        if zlib.crc32(kind + data) != crc or (first and kind != b"IHDR"):
            return False
        if kind == b"IEND":
            return True
        first = False
        position = end
    return False
