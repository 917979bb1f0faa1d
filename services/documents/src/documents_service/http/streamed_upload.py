"""A multipart upload read as it arrives: the file goes to a temporary file on disk, never
whole into memory, and reading stops at the size cap (python-multipart's streaming parser)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import IO, Any

from litestar import Request
from python_multipart import create_form_parser
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import Field, File

from documents_service.domain.uploads import FileTooLarge, NoFile

MULTIPART_OVERHEAD = 64 * 1024  # room for the framing and the other fields
IN_MEMORY_BYTES = 64 * 1024  # beyond this a part is written to disk


@dataclass
class StreamedUpload:
    fields: dict[str, str] = field(default_factory=dict)
    file: IO[bytes] | None = None

    def content(self) -> bytes:
        """The file's bytes (the caller checked who sends it before reading them)."""
        if self.file is None:
            raise NoFile
        self.file.seek(0)
        return self.file.read()


@asynccontextmanager
async def streamed_upload(
    request: Request[Any, Any, Any], max_file_bytes: int, file_field: str = "file"
) -> AsyncIterator[StreamedUpload]:
    upload = StreamedUpload()
    parts: list[File] = []

    def on_field(item: Field) -> None:
        if item.field_name and item.value is not None:
            upload.fields[item.field_name.decode()] = item.value.decode(errors="replace")

    def on_file(item: File) -> None:
        parts.append(item)  # closed (its temporary file deleted) on the way out
        if item.field_name == file_field.encode() and upload.file is None:
            upload.file = item.file_object

    try:
        try:
            parser = create_form_parser(
                {"Content-Type": request.headers.get("content-type", "").encode()},
                on_field, on_file,
                config={"MAX_MEMORY_FILE_SIZE": IN_MEMORY_BYTES, "MAX_BODY_SIZE": float("inf")},
            )
        except (FormParserError, ValueError):
            raise NoFile from None
        received = 0
        async for chunk in request.stream():
            received += len(chunk)
            if received > max_file_bytes + MULTIPART_OVERHEAD:
                raise FileTooLarge(max_file_bytes)
            try:
                parser.write(chunk)
            except (FormParserError, ValueError):
                raise NoFile from None
        parser.finalize()
        yield upload
    finally:
        for part in parts:
            part.close()
