"""Issue 12 ("cost truth II"): one test per item, on recorded or constructed usage shapes.

Each test names the figure the package produced before the fix (``before``) and asserts the
one it produces now, computed by hand from the list prices in the comment.
"""

from __future__ import annotations

import warnings
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from anthropic.types import CacheCreation, Usage
from langchain_anthropic.chat_models import _create_usage_metadata as anthropic_usage
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage
from langchain_openai import ChatOpenAI

from langchain_tiered import PricingError, Tier, TieredChatModel
from langchain_tiered.pricing import (
    ModelPrice,
    PriceBook,
    PriceImportWarning,
    cache_writes_for,
    usage_tokens,
)
from langchain_tiered.tokens import count_openai_messages
from langchain_tiered.tokens.images import claude_image_tokens, image_tokens

M = 1e6
SONNET = PriceBook.default().price_for("claude-sonnet-4-5")  # 3 / 15, 5m 3.75, 1h 6, read 0.3


def _anthropic_message_usage(*, uncached: int, read: int, five: int, hour: int, out: int) -> Any:
    """usage_metadata exactly as langchain-anthropic builds it from the current API's usage."""
    usage = Usage(
        input_tokens=uncached,
        output_tokens=out,
        cache_read_input_tokens=read,
        cache_creation_input_tokens=five + hour,
        cache_creation=CacheCreation(
            ephemeral_5m_input_tokens=five, ephemeral_1h_input_tokens=hour
        ),
    )
    return anthropic_usage(usage)


# --------------------------------------------------------------------------- 1: cache writes


@pytest.mark.parametrize(
    ("five", "hour", "write_rate", "before"),
    [
        # before: the writes were billed at the $3 input price (cache_creation reported as 0)
        pytest.param(5000, 0, 3.75, 0.036, id="5m-writes"),  # after 0.03975: was 9.4% low
        pytest.param(0, 5000, 6.0, 0.036, id="1h-writes"),  # after 0.051: was 29.4% low
    ],
)
def test_anthropic_cache_writes_priced_by_ttl(
    five: int, hour: int, write_rate: float, before: float
) -> None:
    usage = _anthropic_message_usage(uncached=0, read=20_000, five=five, hour=hour, out=1000)
    assert usage["input_tokens"] == 25_000
    assert usage["input_token_details"]["cache_creation"] == 0  # the shape that fooled us
    expected = 5000 * write_rate / M + 20_000 * 0.3 / M + 1000 * 15 / M
    assert SONNET.cost(usage) == pytest.approx(expected, rel=1e-12)
    old = ModelPrice(input_per_mtok=3.0, output_per_mtok=15.0, cached_input_per_mtok=0.3)
    assert old.cost(usage) == pytest.approx(before, rel=1e-12)  # writes billed as input


def test_anthropic_write_split_read_from_raw_usage_when_metadata_has_only_the_total() -> None:
    # An older langchain-anthropic kept only cache_creation; the raw usage has the split.
    usage = {"input_tokens": 10_000, "output_tokens": 0,
             "input_token_details": {"cache_creation": 10_000, "cache_read": 0}}  # fmt: skip
    raw = {"usage": {"cache_creation": {"ephemeral_5m_input_tokens": 4000,
                                        "ephemeral_1h_input_tokens": 6000}}}  # fmt: skip
    assert SONNET.cost(usage, response_metadata=raw) == pytest.approx(
        (4000 * 3.75 + 6000 * 6.0) / M, rel=1e-12
    )
    assert SONNET.cost(usage) == pytest.approx(10_000 * 3.75 / M, rel=1e-12)


# --------------------------------------------------------------------------- 2: long context


@pytest.mark.parametrize(
    ("model", "low", "high"),
    [
        ("gpt-5.4", (2.5, 15.0), (5.0, 22.5)),  # above 272k
        ("gpt-5.5", (5.0, 30.0), (10.0, 45.0)),
        ("gemini-2.5-pro", (1.25, 10.0), (2.5, 15.0)),  # above 200k
        ("gemini-3.1-pro-preview", (2.0, 12.0), (4.0, 18.0)),
    ],
)
def test_long_context_tier_in_worst_case_and_cost(
    model: str, low: tuple[float, float], high: tuple[float, float]
) -> None:
    price = PriceBook.default().price_for(model)
    before = (400_000 * low[0] + 4096 * low[1]) / M  # the base rate for every prompt size
    after = (400_000 * high[0] + 4096 * high[1]) / M
    assert price.worst_case(400_000, 4096) == pytest.approx(after, rel=1e-12)
    usage = {"input_tokens": 400_000, "output_tokens": 4096}
    assert price.cost(usage) == pytest.approx(after, rel=1e-12)
    assert before < 0.55 * after  # about 49% low before
    # A prompt below the threshold keeps the base price.
    small = {"input_tokens": 100_000, "output_tokens": 4096}
    assert price.cost(small) == pytest.approx((100_000 * low[0] + 4096 * low[1]) / M, rel=1e-12)


def test_long_context_tier_starts_above_its_threshold() -> None:
    # "Above 272k": a prompt of exactly 272,000 tokens still bills at the base rates.
    price = PriceBook.default().price_for("gpt-5.4")
    at_threshold = {"input_tokens": 272_000, "output_tokens": 1000}
    above = {"input_tokens": 272_001, "output_tokens": 1000}
    assert price.cost(at_threshold) == pytest.approx((272_000 * 2.5 + 1000 * 15.0) / M)
    assert price.cost(above) == pytest.approx((272_001 * 5.0 + 1000 * 22.5) / M)
    assert price.worst_case(272_000, 1000) == pytest.approx(price.cost(at_threshold))


def test_tiered_cost_uses_the_whole_call_tier_and_worst_case_covers_lower_tiers() -> None:
    price = ModelPrice(
        input_per_mtok=1.0,
        output_per_mtok=2.0,
        long_context={1000: ModelPrice(input_per_mtok=0.5, output_per_mtok=4.0)},
    )
    # A cheaper input rate above the threshold: the worst case must still bound a prompt that
    # turns out to be below it, so every rate is the max over the tiers it may fall in.
    assert price.worst_case(2000, 10) == pytest.approx((2000 * 1.0 + 10 * 4.0) / M)
    assert price.cost({"input_tokens": 2000, "output_tokens": 10}) == pytest.approx(
        (2000 * 0.5 + 10 * 4.0) / M
    )


# --------------------------------------------------------------------------- 3: worst case


def test_worst_case_bounds_a_prompt_written_to_cache() -> None:
    gpt56 = PriceBook.default().price_for("gpt-5.6")  # input 4, write 5, 12h write 10, out 20
    written = {"input_tokens": 100_000, "output_tokens": 1000,
               "input_token_details": {"cache_creation": 100_000}}  # fmt: skip
    settled = gpt56.cost(written)
    assert settled == pytest.approx(0.52, rel=1e-12)
    before = (100_000 * 4 + 1000 * 20) / M  # 0.42: reserved less than it settled
    assert before < settled
    writes = cache_writes_for("gpt-5.6", [HumanMessage("x")], {})
    assert writes == "5m"
    assert gpt56.worst_case(100_000, 1000, cache_writes=writes) >= settled
    # Extended retention asked for: the 12-hour write price bounds it.
    extended = cache_writes_for("gpt-5.6", [], {"prompt_cache_retention": "24h"})
    assert gpt56.worst_case(100_000, 1000, cache_writes=extended) == pytest.approx(1.02)


def test_claude_worst_case_carries_the_write_premium_only_with_breakpoints() -> None:
    plain = [HumanMessage("hello")]
    marked = [HumanMessage([{"type": "text", "text": "big doc",
                             "cache_control": {"type": "ephemeral"}}])]  # fmt: skip
    hour = [HumanMessage([{"type": "text", "text": "big doc",
                           "cache_control": {"type": "ephemeral", "ttl": "1h"}}])]  # fmt: skip
    assert cache_writes_for("claude-sonnet-4-5", plain, {}) == "none"
    assert cache_writes_for("anthropic:claude-sonnet-4-5", marked, {}) == "5m"
    assert cache_writes_for("claude-sonnet-4-5", hour, {}) == "1h"
    assert cache_writes_for("claude-sonnet-4-5", plain, {"cache_control": {"ttl": "1h"}}) == "1h"
    assert SONNET.worst_case(10_000, 0, cache_writes="none") == pytest.approx(0.03)
    assert SONNET.worst_case(10_000, 0, cache_writes="5m") == pytest.approx(0.0375)
    assert SONNET.worst_case(10_000, 0, cache_writes="1h") == pytest.approx(0.06)
    assert SONNET.worst_case(10_000, 0, cache_writes="any") == pytest.approx(0.06)
    assert SONNET.worst_case(10_000, 0) == pytest.approx(0.03)  # default: no write premium


# --------------------------------------------------------------------------- 4: DeepSeek


def _openai_compatible_message(body: dict[str, Any], model: str) -> AIMessage:
    """Parse a chat-completion body the way ChatOpenAI(base_url=...) does."""
    chat = ChatOpenAI(model=model, api_key="sk-test", base_url="http://localhost:1")  # type: ignore[arg-type]
    result = chat._create_chat_result(body)
    message = result.generations[0].message
    message.response_metadata.update(result.llm_output or {})
    assert isinstance(message, AIMessage)
    return message


def _body(model: str, usage: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "x",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": "ok"}}],
        "usage": usage,
    }  # fmt: skip


def test_deepseek_cache_hits_read_from_raw_usage() -> None:
    usage = {"prompt_tokens": 10_000, "completion_tokens": 500, "total_tokens": 10_500,
             "prompt_cache_hit_tokens": 9000, "prompt_cache_miss_tokens": 1000}  # fmt: skip
    message = _openai_compatible_message(_body("deepseek-chat", usage), "deepseek-chat")
    assert message.usage_metadata is not None
    assert message.usage_metadata.get("input_token_details", {}).get("cache_read", 0) == 0
    price = PriceBook.default().price_for("deepseek-chat")  # 0.28 / hit 0.028 / 0.42
    before = price.cost(message.usage_metadata)
    after = price.cost(message.usage_metadata, response_metadata=message.response_metadata)
    assert before == pytest.approx((10_000 * 0.28 + 500 * 0.42) / M)  # 0.00301
    assert after == pytest.approx((1000 * 0.28 + 9000 * 0.028 + 500 * 0.42) / M)  # 0.000742
    assert usage_tokens(message.usage_metadata, message.response_metadata)["cached_tokens"] == 9000


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param({"cached_tokens": 600}, id="moonshot-top-level"),
        pytest.param({"prompt_tokens_details": {"cached_tokens": 600}}, id="openai-style"),
    ],
)
def test_other_openai_compatible_cache_shapes(raw: dict[str, Any]) -> None:
    price = ModelPrice(input_per_mtok=1.0, output_per_mtok=2.0, cached_input_per_mtok=0.1)
    usage = {"input_tokens": 1000, "output_tokens": 0}
    meta = {"token_usage": {"prompt_tokens": 1000, **raw}}
    assert price.cost(usage, response_metadata=meta) == pytest.approx((400 + 60) / M)


# --------------------------------------------------------------------------- 5: service tier


def test_flex_and_priority_priced_from_the_response() -> None:
    nano = PriceBook.default().price_for("gpt-5-nano")  # 0.05/0.40, flex 0.025/0.20
    recorded = {  # the real gpt-5-nano flex recording, as langchain-openai parses it
        "input_tokens": 8, "output_tokens": 296, "total_tokens": 304,
        "input_token_details": {"audio": 0, "flex_cache_read": 0, "flex": 8},
        "output_token_details": {"audio": 0, "flex_reasoning": 256, "flex": 40},
    }  # fmt: skip
    before = (8 * 0.05 + 296 * 0.40) / M  # 0.0001188, +100%
    assert nano.cost(recorded) == pytest.approx((8 * 0.025 + 296 * 0.20) / M)  # 0.0000594
    assert nano.cost(recorded) == pytest.approx(before / 2)
    gpt5 = PriceBook.default().price_for("gpt-5")  # priority 2.5 / 20
    usage = {"input_tokens": 1000, "output_tokens": 1000}
    assert gpt5.cost(usage, response_metadata={"service_tier": "priority"}) == pytest.approx(
        (1000 * 2.5 + 1000 * 20) / M
    )
    assert gpt5.cost(usage, response_metadata={"service_tier": "default"}) == pytest.approx(
        (1000 * 1.25 + 1000 * 10) / M
    )
    assert gpt5.worst_case(1000, 1000, service_tier="priority") == pytest.approx(0.0225)


# --------------------------------------------------------------------------- 6: time of day


def test_deepseek_off_peak_priced_by_the_clock() -> None:
    pro = PriceBook.default().price_for("deepseek-v4-pro")  # peak 1.32/3.96, off-peak half
    usage = {"input_tokens": 1_000_000, "output_tokens": 1_000_000}
    monday_peak = datetime(2026, 11, 30, 2, 0, tzinfo=timezone.utc)  # Monday 02:00 UTC
    monday_evening = datetime(2026, 11, 30, 20, 0, tzinfo=timezone.utc)
    saturday = datetime(2026, 11, 28, 3, 0, tzinfo=timezone.utc)
    assert pro.cost(usage, at=monday_peak) == pytest.approx(1.32 + 3.96)
    assert pro.cost(usage, at=monday_evening) == pytest.approx(0.66 + 1.98)
    assert pro.cost(usage, at=saturday) == pytest.approx(0.66 + 1.98)
    assert pro.cost(usage) == pytest.approx(1.32 + 3.96)  # no clock: peak
    assert pro.worst_case(1_000_000, 1_000_000) == pytest.approx(1.32 + 3.96)


# --------------------------------------------------------------------------- 7: images


def test_claude_image_tokens_follow_anthropic_formula() -> None:
    assert claude_image_tokens((1092, 1092)) == 1590  # Anthropic's table: ~1590
    assert claude_image_tokens((200, 200)) == 54  # ~54
    assert claude_image_tokens((1000, 1000)) == 1334  # ~1334
    assert claude_image_tokens(None) == 1600  # unknown size: the largest image
    # The OpenAI tile formula gave 765 for 1000x1000 (0.57x), 85 at low detail.
    assert image_tokens((1000, 1000), "high") == 765
    url = "https://example.com/cat.png"
    message = [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]}]
    text = [{"role": "user", "content": ""}]
    claude = count_openai_messages(message, model="claude-sonnet-4-5")
    assert claude - count_openai_messages(text, model="claude-sonnet-4-5") == 1600


def test_gpt5_tile_tokens_are_70_and_140() -> None:
    url = "https://example.com/cat.png"  # unknown size: 8 tiles
    message = [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]}]
    text = [{"role": "user", "content": ""}]
    for model in ("gpt-5", "gpt-5.4", "gpt-5-chat-latest"):
        extra = count_openai_messages(message, model=model) - count_openai_messages(
            text, model=model
        )
        assert extra == 70 + 8 * 140, model  # 1190, was 85 + 8 * 170 = 1445
    assert image_tokens((4000, 4000), "original") == 10_000  # capped patch budget


# --------------------------------------------------------------------------- 8: names


DOTTED = ["claude-opus-4.7", "anthropic/claude-sonnet-4.5", "claude-3.5-haiku",
          "openrouter/anthropic/claude-opus-4.1"]  # fmt: skip


@pytest.mark.parametrize("name", DOTTED)
def test_dotted_claude_names_are_priced(name: str) -> None:
    price = PriceBook.default().price_for(name)
    dashed = name.rsplit("/", 1)[-1].replace(".", "-")
    assert price == PriceBook.default().price_for(dashed)


def test_model_with_dotted_name_builds() -> None:
    fake = GenericFakeChatModel(messages=iter([AIMessage("hi")]))
    object.__setattr__(fake, "model_name", "claude-opus-4.7")
    try:
        TieredChatModel(tiers=[Tier(name="only", model=fake)])
    except PricingError as exc:  # pragma: no cover - the failure this test guards against
        pytest.fail(f"dotted Claude name not priced: {exc}")


# --------------------------------------------------------------------------- 9: prices


def test_rechecked_prices() -> None:
    book = PriceBook.default()
    v32 = book.lookup("deepseek-v3.2")
    assert v32 is not None
    assert (v32.price.input_per_mtok, v32.price.output_per_mtok) == (0.28, 0.42)  # was 0.40
    assert v32.context_window == 131_072  # DeepSeek's 128K, was 163,840
    haiku3 = book.price_for("claude-3-haiku-20240307")
    assert (haiku3.cached_input_per_mtok, haiku3.cache_write_per_mtok) == (0.03, 0.3)
    assert haiku3.cache_write_1h_per_mtok == 0.5  # were None: billed at $0.25
    pro = book.price_for("deepseek-v4-pro")
    assert (pro.input_per_mtok, pro.output_per_mtok) == (1.32, 3.96)  # DeepSeek's peak rates
    assert pro.off_peak is not None
    assert (pro.off_peak.input_per_mtok, pro.off_peak.output_per_mtok) == (0.66, 1.98)


# --------------------------------------------------------------------------- 10: from_litellm


def test_from_litellm_imports_structure_and_reports_the_rest(tmp_path: Path) -> None:
    import json

    data = {
        "m-tiers": {
            "mode": "chat", "litellm_provider": "openai",
            "input_cost_per_token": 2e-06, "output_cost_per_token": 8e-06,
            "cache_read_input_token_cost": 5e-07,
            "input_cost_per_token_flex": 1e-06, "output_cost_per_token_flex": 4e-06,
            "input_cost_per_token_priority": 4e-06, "output_cost_per_token_priority": 1.6e-05,
            "input_cost_per_token_above_272k_tokens": 4e-06,
            "output_cost_per_token_above_272k_tokens": 1.2e-05,
            "input_cost_per_token_batches": 1e-06,
            "regional_processing_uplift_multiplier_eu": 1.1,
            "search_context_cost_per_query": {"search_context_size_low": 0.01},
        },
        "claude-x": {
            "mode": "chat", "input_cost_per_token": 3e-06, "output_cost_per_token": 1.5e-05,
            "cache_creation_input_token_cost": 3.75e-06,
            "cache_creation_input_token_cost_above_1hr": 6e-06,
            "cache_read_input_token_cost": 3e-07,
        },
        "sonar-online": {"mode": "chat", "input_cost_per_token": 0,
                         "output_cost_per_token": 1e-06, "input_cost_per_request": 0.005},
        "qwen-tiered": {"mode": "chat", "input_cost_per_token": 4e-07,
                        "output_cost_per_token": 1.2e-06, "input_cost_per_audio_token": 1e-06,
                        "tiered_pricing": [
                            {"input_cost_per_token": 4e-07, "output_cost_per_token": 1.2e-06,
                             "range": [0, 256000]},
                            {"input_cost_per_token": 1.2e-06, "output_cost_per_token": 3.6e-06,
                             "range": [256000, 1000000]}]},
    }  # fmt: skip
    path = tmp_path / "map.json"
    path.write_text(json.dumps(data))
    with pytest.warns(PriceImportWarning) as caught:
        book = PriceBook.from_litellm(path)
    text = str(caught[0].message)
    assert "m-tiers" in text
    assert "search_context_cost_per_query" in text
    assert "qwen-tiered" in text
    assert "input_cost_per_audio_token" in text
    summary = book.import_summary
    assert summary is not None
    assert summary.imported == 4
    assert set(summary.incomplete) == {"m-tiers", "qwen-tiered"}
    tiers = book.price_for("m-tiers")
    assert tiers.service_tiers["flex"].input_per_mtok == 1.0
    assert tiers.service_tiers["priority"].output_per_mtok == 16.0
    assert tiers.long_context[272_000].output_per_mtok == 12.0
    assert book.price_for("claude-x").cache_write_1h_per_mtok == 6.0
    assert book.price_for("sonar-online").cost({"input_tokens": 10, "output_tokens": 0}) == 0.005
    assert book.price_for("qwen-tiered").long_context[256_000].input_per_mtok == 1.2
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        eu = PriceBook.from_litellm(path, region="eu", warn=False)
    assert eu.price_for("m-tiers").input_per_mtok == pytest.approx(2.2)
    assert eu.price_for("claude-x").input_per_mtok == 3.0  # no EU uplift on that entry


def test_claude_breakpoints_are_found_anywhere_in_a_long_history() -> None:
    """The skip for plain string messages never hides a breakpoint elsewhere in the message."""
    history: list[Any] = []
    for i in range(100):
        history += [HumanMessage(f"question {i}"), AIMessage(f"answer {i}")]
    assert cache_writes_for("claude-sonnet-4-5", history, {}) == "none"
    # A string content with the breakpoint in additional_kwargs, mid-history.
    kwargs_marked = AIMessage("x", additional_kwargs={"cache_control": {"ttl": "1h"}})
    assert (
        cache_writes_for("claude-sonnet-4-5", [*history[:50], kwargs_marked, *history[50:]], {})
        == "1h"
    )
    # A block list mid-history, and a plain dict message.
    block = HumanMessage([{"type": "text", "text": "doc", "cache_control": {"type": "ephemeral"}}])
    assert cache_writes_for("claude-sonnet-4-5", [*history, block, history[0]], {}) == "5m"
    as_dict = {"role": "user", "content": [{"type": "text", "text": "d", "cache_control": {}}]}
    assert cache_writes_for("claude-sonnet-4-5", [*history, as_dict], {}) == "5m"
    # A content reassigned in place to blocks is seen on the next look.
    edited = HumanMessage("plain")
    assert cache_writes_for("claude-sonnet-4-5", [edited], {}) == "none"
    edited.content = [{"type": "text", "text": "d", "cache_control": {"ttl": "1h"}}]
    assert cache_writes_for("claude-sonnet-4-5", [edited], {}) == "1h"


def test_claude_breakpoints_on_message_fields_that_are_computed() -> None:
    class Note:
        """A message-like object whose content is computed (not in its instance dict)."""

        def __init__(self) -> None:
            self.kind = "note"

        @property
        def content(self) -> list[dict[str, Any]]:
            return [{"type": "text", "text": "d", "cache_control": {"ttl": "1h"}}]

    class Marked:
        """A string content in its instance dict, extra kwargs computed."""

        def __init__(self) -> None:
            self.content = "plain"

        @property
        def additional_kwargs(self) -> dict[str, Any]:
            return {"cache_control": {"type": "ephemeral"}}

    assert cache_writes_for("claude-sonnet-4-5", [Note()], {}) == "1h"
    assert cache_writes_for("claude-sonnet-4-5", [Marked()], {}) == "5m"
