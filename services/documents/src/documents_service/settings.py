"""Documents settings, read once from the environment."""

from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from ants_runtime.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "documents"
    http_port: int = 8005
    # Base of the verification address printed in the CPI's QR code.
    public_base_url: str = "http://127.0.0.1:8005"
    max_upload_bytes: int = 5 * 1024 * 1024
    # By default the PDFs use the core Helvetica font: nothing to embed, about 3 ms of CPU
    # per document (Latin-1 only: amounts read "EUR"). A folder holding DejaVuSans.ttf and
    # DejaVuSans-Bold.ttf embeds that Unicode font instead, at about 0.1 s per document.
    pdf_font_dir: Path | None = None
    # Dates printed on the documents (issue date, validity) are those of this time zone.
    time_zone: str = "Europe/Paris"
    # How long the simulated national printing office takes to make and post a certificate.
    printing_office_seconds: float = 3.0

    @property
    def files_dir(self) -> Path:
        return self.service_dir / "files"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)


@cache
def get_settings() -> Settings:
    return Settings()
