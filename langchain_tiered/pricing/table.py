"""Built-in list prices for langchain-tiered (data only; logic lives in ``pricing``).

Each row is ``name: (input, output, cached_input, cache_write, context_window, max_output)``
with prices in USD per million tokens and ``None`` where a value does not exist or is unknown
(a ``None`` cache price means "billed like ordinary input"). Names are bare model names; provider
prefixes and dated snapshots are resolved by ``PriceBook.lookup``.

Source: LiteLLM's community map ``model_prices_and_context_window.json`` as of ``PRICES_AS_OF``
(copy at ``../shared/pricing/litellm_model_prices.json``), per-token costs times 1,000,000.
Deliberately left out: codename and specialty variants whose numbers look inconsistent with
their family in that map (e.g. claude-*-5-5, claude-mythos/fable, gpt-5.6-sol/-luna, gpt-6-*);
load them with ``PriceBook.from_litellm`` if you need them.
"""

from __future__ import annotations

from typing import Final

__all__ = ["BUILTIN_PRICES", "PRICES_AS_OF", "PRICES_SOURCE", "PriceRow"]

PRICES_AS_OF: Final = "2026-11-28"
"""Date of the price snapshot the table was taken from."""

PRICES_SOURCE: Final = (
    "LiteLLM model_prices_and_context_window.json "
    "(https://github.com/BerriAI/litellm), snapshot of " + PRICES_AS_OF
)
"""Where the built-in numbers come from."""

PriceRow = tuple[float, float, float | None, float | None, int | None, int | None]
"""Input, output, cached-input and cache-write USD/Mtok; then context window and max output."""

BUILTIN_PRICES: Final[dict[str, PriceRow]] = {
    # OpenAI: bare first-party keys. The -pro models are Responses-API models, listed so that
    # they never fall back to a cheaper sibling's price.
    "gpt-4o": (2.5, 10.0, 1.25, None, 128_000, 16_384),
    "gpt-4o-2024-05-13": (5.0, 15.0, None, None, 128_000, 4_096),
    "gpt-4o-mini": (0.15, 0.6, 0.075, None, 128_000, 16_384),
    "gpt-4.1": (2.0, 8.0, 0.5, None, 1_047_576, 32_768),
    "gpt-4.1-mini": (0.4, 1.6, 0.1, None, 1_047_576, 32_768),
    "gpt-4.1-nano": (0.1, 0.4, 0.025, None, 1_047_576, 32_768),
    "gpt-5": (1.25, 10.0, 0.125, None, 272_000, 128_000),
    "gpt-5-mini": (0.25, 2.0, 0.025, None, 272_000, 128_000),
    "gpt-5-nano": (0.05, 0.4, 0.005, None, 272_000, 128_000),
    "gpt-5-chat-latest": (1.25, 10.0, 0.125, None, 128_000, 16_384),
    "gpt-5-pro": (15.0, 120.0, None, None, 400_000, 272_000),
    "gpt-5-codex": (1.25, 10.0, 0.125, None, 272_000, 128_000),
    "gpt-5.1": (1.25, 10.0, 0.125, None, 272_000, 128_000),
    "gpt-5.1-chat-latest": (1.25, 10.0, 0.125, None, 128_000, 16_384),
    "gpt-5.2": (1.75, 14.0, 0.175, None, 272_000, 128_000),
    "gpt-5.2-chat-latest": (1.75, 14.0, 0.175, None, 128_000, 16_384),
    "gpt-5.4": (2.5, 15.0, 0.25, None, 1_050_000, 128_000),
    "gpt-5.4-mini": (0.75, 4.5, 0.075, None, 272_000, 128_000),
    "gpt-5.4-nano": (0.2, 1.25, 0.02, None, 272_000, 128_000),
    "gpt-5.5": (5.0, 30.0, 0.5, None, 1_050_000, 128_000),
    "gpt-5.6": (4.0, 20.0, 0.4, 5.0, 922_000, 128_000),
    "o1": (15.0, 60.0, 7.5, None, 200_000, 100_000),
    "o1-pro": (150.0, 600.0, None, None, 200_000, 100_000),
    "o3": (2.0, 8.0, 0.5, None, 200_000, 100_000),
    "o3-mini": (1.1, 4.4, 0.55, None, 200_000, 100_000),
    "o3-pro": (20.0, 80.0, None, None, 200_000, 100_000),
    "o4-mini": (1.1, 4.4, 0.275, None, 200_000, 100_000),
    "gpt-4-turbo": (10.0, 30.0, None, None, 128_000, 4_096),
    "gpt-4": (30.0, 60.0, None, None, 8_192, 4_096),
    "gpt-3.5-turbo": (0.5, 1.5, None, None, 16_385, 4_096),
    # Anthropic: the map has no bare first-party keys any more for claude-opus-4-1, -opus-4,
    # -sonnet-4 and claude-3-x; those rows come from its Bedrock base-region entries, which
    # equal Anthropic's list prices.
    "claude-opus-4-8": (5.0, 25.0, 0.5, 6.25, 1_000_000, 128_000),
    "claude-opus-4-7": (5.0, 25.0, 0.5, 6.25, 1_000_000, 128_000),
    "claude-opus-4-6": (5.0, 25.0, 0.5, 6.25, 1_000_000, 128_000),
    "claude-opus-4-5": (5.0, 25.0, 0.5, 6.25, 200_000, 64_000),
    "claude-opus-5": (5.0, 25.0, 0.5, 6.25, 1_000_000, 128_000),
    "claude-opus-4-1": (15.0, 75.0, 1.5, 18.75, 200_000, 32_000),
    "claude-opus-4": (15.0, 75.0, 1.5, 18.75, 200_000, 32_000),
    "claude-sonnet-5": (2.0, 10.0, 0.2, 2.5, 1_000_000, 128_000),
    "claude-sonnet-4-6": (3.0, 15.0, 0.3, 3.75, 1_000_000, 128_000),
    "claude-sonnet-4-5": (3.0, 15.0, 0.3, 3.75, 200_000, 64_000),
    "claude-sonnet-4": (3.0, 15.0, 0.3, 3.75, 200_000, 64_000),
    "claude-3-7-sonnet": (3.0, 15.0, 0.3, 3.75, 200_000, 8_192),
    "claude-3-5-sonnet": (3.0, 15.0, 0.3, 3.75, 200_000, 8_192),
    "claude-haiku-4-5": (1.0, 5.0, 0.1, 1.25, 200_000, 64_000),
    "claude-3-5-haiku": (0.8, 4.0, 0.08, 1.0, 200_000, 8_192),
    "claude-3-haiku": (0.25, 1.25, None, None, 200_000, 4_096),
    "claude-3-opus": (15.0, 75.0, 1.5, 18.75, 200_000, 4_096),
    # DeepSeek: deepseek-v3.2 from the map's "deepseek/deepseek-v3.2". DeepSeek bills cache
    # writes as ordinary input, hence no separate write price.
    "deepseek-chat": (0.28, 0.42, 0.028, None, 131_072, 8_192),
    "deepseek-reasoner": (0.28, 0.42, 0.028, None, 131_072, 65_536),
    "deepseek-v3.2": (0.28, 0.4, 0.028, None, 163_840, 163_840),
    "deepseek-v4-pro": (1.32, 3.96, 0.044, None, 1_000_000, 393_216),
    "deepseek-v4-flash": (0.3, 1.2, 0.006, None, 1_000_000, 393_216),
    # Google: Gemini API prices from the "gemini/" keys (gemini-2.0 from "vertex_ai/", which has
    # no window). Prompts above 200k tokens cost more on some models; not modelled here.
    "gemini-2.5-pro": (1.25, 10.0, 0.125, None, 1_048_576, 65_536),
    "gemini-2.5-flash": (0.3, 2.5, 0.03, None, 1_048_576, 65_536),
    "gemini-2.5-flash-lite": (0.1, 0.4, 0.01, None, 1_048_576, 65_536),
    "gemini-2.0-flash": (0.15, 0.6, None, None, None, None),
    "gemini-2.0-flash-lite": (0.075, 0.3, None, None, None, None),
    "gemini-3-pro-preview": (2.0, 12.0, 0.2, None, 1_048_576, 65_535),
    "gemini-3.1-pro-preview": (2.0, 12.0, 0.2, None, 1_048_576, 65_536),
    "gemini-3-flash-preview": (0.5, 3.0, 0.05, None, 1_048_576, 65_536),
    "gemini-3.1-flash-lite": (0.25, 1.5, 0.025, None, 1_048_576, 65_536),
    "gemini-3.5-flash": (1.5, 9.0, 0.15, None, 1_048_576, 65_536),
    "gemini-3.5-flash-lite": (0.3, 2.5, 0.03, None, 1_048_576, 65_536),
}
