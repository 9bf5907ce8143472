"""Values the emulator's request log is made of."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["ModelStats", "RequestRecord"]


@dataclass(frozen=True)
class RequestRecord:
    """One request the emulator answered, as tests assert on it.

    Attributes:
        model: The requested model name (``""`` if the request had none).
        prompt_tokens: Billed prompt tokens (0 when the request was refused before counting).
        completion_tokens: Billed completion tokens (0 for failed requests).
        outcome: ``"ok"``, the kind of the fault that fired (``"latency"`` if only delayed), or
            ``"bad_request"``.
        status: HTTP status sent (0 when the connection was dropped before any status).
        stream: Whether the request asked for streaming.
        tools: Number of tools sent.
        time: Wall-clock time (``time.time()``) the request arrived.
        cached_tokens: Prompt tokens billed as read from the prompt cache.
        cache_creation_tokens: Prompt tokens billed as written to the cache (Anthropic).
    """

    model: str
    prompt_tokens: int
    completion_tokens: int
    outcome: str
    status: int
    stream: bool
    tools: int
    time: float
    cached_tokens: int = 0
    cache_creation_tokens: int = 0

    @property
    def usage_metadata(self) -> dict[str, Any]:
        """The billed usage as LangChain's ``UsageMetadata``, ready for ``ModelPrice.cost``.

        Lets a test price what the emulated provider billed from its own log.
        """
        details = {"cache_read": self.cached_tokens}
        if self.cache_creation_tokens:
            details["cache_creation"] = self.cache_creation_tokens
        return {
            "input_tokens": self.prompt_tokens,
            "output_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
            "input_token_details": details,
        }


@dataclass(frozen=True)
class ModelStats:
    """Counters of one model name over the request log."""

    requests: int = 0
    ok: int = 0
    failed: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
