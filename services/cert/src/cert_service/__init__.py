"""The cert service."""
