"""Which tokenizer, overheads and safety factor count a given model name.

Everything here is data plus one pure lookup (``encoding_for_model``) that never raises: an
unrecognised model is counted with o200k and the most cautious safety factor.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from langchain_tiered.pricing.names import normalize_model_name

__all__ = ["ModelEncoding", "encoding_for_model", "normalize_model_name"]


@dataclass(frozen=True)
class ModelEncoding:
    """How prompts for one model family are counted.

    Attributes:
        encoding: tiktoken encoding used for text (``"o200k_base"`` or ``"cl100k_base"``).
        family: Model family label, e.g. ``"openai-o200k"``, ``"anthropic"``, ``"unknown"``.
        safety_factor: Multiplier applied to the raw count; 1.0 where the count is exact,
            above 1.0 where another tokenizer is approximated with o200k (errs high).
        tokens_per_message: Fixed tokens around every message (role is encoded separately).
        tokens_per_name: Extra tokens when a message carries ``name``.
        reply_priming: Tokens that open the assistant's reply.
        image_base_tokens: Tile formula: tokens for every image (and all of a low-detail one).
        image_tile_tokens: Tile formula: tokens per 512px tile at high detail.
        image_patch_multiplier: When non-zero the model uses OpenAI's 32px-patch formula
            (patches capped at 1536, times this multiplier) instead of tiles.
        tool_prompt_tokens: Hidden system prompt a provider adds whenever tools are sent.
        image_pixels_per_token: When non-zero, images cost ``width * height / this`` after
            the provider's downscaling (Claude: 750) instead of OpenAI's formulas.
    """

    encoding: str
    family: str
    safety_factor: float
    tokens_per_message: int
    tokens_per_name: int
    reply_priming: int
    image_base_tokens: int = 85
    image_tile_tokens: int = 170
    image_patch_multiplier: float = 0.0
    tool_prompt_tokens: int = 0
    image_pixels_per_token: int = 0

    @property
    def is_openai(self) -> bool:
        """Whether counts are exact OpenAI accounting (no tokenizer approximation)."""
        return self.family.startswith("openai")


# gpt-4o / gpt-4.1 / gpt-3.5 / gpt-4: the OpenAI cookbook formula ("How to count tokens with
# tiktoken"): 3 per message + role/content/name encoded, +1 for a name, +3 reply priming.
# Verified by the recorded gpt-4o-mini call: "howdy" -> 9 prompt tokens (3 + 1 + 2 + 3).
_OPENAI_O200K = ModelEncoding("o200k_base", "openai-o200k", 1.0, 3, 1, 3)
_OPENAI_CL100K = ModelEncoding("cl100k_base", "openai-cl100k", 1.0, 3, 1, 3)
# o-series and gpt-5 render chats in the harmony format (<|start|>role<|message|>...<|end|>),
# whose reply priming is <|start|>assistant = 2 tokens. Recorded usage agrees exactly:
# gpt-5-nano bills "howdy" as 8 (3 + 1 + 2 + 2) and o4-mini bills a 36-token prompt as 42.
_OPENAI_REASONING = ModelEncoding("o200k_base", "openai-reasoning", 1.0, 3, 1, 2)

# Non-OpenAI families: counted with o200k times a factor that errs high; runtime calibration
# (TokenCounter.observe) then converges to each provider's real counts.
# Anthropic's tool-use docs ("Pricing" table) list the system prompt Claude adds whenever tools
# are sent: 264-346 tokens by model and tool_choice (e.g. Claude 3 Haiku 264 auto / 340 any,
# Claude 4 models 346 / 313). A real recording (tests/integration_tests/
# test_tiered_real_anthropic.py) billed 376 input tokens for a 70-token tool prompt. The
# largest published value errs high; calibration per model absorbs the rest.
_TOOL_PROMPT_TOKENS = {"anthropic": 346}
# Anthropic's vision docs: an image costs about width * height / 750 tokens (after scaling).
_PIXELS_PER_TOKEN = {"anthropic": 750}

_OTHER_FAMILIES: tuple[tuple[re.Pattern[str], ModelEncoding], ...] = tuple(
    (
        re.compile(pattern),
        ModelEncoding(
            "o200k_base",
            family,
            factor,
            3,
            1,
            3,
            tool_prompt_tokens=_TOOL_PROMPT_TOKENS.get(family, 0),
            image_pixels_per_token=_PIXELS_PER_TOKEN.get(family, 0),
        ),
    )
    for pattern, family, factor in (
        # Anthropic's Claude 3+ tokenizer is unpublished; its count_tokens API returns roughly
        # 15-30% more tokens than o200k for English prose and more for code, and Anthropic
        # documents that its newest tokenizer uses up to ~35% more. 1.3 covers prose.
        (r"claude|anthropic", "anthropic", 1.3),
        # DeepSeek's docs: ~0.3 tokens per English character; o200k averages ~0.25 -> 1.2.
        (r"deepseek", "deepseek", 1.2),
        # Gemini's 256k SentencePiece vocabulary is close to o200k (Google: "~4 characters per
        # token"); 1.15 is headroom for its per-turn/role markers.
        (r"gemini|gemma", "gemini", 1.15),
        # Qwen2/3 use a 151k byte-level BPE derived from cl100k, ~5-10% above o200k on English.
        (r"qwen|qwq", "qwen", 1.15),
        # Llama 3's 128k vocabulary extends cl100k (~1.1x o200k); Llama 2's 32k SentencePiece
        # needs ~1.3x. 1.2 sits between; calibration absorbs the rest.
        (r"llama", "llama", 1.2),
        # Mistral's Tekken (131k) is close to o200k, but older models use a 32k SentencePiece
        # vocabulary (~1.3x o200k on English); err towards the older one.
        (r"mistral|mixtral|codestral|ministral|pixtral|magistral|devstral", "mistral", 1.3),
        # xAI publishes no tokenizer; Grok-1's 131k SentencePiece is ~1.1-1.2x o200k.
        (r"grok", "xai", 1.2),
        # Cohere Command models: 255k BPE but heavier chat templates.
        (r"command", "cohere", 1.3),
        # gpt-oss is o200k (harmony) text, but hosts inject a harmony system prompt we cannot
        # see; 1.1 is headroom for it.
        (r"gpt-oss", "gpt-oss", 1.1),
    )
)
# Nothing known about the tokenizer: assume a small 32k-vocabulary model (~1.5x o200k).
_UNKNOWN = ModelEncoding("o200k_base", "unknown", 1.5, 3, 1, 3)

# OpenAI's vision guide ("Calculating costs"): per-model tile tokens, and the 32px-patch models.
# gpt-5 family (not -mini/-nano, which use patches): 70 base + 140 per tile, not 85/170.
_IMAGE_TILES: tuple[tuple[str, int, int], ...] = (
    ("gpt-4o-mini", 2833, 5667),
    ("gpt-5", 70, 140),
    ("o1", 75, 150),
    ("o3", 75, 150),
    ("computer-use", 65, 129),
)
_IMAGE_PATCH_MULTIPLIERS: tuple[tuple[str, float], ...] = (
    ("gpt-5-mini", 1.62),
    ("gpt-5-nano", 2.46),
    ("gpt-4.1-mini", 1.62),
    ("gpt-4.1-nano", 2.46),
    ("o4-mini", 1.72),
)

_REASONING_RE = re.compile(r"^(o\d+(-|$)|gpt-5)")
_O200K_RE = re.compile(r"^(gpt-4o|gpt-4\.1|gpt-4\.5|chatgpt-4o|codex|computer-use|gpt-6)")
_CL100K_RE = re.compile(r"^(gpt-4|gpt-3\.5|gpt-35|davinci-002|babbage-002)")


def _openai_encoding(name: str) -> ModelEncoding | None:
    if _REASONING_RE.match(name):
        base = _OPENAI_REASONING
    elif _O200K_RE.match(name):
        base = _OPENAI_O200K
    elif _CL100K_RE.match(name):
        base = _OPENAI_CL100K
    else:
        return None
    for prefix, multiplier in _IMAGE_PATCH_MULTIPLIERS:
        if name.startswith(prefix):
            return replace(base, image_patch_multiplier=multiplier)
    for prefix, base_tokens, tile_tokens in _IMAGE_TILES:
        if name == prefix or name.startswith((prefix + "-", prefix + ".")):
            return replace(base, image_base_tokens=base_tokens, image_tile_tokens=tile_tokens)
    return base


def encoding_for_model(model: str | None) -> ModelEncoding:
    """Return how prompts for ``model`` are counted. Never raises.

    Args:
        model: A model name as given to a chat model (``"gpt-4.1-2025-04-14"``,
            ``"openai:gpt-4.1"``, ``"anthropic/claude-sonnet-4-5"``), or ``None``.

    Returns:
        The family's ``ModelEncoding``; ``family="unknown"`` (o200k, safety factor 1.5) when the
        model is ``None`` or unrecognised.
    """
    if not model or not isinstance(model, str):
        return _UNKNOWN
    # A fine-tune ("ft:gpt-4o-mini-2024-07-18") tokenizes like its base model.
    name = normalize_model_name(model).removeprefix("ft:")
    if not name.startswith("gpt-oss"):
        found = _openai_encoding(name)
        if found is not None:
            return found
    for pattern, family_encoding in _OTHER_FAMILIES:
        if pattern.search(name):
            return family_encoding
    return _UNKNOWN
