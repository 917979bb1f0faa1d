"""Files that are more than a plain PDF, JPEG or PNG are refused before anything is kept.

Each hostile file is built here, small: HTML/PDF and HTML/JPEG polyglots, PDF actions and
scripts (also spelled with #xx escapes, or hidden in a compressed object stream), images with
bytes after their end, images that do not decode. Real files still pass.
"""

from __future__ import annotations

import io
import struct
import zlib

import pytest

from ants_events.documents import DeclarationUploadedV1
from documents_service.domain.uploads import (
    JPEG,
    PDF,
    PNG,
    ActiveContent,
    DamagedFile,
    NotPlainFile,
    UploadRejected,
    media_type_of,
)

LIMIT = 5 * 1024 * 1024
SCRIPT = b"<html><body><script>alert(document.cookie)</script></body></html>"
ZIP = b"PK\x03\x04\x14\x00\x00\x00\x00\x00" + b"\x00" * 16 + b"evil.html" + SCRIPT


def pdf(catalog_extra: bytes = b"", extra_objects: tuple[bytes, ...] = (),
        after_header: bytes = b"", stream_dict_extra: bytes = b"",
        raw_streams: tuple[tuple[bytes, bytes], ...] = ()) -> bytes:
    """A one-page PDF; extra catalog entries and objects (numbered from 6) may be added."""
    text = b"BT /F1 18 Tf 72 720 Td (Declaration de vol) Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R " + catalog_extra + b">>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d %s>>\nstream\n" % (len(text), stream_dict_extra) + text + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        *extra_objects,
        *(b"<< /Length %d %s>>\nstream\n" % (len(data), head) + data + b"\nendstream"
          for head, data in raw_streams),
    ]
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + after_header)
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref)
    return bytes(out)


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png(*extra_chunks: bytes, idat: bytes | None = None) -> bytes:
    raw = b"".join(b"\x00" + b"\xc8\x1e\x1e" * 8 for _ in range(8))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 8, 8, 8, 2, 0, 0, 0))
        + b"".join(extra_chunks)
        + chunk(b"IDAT", zlib.compress(raw) if idat is None else idat)
        + chunk(b"IEND", b"")
    )


def jpeg_with_segment(jpeg: bytes, marker: int, payload: bytes) -> bytes:
    """The JPEG with one more marker segment just after its start (SOI)."""
    return jpeg[:2] + struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload + jpeg[2:]


def photo(**options) -> bytes:
    """A noisy photo-like JPEG (stuffed 0xFF00 bytes, restart markers, several scans)."""
    from PIL import Image

    image = Image.effect_noise((64, 48), 80).convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90, **options)
    return buffer.getvalue()


# What a hostile file looks like, and why it is refused.

OPEN_ACTION_JS = b"/OpenAction << /S /JavaScript /JS (app.alert\\(1\\)) >> "


def hostile_files(pdf_bytes: bytes, png_bytes: bytes, jpeg_bytes: bytes):
    js_object_stream = zlib.compress(b"6 0 << /S /JavaScript /JS (app.alert\\(1\\)) >>")
    return {
        # PDF/HTML polyglots: a browser that sniffs would render the page.
        "pdf with html in a comment": (pdf(after_header=b"%" + SCRIPT + b"\n"), NotPlainFile),
        "pdf with html after %%EOF": (pdf_bytes + SCRIPT, NotPlainFile),
        "pdf with a zip after %%EOF": (pdf_bytes + ZIP, NotPlainFile),
        # PDF active content.
        "pdf opening on a script": (pdf(OPEN_ACTION_JS), ActiveContent),
        "pdf opening on a referenced action": (
            pdf(b"/OpenAction 6 0 R ", (b"<< /S /Launch /F (calc.exe) >>",)), ActiveContent),
        "pdf with escaped names": (
            pdf(b"/Open#41ction << /S /J#61vaScript /J#53 (app.alert\\(1\\)) >> "), ActiveContent),
        "pdf with a page action": (
            pdf(b"/AA << /WC << /S /JavaScript /JS (x) >> >> "), ActiveContent),
        "pdf with document scripts": (
            pdf(b"/Names << /JavaScript 6 0 R >> ", (b"<< /Names [(a) 7 0 R] >>",)),
            ActiveContent),
        "pdf with an embedded file": (
            pdf(b"/Names << /EmbeddedFiles << /Names [(x.html) 6 0 R] >> >> ",
                (b"<< /Type /Filespec /F (x.html) /EF << /F 7 0 R >> >>",)), ActiveContent),
        "pdf with rich media": (pdf(b"/RichMedia 6 0 R ", (b"<< >>",)), ActiveContent),
        "pdf with an xfa form": (pdf(b"/AcroForm << /XFA 6 0 R >> ", (b"<< >>",)),
                                 ActiveContent),
        "pdf hiding a script in an object stream": (
            pdf(raw_streams=((b"/Type /ObjStm /N 1 /First 4 /Filter /FlateDecode ",
                              js_object_stream),)), ActiveContent),
        # PNG: HTML and a ZIP after IEND, HTML in a text chunk, pixels that do not decode.
        "png with html and a zip appended": (png_bytes + SCRIPT + ZIP, NotPlainFile),
        "png with a zip appended": (png_bytes + ZIP, NotPlainFile),
        "png with html in a text chunk": (
            png(chunk(b"tEXt", b"Comment\x00" + b"x" * 2000 + SCRIPT)), NotPlainFile),
        "png whose pixels do not decode": (png(idat=b"\x78\x9c not deflate at all"),
                                           DamagedFile),
        # JPEG/HTML polyglots: HTML in a comment, at the start or further in, or after EOI.
        "jpeg with html in a comment": (jpeg_with_segment(jpeg_bytes, 0xFE, SCRIPT),
                                        NotPlainFile),
        "jpeg with html in a comment past the first kilobyte": (
            jpeg_with_segment(jpeg_with_segment(jpeg_bytes, 0xFE, SCRIPT), 0xE1,
                              b"Exif\x00\x00" + b"\x00" * 3000), NotPlainFile),
        "jpeg with html after EOI": (jpeg_bytes + SCRIPT, NotPlainFile),
        "jpeg with a zip after EOI": (jpeg_bytes + ZIP, NotPlainFile),
        "jpeg with svg up front": (b"\xff\xd8\xff\xfe\x00\x10<SVG onload=1>" + jpeg_bytes[2:],
                                   NotPlainFile),
        "jpeg that does not decode": (
            b"\xff\xd8" + struct.pack(">BBH", 0xFF, 0xFE, 6) + b"abcd" + b"\xff\xd9",
            DamagedFile),
    }


HOSTILE = [
    "pdf with html in a comment", "pdf with html after %%EOF", "pdf with a zip after %%EOF",
    "pdf opening on a script", "pdf opening on a referenced action", "pdf with escaped names",
    "pdf with a page action", "pdf with document scripts", "pdf with an embedded file",
    "pdf with rich media", "pdf with an xfa form", "pdf hiding a script in an object stream",
    "png with html and a zip appended", "png with a zip appended",
    "png with html in a text chunk", "png whose pixels do not decode",
    "jpeg with html in a comment", "jpeg with html in a comment past the first kilobyte",
    "jpeg with html after EOI", "jpeg with a zip after EOI", "jpeg with svg up front",
    "jpeg that does not decode",
]


@pytest.mark.parametrize("name", HOSTILE)
def test_a_hostile_file_is_refused_with_a_reason_a_person_understands(
    name, pdf_bytes, png_bytes, jpeg_bytes
) -> None:
    content, refusal = hostile_files(pdf_bytes, png_bytes, jpeg_bytes)[name]
    with pytest.raises(refusal) as refused:
        media_type_of(content, LIMIT)
    message = str(refused.value)
    assert message.startswith(("Ce PDF contient", "Ce fichier contient", "Le fichier est"))


@pytest.fixture
def awaiting(documents, sample):
    sample.reason = "vol"
    documents.deliver(sample.started())
    documents.deliver(sample.submitted())
    documents.deliver(sample.theft_declaration_requested())
    return sample


@pytest.mark.parametrize("name", HOSTILE)
def test_nothing_of_a_hostile_file_is_kept_or_announced(
    name, documents, awaiting, pdf_bytes, png_bytes, jpeg_bytes
) -> None:
    content, refusal = hostile_files(pdf_bytes, png_bytes, jpeg_bytes)[name]
    with pytest.raises(refusal):
        documents.app.check_declaration_file(content)
    with pytest.raises(refusal):
        documents.app.upload_declaration(awaiting.dossier_id, awaiting.account_id, content)

    assert not documents.files_dir.exists() or not any(documents.files_dir.iterdir())
    assert not [e for e in documents.public_events() if isinstance(e, DeclarationUploadedV1)]
    assert documents.app.awaits_declaration(awaiting.dossier_id)


def real_files(pdf_bytes: bytes, png_bytes: bytes, jpeg_bytes: bytes):
    from PIL import Image

    exif = Image.Exif()
    exif[0x010F] = "Canon"  # Make
    scan = io.BytesIO()
    Image.new("L", (200, 300), 255).save(scan, format="PNG", dpi=(300, 300))
    text_png = png(chunk(b"tEXt", b"Software\x00Scanner 1.0"))
    return [
        (pdf_bytes, PDF),  # fpdf2: /OpenAction [3 0 R /FitH null] opens at a page, no action
        (pdf(), PDF),
        (pdf(b"/OpenAction [3 0 R /Fit] "), PDF),
        (pdf_bytes + b"\r\n\x00\x00  \n" * 20, PDF),
        (pdf_bytes + b"garbage", PDF),  # a few stray bytes after %%EOF are tolerated
        (png_bytes, PNG),
        (text_png, PNG),
        (scan.getvalue(), PNG),
        (png_bytes + b"\n", PNG),
        (jpeg_bytes, JPEG),
        (photo(), JPEG),
        (photo(progressive=True), JPEG),
        (photo(exif=exif.tobytes(), dpi=(300, 300)), JPEG),
        (jpeg_with_segment(photo(), 0xFE, b"Scanned with ACME"), JPEG),
        (photo() + photo(), JPEG),  # a phone's multi-picture photo (depth or HDR map after it)
    ]


def test_real_pdf_png_and_jpeg_files_still_pass(pdf_bytes, png_bytes, jpeg_bytes) -> None:
    for content, media_type in real_files(pdf_bytes, png_bytes, jpeg_bytes):
        assert media_type_of(content, LIMIT) == media_type


def test_a_real_photo_is_stored_and_announced(documents, awaiting) -> None:
    from PIL import Image

    content = photo(progressive=True)
    document = documents.app.upload_declaration(
        awaiting.dossier_id, awaiting.account_id, content)
    assert document["media_type"] == JPEG
    stored = (documents.files_dir / f"{document['document_id']}.jpg").read_bytes()
    with Image.open(io.BytesIO(stored)) as image:
        assert (image.format, image.size) == ("JPEG", (64, 48))


def test_a_photo_is_stored_as_its_pixels_alone(documents, awaiting) -> None:
    """Drawn anew: no camera metadata (a phone's GPS position), no second picture after it."""
    from PIL import Image

    exif = Image.Exif()
    exif[0x010F] = "Canon"  # Make
    exif[0x8825] = {2: (48.0, 51.0, 24.0)}  # GPS latitude
    content = photo(exif=exif.tobytes()) + photo()
    document = documents.app.upload_declaration(
        awaiting.dossier_id, awaiting.account_id, content)

    stored = (documents.files_dir / f"{document['document_id']}.jpg").read_bytes()
    with Image.open(io.BytesIO(stored)) as image:
        assert not image.getexif()
    assert stored.endswith(b"\xff\xd9") and stored.count(b"\xff\xd8\xff") == 1
    assert len(stored) < len(content)


def test_every_refusal_is_an_upload_refusal() -> None:
    assert issubclass(ActiveContent, UploadRejected)
    assert issubclass(NotPlainFile, UploadRejected)
