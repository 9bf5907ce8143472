"""Prompt caching as the providers bill it, deterministic and per model.

* **OpenAI** caches automatically: a prompt whose first 1,024 or more tokens repeat a
  prompt seen before (same model) reports ``prompt_tokens_details.cached_tokens``, counted in
  128-token steps (1,024, 1,152, 1,280, ...). The emulator does this when created with
  ``prompt_cache=True``.
* **Anthropic** caches what the request marks: the prefix up to the last ``cache_control``
  block is written on first sight (``cache_creation_input_tokens``) and read afterwards
  (``cache_read_input_tokens``), if it is at least 1,024 tokens long. The emulator's
  ``/v1/messages`` endpoint always does this (the request opts in).

Nothing expires with time (tests inject no clock here); :meth:`PromptCache.clear` empties it.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence

__all__ = ["ANTHROPIC_MIN_CACHEABLE", "OPENAI_CACHE_STEP", "OPENAI_MIN_CACHED", "PromptCache"]

OPENAI_MIN_CACHED = 1024
OPENAI_CACHE_STEP = 128
ANTHROPIC_MIN_CACHEABLE = 1024


class PromptCache:
    """Per-model prompt-prefix caches of one emulator (thread-safe).

    Args:
        enabled: Whether OpenAI-style automatic caching reports cached tokens.
    """

    def __init__(self, *, enabled: bool = False) -> None:
        self.enabled = enabled
        self._lock = threading.Lock()
        self._openai: dict[str, set[tuple[int, bytes]]] = {}
        self._anthropic: dict[str, set[bytes]] = {}

    def clear(self, model: str | None = None) -> None:
        """Forget cached prefixes of ``model``, or of every model."""
        with self._lock:
            for store in (self._openai, self._anthropic):
                if model is None:
                    store.clear()
                else:
                    store.pop(model, None)

    def openai_cached(self, model: str, tokens: Sequence[int]) -> int:
        """Cached tokens for a prompt, then remember its prefixes (0 when disabled).

        Args:
            model: The requested model; each model has its own cache.
            tokens: The prompt's tokens in order.

        Returns:
            The longest remembered prefix length, in 128-token steps from 1,024, or 0.
        """
        if not self.enabled:
            return 0
        prefixes = list(_block_digests(tokens))
        with self._lock:
            store = self._openai.setdefault(model, set())
            hits = [length for length, digest in prefixes if (length, digest) in store]
            store.update(prefixes)
        return max(hits, default=0)

    def anthropic_cached(self, model: str, prefix: str, prefix_tokens: int) -> tuple[int, int]:
        """``(cache_read, cache_creation)`` tokens for a prefix marked with ``cache_control``.

        Args:
            model: The requested model.
            prefix: The marked prefix, rendered canonically (its identity).
            prefix_tokens: Its length in tokens.

        Returns:
            ``(prefix_tokens, 0)`` on a hit, ``(0, prefix_tokens)`` on a write, ``(0, 0)``
            when the prefix is shorter than the minimum cacheable length.
        """
        if prefix_tokens < ANTHROPIC_MIN_CACHEABLE:
            return 0, 0
        digest = hashlib.blake2b(prefix.encode(), digest_size=16).digest()
        with self._lock:
            store = self._anthropic.setdefault(model, set())
            if digest in store:
                return prefix_tokens, 0
            store.add(digest)
        return 0, prefix_tokens


def _block_digests(tokens: Sequence[int]) -> list[tuple[int, bytes]]:
    """``(length, digest of tokens[:length])`` for every cacheable prefix length."""
    digest = hashlib.blake2b(digest_size=16)
    out: list[tuple[int, bytes]] = []
    start = 0
    for end in range(OPENAI_MIN_CACHED, len(tokens) + 1, OPENAI_CACHE_STEP):
        digest.update(b"".join(t.to_bytes(4, "little") for t in tokens[start:end]))
        out.append((end, digest.copy().digest()))
        start = end
    return out
