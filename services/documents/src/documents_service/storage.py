"""Document files on disk, written whole or not at all."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from uuid import UUID


class FileStore:
    """One file per document, named by its id; the extension follows the media type."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, document_id: UUID | str, extension: str) -> Path:
        return self.root / f"{document_id}{extension}"

    def write(self, document_id: UUID | str, extension: str, content: bytes) -> Path:
        """Write to a temporary name, flush to disk, then rename: a crash leaves no half file."""
        self.root.mkdir(parents=True, exist_ok=True)
        target = self.path(document_id, extension)
        handle, temporary = tempfile.mkstemp(dir=self.root, prefix=".incoming-", suffix=".part")
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(content)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return target

    def read(self, document_id: UUID | str, extension: str) -> bytes:
        return self.path(document_id, extension).read_bytes()
