"""Which uploaded files are accepted as a theft declaration, judged by their content."""

import struct
import zlib

import pytest

from documents_service.domain.uploads import (
    JPEG,
    PDF,
    PNG,
    DamagedFile,
    EmptyFile,
    FileTooLarge,
    UnsupportedFormat,
    media_type_of,
    megabytes,
)

LIMIT = 5 * 1024 * 1024


def test_recognises_pdf_jpeg_and_png_by_their_content(
    pdf_bytes: bytes, jpeg_bytes: bytes, png_bytes: bytes
) -> None:
    assert media_type_of(pdf_bytes, LIMIT) == PDF
    assert media_type_of(jpeg_bytes, LIMIT) == JPEG
    assert media_type_of(png_bytes, LIMIT) == PNG


@pytest.mark.parametrize(
    "content",
    [
        b"Declaration de vol, en texte brut",
        b"<html><body>%PDF-1.7</body></html>",
        b"GIF89a\x01\x00\x01\x00",
        b"PK\x03\x04 a zip or an office document",
    ],
)
def test_refuses_other_formats_whatever_their_name(content: bytes) -> None:
    with pytest.raises(UnsupportedFormat, match="Format non accepté : envoyez un fichier PDF"):
        media_type_of(content, LIMIT)


def test_refuses_an_empty_file() -> None:
    with pytest.raises(EmptyFile, match="Le fichier est vide."):
        media_type_of(b"", LIMIT)


def test_refuses_a_file_over_the_limit_and_says_the_limit_in_megabytes(pdf_bytes: bytes) -> None:
    padded = pdf_bytes + b" " * (LIMIT - len(pdf_bytes) + 1)
    with pytest.raises(FileTooLarge, match="Le fichier dépasse la taille maximale de 5 Mo."):
        media_type_of(padded, LIMIT)


def test_accepts_a_file_of_exactly_the_limit(pdf_bytes: bytes) -> None:
    # A PDF may carry bytes after %%EOF; readers look for the marker in the last kilobyte.
    padded = pdf_bytes + b"\n" * 500
    assert media_type_of(padded, len(padded)) == PDF


def test_limit_is_written_the_french_way() -> None:
    assert megabytes(5 * 1024 * 1024) == "5 Mo"
    assert megabytes(1536 * 1024) == "1,5 Mo"


def test_refuses_a_truncated_pdf(pdf_bytes: bytes) -> None:
    with pytest.raises(DamagedFile, match="Le fichier est illisible ou endommagé."):
        media_type_of(pdf_bytes[: len(pdf_bytes) // 2], LIMIT)


def test_refuses_a_truncated_jpeg(jpeg_bytes: bytes) -> None:
    with pytest.raises(DamagedFile):
        media_type_of(jpeg_bytes[:-40], LIMIT)


def test_refuses_a_truncated_png(png_bytes: bytes) -> None:
    with pytest.raises(DamagedFile):
        media_type_of(png_bytes[:-12], LIMIT)
    with pytest.raises(DamagedFile):
        media_type_of(png_bytes[: len(png_bytes) // 2], LIMIT)


def test_refuses_a_png_whose_data_was_altered(png_bytes: bytes) -> None:
    altered = bytearray(png_bytes)
    altered[45] ^= 0xFF  # inside the first data chunk: its checksum no longer matches
    with pytest.raises(DamagedFile):
        media_type_of(bytes(altered), LIMIT)


def test_refuses_a_png_signature_followed_by_nothing_sensible() -> None:
    header = b"\x89PNG\r\n\x1a\n"
    bogus_chunk = struct.pack(">I4s", 3, b"tEXt") + b"abc"
    bogus_chunk += struct.pack(">I", zlib.crc32(b"tEXtabc"))
    with pytest.raises(DamagedFile):
        media_type_of(header + bogus_chunk, LIMIT)
