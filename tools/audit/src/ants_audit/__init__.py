"""ants-audit: export, verify and replay a dossier's history (see docs/audit-bundle.md)."""
