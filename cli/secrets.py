"""How a secret looks wherever it would otherwise appear: one marker and one scrubber for every tool
(settings errors, gate reports and plans, drill logs and reprs)."""

from __future__ import annotations

from collections.abc import Iterable

REDACTED = "[secret]"


def scrub(text: str, secrets: Iterable[str | None]) -> str:
    """`text` with each secret replaced by the marker, longest first so that no part of one survives."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text
