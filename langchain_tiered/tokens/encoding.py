"""Offline tiktoken encodings built from the BPE files bundled in ``langchain_tiered/_data``.

``tiktoken.get_encoding`` downloads its BPE files on first use, which fails in air-gapped
deployments. We build equivalent ``tiktoken.Encoding`` objects (same regex, same special tokens
as ``tiktoken_ext/openai_public.py``) from our own copies, verified against tiktoken's own
SHA-256 hashes. Nothing here touches tiktoken's registry or the environment, so a user's own
``tiktoken.get_encoding`` and ``TIKTOKEN_CACHE_DIR`` keep working untouched.
"""

from __future__ import annotations

import base64
import hashlib
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import tiktoken

__all__ = ["BUNDLED_ENCODINGS", "get_encoding", "parse_bpe"]

_ENDOFTEXT = "<|endoftext|>"
_FIM_PREFIX = "<|fim_prefix|>"
_FIM_MIDDLE = "<|fim_middle|>"
_FIM_SUFFIX = "<|fim_suffix|>"
_ENDOFPROMPT = "<|endofprompt|>"

# Copied verbatim from tiktoken_ext/openai_public.py (tiktoken 0.14); a unit test checks they
# still equal what the installed tiktoken builds.
_CL100K_PAT = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
    r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)
_O200K_PAT = "|".join(
    [
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]
)


@dataclass(frozen=True)
class _BundledSpec:
    filename: str
    sha256: str  # equals tiktoken's expected_hash for the same file
    pat_str: str
    special_tokens: Mapping[str, int]


BUNDLED_ENCODINGS: Mapping[str, _BundledSpec] = {
    "cl100k_base": _BundledSpec(
        filename="cl100k_base.tiktoken",
        sha256="223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
        pat_str=_CL100K_PAT,
        special_tokens={
            _ENDOFTEXT: 100257,
            _FIM_PREFIX: 100258,
            _FIM_MIDDLE: 100259,
            _FIM_SUFFIX: 100260,
            _ENDOFPROMPT: 100276,
        },
    ),
    "o200k_base": _BundledSpec(
        filename="o200k_base.tiktoken",
        sha256="446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
        pat_str=_O200K_PAT,
        special_tokens={_ENDOFTEXT: 199999, _ENDOFPROMPT: 200018},
    ),
}

_lock = threading.Lock()
_encodings: dict[str, tiktoken.Encoding] = {}


def parse_bpe(data: bytes, expected_hash: str, *, source: str = "<bytes>") -> dict[bytes, int]:
    """Verify and parse the contents of a ``.tiktoken`` BPE file.

    Same format and checks as ``tiktoken.load.load_tiktoken_bpe``, but without its download
    cache: for a local path that function copies the file into ``TIKTOKEN_CACHE_DIR`` (and
    raises if that user-chosen directory is read-only), a side effect we must not have.

    Args:
        data: Raw file contents (``base64-token rank`` per line).
        expected_hash: Hex SHA-256 the contents must have.
        source: Name used in error messages.

    Returns:
        The mergeable ranks, token bytes to rank.

    Raises:
        ValueError: If the hash does not match or a line cannot be parsed.
    """
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected_hash:
        msg = (
            f"Hash mismatch for tokenizer file {source}: expected {expected_hash}, got {actual}. "
            "The file is corrupted; reinstall langchain-tiered."
        )
        raise ValueError(msg)
    ranks: dict[bytes, int] = {}
    for line in data.splitlines():
        if not line:
            continue
        try:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
        except ValueError as exc:
            msg = f"Error parsing line {line[:80]!r} in tokenizer file {source}"
            raise ValueError(msg) from exc
    return ranks


def _build(name: str, spec: _BundledSpec) -> tiktoken.Encoding:
    # Imported here, not at module top: tiktoken's import cost is only paid when a count is
    # actually needed, keeping `import langchain_tiered.tokens` cheap.
    import tiktoken  # noqa: PLC0415

    data = (
        resources.files("langchain_tiered").joinpath("_data").joinpath(spec.filename).read_bytes()
    )
    ranks = parse_bpe(data, spec.sha256, source=spec.filename)
    return tiktoken.Encoding(
        name,
        pat_str=spec.pat_str,
        mergeable_ranks=ranks,
        special_tokens=dict(spec.special_tokens),
    )


def get_encoding(name: str) -> tiktoken.Encoding:
    """Return a bundled tiktoken encoding, loading it offline on first use.

    Loading happens once per process (thread-safe); later calls are a dict lookup.

    Args:
        name: ``"cl100k_base"`` or ``"o200k_base"``.

    Returns:
        A ``tiktoken.Encoding`` equivalent to ``tiktoken.get_encoding(name)``.

    Raises:
        ValueError: If ``name`` is not a bundled encoding or the bundled file is corrupted.
    """
    encoding = _encodings.get(name)
    if encoding is not None:
        return encoding
    spec = BUNDLED_ENCODINGS.get(name)
    if spec is None:
        msg = f"Unknown encoding {name!r}; bundled encodings are {sorted(BUNDLED_ENCODINGS)}."
        raise ValueError(msg)
    with _lock:
        encoding = _encodings.get(name)
        if encoding is None:
            encoding = _build(name, spec)
            _encodings[name] = encoding
    return encoding


def clear_encoding_cache() -> None:
    """Forget loaded encodings so the next call reloads them (used by tests)."""
    with _lock:
        _encodings.clear()
