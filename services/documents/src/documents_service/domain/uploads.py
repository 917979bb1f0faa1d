"""What an uploaded theft declaration may be: a complete PDF, JPEG or PNG, recognised by content.

The name and the declared type of an upload say nothing reliable; the first bytes say what
the file is, and the last ones whether it arrived whole.
"""

from __future__ import annotations

import struct
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
        media_type, complete = JPEG, content.rstrip(b"\x00\r\n\t ").endswith(JPEG_EOI)
    else:
        raise UnsupportedFormat
    if not complete:
        raise DamagedFile
    return media_type


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
