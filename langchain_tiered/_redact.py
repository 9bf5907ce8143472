"""Mask credentials in text before it is printed, stored or raised.

Provider error text can echo the API key (OpenAI-compatible servers put it in "Incorrect API key
provided: sk-..."), and anything the package prints, writes to a batch file or a ledger, or puts
in an exception message may end up in logs. ``redact`` is the one place that decides what a
key looks like. Imports nothing of ours, so every layer may use it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["REDACTED", "redact"]

REDACTED = "[REDACTED]"
"""What a masked credential is replaced with."""

# Group 1 (a label such as "Bearer " or "api_key=") is kept so the text still says what was
# there; the credential itself is replaced.
_PATTERNS = (
    # OpenAI (sk-..., sk-proj-...), Anthropic (sk-ant-...), DeepSeek and most compatible servers.
    re.compile(r"()\bsk-[A-Za-z0-9_-]{8,}"),
    # Google API keys.
    re.compile(r"()\bAIza[0-9A-Za-z_-]{20,}"),
    re.compile(r"(\bBearer\s+)[^\s\"',}]+", re.IGNORECASE),
    # api_key=..., "api_key": "...", x-api-key: ..., api-key ..., apikey=...
    re.compile(
        r"((?:x-)?api[_-]?key[\"']?\s*[:=]\s*[\"']?)[^\s\"',}&]+",
        re.IGNORECASE,
    ),
    # Authorization: <token>, or with a scheme other than Bearer (Basic, Token) kept as a label.
    re.compile(
        r"(\bauthorization[\"']?\s*[:=]\s*[\"']?(?:(?:Basic|Token)\s+)?)(?!Bearer\b)[^\s\"',}]+",
        re.IGNORECASE,
    ),
)
# Shorter "secrets" would mask ordinary words; no real key is this short.
_MIN_SECRET_LENGTH = 6


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Mask key-shaped strings and the given secrets in ``text``.

    Args:
        text: Any text that may contain a credential (an error message, a log line).
        secrets: Known credentials (the configured API keys) to mask wherever they appear,
            whatever their shape. Values shorter than 6 characters are ignored.

    Returns:
        ``text`` with every credential replaced by ``[REDACTED]``; labels such as ``Bearer `` or
        ``api_key=`` are kept.
    """
    # Longest first, so a key that contains another configured key is masked whole.
    known = sorted(
        {s for s in secrets if s and len(s) >= _MIN_SECRET_LENGTH}, key=len, reverse=True
    )
    for secret in known:
        text = text.replace(secret, REDACTED)
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + REDACTED, text)
    return text
