"""Built-in list prices for langchain-tiered (data only; logic lives in ``pricing``).

Each row is ``name: (price, context_window, max_output_tokens)`` with prices in USD per million
tokens: ``_p(input, output, cached_input, cache_write_5m, cache_write_1h, ...)``, where a missing
cache price means "billed like ordinary input" (a missing 1-hour write price: like a standard
write), ``above={threshold: price}`` are long-context tiers (the whole call at that price once
the prompt exceeds the threshold), ``tiers={"flex": ..., "priority": ...}`` service-tier prices
and ``off_peak=`` a time-of-day price (DeepSeek's ``_DEEPSEEK_OFF_PEAK`` windows). Names are bare
model names; provider prefixes and dated snapshots are resolved by ``PriceBook.lookup``.

Sources, checked on ``PRICES_AS_OF``:

* OpenAI and Google rows: LiteLLM's community map ``model_prices_and_context_window.json``
  (copy at ``../shared/pricing/litellm_model_prices.json``; its entries cite
  developers.openai.com/api/docs/pricing and ai.google.dev/gemini-api/docs/pricing), per-token
  costs x 1,000,000, including its ``*_above_272k_tokens`` / ``*_above_200k_tokens``,
  ``*_flex`` and ``*_priority`` fields. Gemini rows use the Gemini API (``gemini/``) keys.
* Anthropic rows: Anthropic's pricing page (platform.claude.com/docs/en/about-claude/pricing:
  base input, 5-minute writes at 1.25x, 1-hour writes at 2x, cache hits at 0.1x, output); the
  map agrees where it has first-party keys. Claude Haiku 3: $0.25 / $0.30 / $0.50 / $0.03 /
  $1.25 (the map's Vertex/Bedrock keys have no cache prices; reads and writes were billed at
  $0.25 before).
* DeepSeek rows: DeepSeek's "Models & Pricing" page (api-docs.deepseek.com/quick_start/
  pricing). deepseek-v4-pro and deepseek-flash are billed at peak rates ($1.32 / $0.044 /
  $3.96 and $0.30 / $0.006 / $1.20) 01:00-04:00 and 06:00-10:00 UTC on weekdays and at half
  those rates at all other times (Chinese public holidays, also off-peak, are not modelled:
  they bill at peak, the safe direction). deepseek-v3.2 (served as deepseek-chat /
  deepseek-reasoner) is $0.28 / $0.028 / $0.42 with a 128K window; the map's
  "deepseek/deepseek-v3.2" entry ($0.40, 163,840 tokens) describes the open-weights model at
  other hosts, not DeepSeek's API.

Deliberately left out: codename and specialty variants whose numbers look inconsistent with
their family in that map (e.g. claude-*-5-5, claude-mythos/fable, gpt-5.6-sol/-luna, gpt-6-*);
load them with ``PriceBook.from_litellm`` if you need them.
"""

from __future__ import annotations

from typing import Any, Final

from langchain_tiered.pricing.price import ModelPrice
from langchain_tiered.pricing.schedule import TimeWindow

__all__ = ["BUILTIN_PRICES", "PRICES_AS_OF", "PRICES_SOURCE", "PriceRow"]

PRICES_AS_OF: Final = "2026-11-30"
"""Date the table's prices were last checked against their sources."""

PRICES_SOURCE: Final = (
    "LiteLLM model_prices_and_context_window.json (https://github.com/BerriAI/litellm) for "
    "OpenAI and Google, Anthropic's and DeepSeek's pricing pages; checked " + PRICES_AS_OF
)
"""Where the built-in numbers come from."""

PriceRow = tuple[ModelPrice, int | None, int | None]
"""Price, then context window and max output tokens."""

# DeepSeek: peak 01:00-04:00 and 06:00-10:00 UTC Monday-Friday; every other hour is off-peak.
_DEEPSEEK_OFF_PEAK = (
    TimeWindow(weekdays=(1, 2, 3, 4, 5), hours_utc=("00:00-01:00", "04:00-06:00", "10:00-00:00")),
    TimeWindow(weekdays=(6, 7), hours_utc=("00:00-00:00",)),
)


def _p(
    inp: float,
    out: float,
    cached: float | None = None,
    write: float | None = None,
    write_1h: float | None = None,
    *,
    reasoning: float | None = None,
    above: dict[int, ModelPrice] | None = None,
    tiers: dict[str, ModelPrice] | None = None,
    off_peak: ModelPrice | None = None,
) -> ModelPrice:
    extra: dict[str, Any] = {}
    if off_peak is not None:
        extra = {"off_peak": off_peak, "off_peak_windows": _DEEPSEEK_OFF_PEAK}
    return ModelPrice(
        input_per_mtok=inp,
        output_per_mtok=out,
        cached_input_per_mtok=cached,
        cache_write_per_mtok=write,
        cache_write_1h_per_mtok=write_1h,
        reasoning_per_mtok=reasoning,
        long_context=above or {},
        service_tiers=tiers or {},
        **extra,
    )


BUILTIN_PRICES: Final[dict[str, PriceRow]] = {
    # OpenAI: bare first-party keys. The -pro models are Responses-API models, listed so that
    # they never fall back to a cheaper sibling's price.
    "gpt-4o": (_p(2.5, 10.0, 1.25, tiers={"priority": _p(4.25, 17.0, 2.125)}), 128_000, 16_384),
    "gpt-4o-2024-05-13": (_p(5.0, 15.0, tiers={"priority": _p(8.75, 26.25)}), 128_000, 4_096),
    "gpt-4o-mini": (
        _p(0.15, 0.6, 0.075, tiers={"priority": _p(0.25, 1.0, 0.125)}),
        128_000,
        16_384,
    ),
    "gpt-4.1": (_p(2.0, 8.0, 0.5, tiers={"priority": _p(3.5, 14.0, 0.875)}), 1_047_576, 32_768),
    "gpt-4.1-mini": (_p(0.4, 1.6, 0.1, tiers={"priority": _p(0.7, 2.8, 0.175)}), 1_047_576, 32_768),
    "gpt-4.1-nano": (
        _p(0.1, 0.4, 0.025, tiers={"priority": _p(0.2, 0.8, 0.05)}),
        1_047_576,
        32_768,
    ),
    "gpt-5": (
        _p(
            1.25,
            10.0,
            0.125,
            tiers={"flex": _p(0.625, 5.0, 0.0625), "priority": _p(2.5, 20.0, 0.25)},
        ),
        272_000,
        128_000,
    ),
    "gpt-5-mini": (
        _p(
            0.25,
            2.0,
            0.025,
            tiers={"flex": _p(0.125, 1.0, 0.0125), "priority": _p(0.45, 3.6, 0.045)},
        ),
        272_000,
        128_000,
    ),
    "gpt-5-nano": (_p(0.05, 0.4, 0.005, tiers={"flex": _p(0.025, 0.2, 0.0025)}), 272_000, 128_000),
    "gpt-5-chat-latest": (_p(1.25, 10.0, 0.125), 128_000, 16_384),
    "gpt-5-pro": (_p(15.0, 120.0), 400_000, 272_000),
    "gpt-5-codex": (_p(1.25, 10.0, 0.125), 272_000, 128_000),
    "gpt-5.1": (
        _p(
            1.25,
            10.0,
            0.125,
            tiers={"flex": _p(0.625, 5.0, 0.0625), "priority": _p(2.5, 20.0, 0.25)},
        ),
        272_000,
        128_000,
    ),
    "gpt-5.1-chat-latest": (_p(1.25, 10.0, 0.125), 128_000, 16_384),
    "gpt-5.2": (
        _p(
            1.75,
            14.0,
            0.175,
            tiers={"flex": _p(0.875, 7.0, 0.0875), "priority": _p(3.5, 28.0, 0.35)},
        ),
        272_000,
        128_000,
    ),
    "gpt-5.2-chat-latest": (_p(1.75, 14.0, 0.175), 128_000, 16_384),
    "gpt-5.4": (
        _p(
            2.5,
            15.0,
            0.25,
            above={272_000: _p(5.0, 22.5, 0.5)},
            tiers={
                "flex": _p(1.25, 7.5, 0.13, above={272_000: _p(2.5, 11.25, 0.25)}),
                "priority": _p(5.0, 30.0, 0.5),
            },
        ),
        1_050_000,
        128_000,
    ),
    "gpt-5.4-mini": (
        _p(
            0.75,
            4.5,
            0.075,
            tiers={"flex": _p(0.375, 2.25, 0.0375), "priority": _p(1.5, 9.0, 0.15)},
        ),
        272_000,
        128_000,
    ),
    "gpt-5.4-nano": (_p(0.2, 1.25, 0.02, tiers={"flex": _p(0.1, 0.625, 0.01)}), 272_000, 128_000),
    "gpt-5.5": (
        _p(
            5.0,
            30.0,
            0.5,
            above={272_000: _p(10.0, 45.0, 1.0)},
            tiers={
                "flex": _p(2.5, 15.0, 0.25, above={272_000: _p(5.0, 22.5, 0.5)}),
                "priority": _p(12.5, 75.0, 1.25),
            },
        ),
        1_050_000,
        128_000,
    ),
    "gpt-5.6": (
        _p(
            4.0,
            20.0,
            0.4,
            5.0,
            10.0,
            above={272_000: _p(8.0, 30.0, 0.8, 10.0, 20.0)},
            tiers={
                "flex": _p(
                    2.0, 10.0, 0.2, 2.5, 5.0, above={272_000: _p(4.0, 15.0, 0.4, 5.0, 10.0)}
                ),
                "priority": _p(
                    8.0, 40.0, 0.8, 10.0, 20.0, above={272_000: _p(16.0, 60.0, 1.6, 20.0, 40.0)}
                ),
            },
        ),
        922_000,
        128_000,
    ),
    "o1": (_p(15.0, 60.0, 7.5), 200_000, 100_000),
    "o1-pro": (_p(150.0, 600.0), 200_000, 100_000),
    "o3": (
        _p(2.0, 8.0, 0.5, tiers={"flex": _p(1.0, 4.0, 0.25), "priority": _p(3.5, 14.0, 0.875)}),
        200_000,
        100_000,
    ),
    "o3-mini": (_p(1.1, 4.4, 0.55), 200_000, 100_000),
    "o3-pro": (_p(20.0, 80.0), 200_000, 100_000),
    "o4-mini": (
        _p(1.1, 4.4, 0.275, tiers={"flex": _p(0.55, 2.2, 0.138), "priority": _p(2.0, 8.0, 0.5)}),
        200_000,
        100_000,
    ),
    "gpt-4-turbo": (_p(10.0, 30.0), 128_000, 4_096),
    "gpt-4": (_p(30.0, 60.0), 8_192, 4_096),
    "gpt-3.5-turbo": (_p(0.5, 1.5), 16_385, 4_096),
    # Anthropic (see the module docstring).
    "claude-opus-4-8": (_p(5.0, 25.0, 0.5, 6.25, 10.0), 1_000_000, 128_000),
    "claude-opus-4-7": (_p(5.0, 25.0, 0.5, 6.25, 10.0), 1_000_000, 128_000),
    "claude-opus-4-6": (_p(5.0, 25.0, 0.5, 6.25, 10.0), 1_000_000, 128_000),
    "claude-opus-4-5": (_p(5.0, 25.0, 0.5, 6.25, 10.0), 200_000, 64_000),
    "claude-opus-5": (_p(5.0, 25.0, 0.5, 6.25, 10.0), 1_000_000, 128_000),
    "claude-opus-4-1": (_p(15.0, 75.0, 1.5, 18.75, 30.0), 200_000, 32_000),
    "claude-opus-4": (_p(15.0, 75.0, 1.5, 18.75, 30.0), 200_000, 32_000),
    "claude-sonnet-5": (_p(2.0, 10.0, 0.2, 2.5, 4.0), 1_000_000, 128_000),
    "claude-sonnet-4-6": (_p(3.0, 15.0, 0.3, 3.75, 6.0), 1_000_000, 128_000),
    "claude-sonnet-4-5": (_p(3.0, 15.0, 0.3, 3.75, 6.0), 200_000, 64_000),
    "claude-sonnet-4": (_p(3.0, 15.0, 0.3, 3.75, 6.0), 200_000, 64_000),
    "claude-3-7-sonnet": (_p(3.0, 15.0, 0.3, 3.75, 6.0), 200_000, 8_192),
    "claude-3-5-sonnet": (_p(3.0, 15.0, 0.3, 3.75, 6.0), 200_000, 8_192),
    "claude-haiku-4-5": (_p(1.0, 5.0, 0.1, 1.25, 2.0), 200_000, 64_000),
    "claude-3-5-haiku": (_p(0.8, 4.0, 0.08, 1.0, 1.6), 200_000, 8_192),
    "claude-3-haiku": (_p(0.25, 1.25, 0.03, 0.3, 0.5), 200_000, 4_096),
    "claude-3-opus": (_p(15.0, 75.0, 1.5, 18.75, 30.0), 200_000, 4_096),
    # DeepSeek bills cache writes as ordinary input, hence no write price.
    "deepseek-chat": (_p(0.28, 0.42, 0.028), 131_072, 8_192),
    "deepseek-reasoner": (_p(0.28, 0.42, 0.028), 131_072, 65_536),
    "deepseek-v3.2": (_p(0.28, 0.42, 0.028), 131_072, 65_536),
    "deepseek-v4-pro": (_p(1.32, 3.96, 0.044, off_peak=_p(0.66, 1.98, 0.022)), 1_000_000, 393_216),
    "deepseek-v4-flash": (_p(0.3, 1.2, 0.006, off_peak=_p(0.15, 0.6, 0.003)), 1_000_000, 393_216),
    "deepseek-flash": (_p(0.3, 1.2, 0.006, off_peak=_p(0.15, 0.6, 0.003)), 1_000_000, 393_216),
    # Google: Gemini API prices; gemini-2.0 from "vertex_ai/" (no window in the map).
    "gemini-2.5-pro": (
        _p(
            1.25,
            10.0,
            0.125,
            above={200_000: _p(2.5, 15.0, 0.25)},
            tiers={
                "flex": _p(0.625, 5.0, 0.125, above={200_000: _p(1.25, 7.5, 0.25)}),
                "priority": _p(2.25, 18.0, 0.225, above={200_000: _p(4.5, 27.0, 0.45)}),
            },
        ),
        1_048_576,
        65_536,
    ),
    "gemini-2.5-flash": (
        _p(
            0.3,
            2.5,
            0.03,
            tiers={
                "flex": _p(0.15, 1.25, 0.03, reasoning=2.5),
                "priority": _p(0.54, 4.5, 0.054, reasoning=2.5),
            },
        ),
        1_048_576,
        65_536,
    ),
    "gemini-2.5-flash-lite": (
        _p(
            0.1,
            0.4,
            0.01,
            tiers={
                "flex": _p(0.05, 0.2, 0.01, reasoning=0.4),
                "priority": _p(0.18, 0.72, 0.018, reasoning=0.4),
            },
        ),
        1_048_576,
        65_536,
    ),
    "gemini-2.0-flash": (_p(0.15, 0.6), None, None),
    "gemini-2.0-flash-lite": (_p(0.075, 0.3), None, None),
    "gemini-3-pro-preview": (
        _p(
            2.0,
            12.0,
            0.2,
            above={200_000: _p(4.0, 18.0, 0.4, 0.25)},
            tiers={"priority": _p(3.6, 21.6, 0.36, above={200_000: _p(7.2, 32.4, 0.72)})},
        ),
        1_048_576,
        65_535,
    ),
    "gemini-3.1-pro-preview": (
        _p(
            2.0,
            12.0,
            0.2,
            above={200_000: _p(4.0, 18.0, 0.4)},
            tiers={
                "flex": _p(1.0, 6.0, 0.2, above={200_000: _p(2.0, 9.0, 0.4)}),
                "priority": _p(3.6, 21.6, 0.36, above={200_000: _p(7.2, 32.4, 0.72)}),
            },
        ),
        1_048_576,
        65_536,
    ),
    "gemini-3-flash-preview": (
        _p(
            0.5,
            3.0,
            0.05,
            tiers={
                "flex": _p(0.25, 1.5, 0.05, reasoning=3.0),
                "priority": _p(0.9, 5.4, 0.09, reasoning=3.0),
            },
        ),
        1_048_576,
        65_536,
    ),
    "gemini-3.1-flash-lite": (
        _p(
            0.25,
            1.5,
            0.025,
            tiers={
                "flex": _p(0.125, 0.75, 0.0125, reasoning=1.5),
                "priority": _p(0.45, 2.7, 0.045, reasoning=1.5),
            },
        ),
        1_048_576,
        65_536,
    ),
    "gemini-3.5-flash": (
        _p(
            1.5,
            9.0,
            0.15,
            tiers={
                "flex": _p(0.75, 4.5, 0.08, reasoning=9.0),
                "priority": _p(2.7, 16.2, 0.27, reasoning=9.0),
            },
        ),
        1_048_576,
        65_536,
    ),
    "gemini-3.5-flash-lite": (
        _p(
            0.3,
            2.5,
            0.03,
            tiers={
                "flex": _p(0.15, 1.25, 0.02, reasoning=2.5),
                "priority": _p(0.54, 4.5, 0.05, reasoning=2.5),
            },
        ),
        1_048_576,
        65_536,
    ),
}
