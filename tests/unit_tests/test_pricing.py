"""Tests for langchain_tiered.pricing: prices, cost arithmetic, name matching, LiteLLM import."""

from __future__ import annotations

import atexit
import gzip
import json
import math
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from langchain_openai.chat_models.base import _create_usage_metadata
from pydantic import ValidationError

from langchain_tiered.errors import PricingError, TieredError
from langchain_tiered.pricing import (
    PRICES_AS_OF,
    PRICES_SOURCE,
    ModelInfo,
    ModelPrice,
    PriceBook,
    PriceImportWarning,
    normalize_model_name,
)
from langchain_tiered.pricing.table import BUILTIN_PRICES

REPO = Path(__file__).resolve().parents[2]
# A gzip copy of ../shared/pricing/litellm_model_prices.json (LiteLLM's public price map)
# ships with the tests, so they run in any checkout; unpacked once per run.
_LITELLM_GZ = REPO / "tests" / "data" / "litellm_model_prices.json.gz"
_UNPACKED = Path(tempfile.mkdtemp(prefix="litellm-"))
atexit.register(shutil.rmtree, _UNPACKED, ignore_errors=True)
LITELLM_MAP = _UNPACKED / "litellm_model_prices.json"
LITELLM_MAP.write_bytes(gzip.decompress(_LITELLM_GZ.read_bytes()))
CASSETTE_NAME = "lssdk__test_openai_test_wrap_openai_chat_tokens.yaml"
CASSETTE = REPO / "cassettes" / "real" / "openai" / CASSETTE_NAME
APPROX = {"rel": 1e-12, "abs": 0.0}

FIELDS = ["input_per_mtok", "output_per_mtok", "cached_input_per_mtok", "cache_write_per_mtok"]


def _flat_fields(price: ModelPrice) -> tuple[float | None, ...]:
    return (
        price.input_per_mtok,
        price.output_per_mtok,
        price.cached_input_per_mtok,
        price.cache_write_per_mtok,
        price.cache_write_1h_per_mtok,
    )


def _usage(
    inp: int, out: int, *, read: int = 0, write: int = 0, reasoning: int = 0
) -> dict[str, Any]:
    return {
        "input_tokens": inp,
        "output_tokens": out,
        "total_tokens": inp + out,
        "input_token_details": {"cache_read": read, "cache_creation": write},
        "output_token_details": {"reasoning": reasoning},
    }


# --------------------------------------------------------------------------- ModelPrice


@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize("bad", [-0.01, math.nan, math.inf, -math.inf])
def test_model_price_rejects_bad_values_naming_the_field(field: str, bad: float) -> None:
    kwargs: dict[str, float] = {"input_per_mtok": 1.0, "output_per_mtok": 2.0, field: bad}
    with pytest.raises(ValidationError, match=field):
        ModelPrice(**kwargs)


def test_model_price_accepts_zero_and_is_frozen() -> None:
    price = ModelPrice(input_per_mtok=0.0, output_per_mtok=0.0)
    assert price.cached_input_per_mtok is None
    assert price.cache_write_per_mtok is None
    with pytest.raises(ValidationError):
        price.input_per_mtok = 5.0  # type: ignore[misc]
    with pytest.raises(ValidationError):
        ModelPrice(input_per_mtok=1.0, output_per_mtok=1.0, input_price=3.0)  # type: ignore[call-arg]
    assert hash(price) == hash(ModelPrice(input_per_mtok=0.0, output_per_mtok=0.0))


@pytest.mark.parametrize(
    ("price", "usage", "expected"),
    [
        pytest.param(
            ModelPrice(input_per_mtok=3.0, output_per_mtok=15.0),
            _usage(1000, 500),
            1000 * 3.0 / 1e6 + 500 * 15.0 / 1e6,
            id="plain",
        ),
        pytest.param(
            ModelPrice(input_per_mtok=2.5, output_per_mtok=10.0, cached_input_per_mtok=1.25),
            _usage(2000, 100, read=1500),
            500 * 2.5 / 1e6 + 1500 * 1.25 / 1e6 + 100 * 10.0 / 1e6,
            id="openai-cache-read",
        ),
        pytest.param(
            ModelPrice(
                input_per_mtok=3.0,
                output_per_mtok=15.0,
                cached_input_per_mtok=0.3,
                cache_write_per_mtok=3.75,
            ),
            _usage(10_000, 200, read=6000, write=3000),
            1000 * 3.0 / 1e6 + 6000 * 0.3 / 1e6 + 3000 * 3.75 / 1e6 + 200 * 15.0 / 1e6,
            id="anthropic-cache-read-and-write",
        ),
        pytest.param(
            ModelPrice(input_per_mtok=1.0, output_per_mtok=2.0),
            _usage(1000, 0, read=400, write=100),
            1000 * 1.0 / 1e6,
            id="no-cache-prices-bill-as-input",
        ),
        pytest.param(
            ModelPrice(input_per_mtok=1.1, output_per_mtok=4.4),
            _usage(42, 2119, reasoning=1472),
            42 * 1.1 / 1e6 + 2119 * 4.4 / 1e6,
            id="reasoning-already-in-output",
        ),
        pytest.param(
            ModelPrice(input_per_mtok=1.0, output_per_mtok=2.0, cached_input_per_mtok=0.5),
            _usage(100, 10, read=150),
            150 * 0.5 / 1e6 + 10 * 2.0 / 1e6,
            id="cache-read-above-input-clamps-remainder",
        ),
        pytest.param(
            ModelPrice(input_per_mtok=1.0, output_per_mtok=2.0),
            {"input_tokens": None, "output_tokens": 7},
            7 * 2.0 / 1e6,
            id="missing-fields-are-zero",
        ),
        pytest.param(
            ModelPrice(input_per_mtok=1.0, output_per_mtok=2.0),
            {"input_tokens": -5, "output_tokens": -5},
            0.0,
            id="negative-counts-never-negative-cost",
        ),
    ],
)
def test_cost_exact(price: ModelPrice, usage: dict[str, Any], expected: float) -> None:
    assert price.cost(usage) == pytest.approx(expected, **APPROX)


def test_cost_counts_service_tier_prefixed_cache_reads() -> None:
    # langchain-openai reports flex/priority calls as "flex_cache_read" etc.
    price = ModelPrice(input_per_mtok=1.0, output_per_mtok=2.0, cached_input_per_mtok=0.1)
    usage = {
        "input_tokens": 1000,
        "output_tokens": 0,
        "input_token_details": {"flex_cache_read": 600, "flex": 400},
    }
    assert price.cost(usage) == pytest.approx(400 * 1.0 / 1e6 + 600 * 0.1 / 1e6, **APPROX)


def test_worst_case() -> None:
    price = ModelPrice(input_per_mtok=5.0, output_per_mtok=25.0, cached_input_per_mtok=0.5)
    assert price.worst_case(10_000, 4096) == pytest.approx(
        10_000 * 5.0 / 1e6 + 4096 * 25.0 / 1e6, **APPROX
    )
    assert price.worst_case(0, 0) == 0.0
    with pytest.raises(ValueError, match="non-negative"):
        price.worst_case(-1, 10)
    with pytest.raises(ValueError, match="non-negative"):
        price.worst_case(1, -10)


def test_model_info_validates_limits() -> None:
    price = ModelPrice(input_per_mtok=1.0, output_per_mtok=1.0)
    with pytest.raises(ValueError, match="context_window"):
        ModelInfo(price=price, context_window=0)
    with pytest.raises(ValueError, match="max_output_tokens"):
        ModelInfo(price=price, max_output_tokens=-1)


# --------------------------------------------------------------------------- names


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("gpt-4.1", "gpt-4.1"),
        ("  GPT-4o  ", "gpt-4o"),
        ("openai:gpt-4.1", "gpt-4.1"),
        ("openai/gpt-4.1", "gpt-4.1"),
        ("anthropic/claude-sonnet-4-5", "claude-sonnet-4-5"),
        ("anthropic:claude-sonnet-4-5", "claude-sonnet-4-5"),
        ("azure/gpt-4o", "gpt-4o"),
        ("azure_openai:gpt-4o", "gpt-4o"),
        ("google_genai:gemini-2.5-pro", "gemini-2.5-pro"),
        ("models/gemini-2.5-pro", "gemini-2.5-pro"),
        ("bedrock/us-east-1/anthropic.claude-3-5-sonnet-20240620-v1:0",
         "claude-3-5-sonnet-20240620-v1:0"),
        ("us.anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5-20250929-v1:0"),
        ("openrouter/deepseek/deepseek-chat", "deepseek-chat"),
        ("vertex_ai/claude-3-5-sonnet@20240620", "claude-3-5-sonnet@20240620"),
        # Not providers: model tags keep their colon; a fine-tune keeps "ft:" and its base
        # (LiteLLM's key for fine-tuned prices), never the base model's own price key.
        ("ft:gpt-4o-mini-2024-07-18:org::abc", "ft:gpt-4o-mini-2024-07-18"),
        ("openai:ft:gpt-4o-mini-2024-07-18:org:x:abc", "ft:gpt-4o-mini-2024-07-18"),
        ("llama3:8b", "llama3:8b"),
        ("gemma:latest", "gemma:latest"),
        # Claude versions as people and OpenRouter write them (issue 12, item 8).
        ("claude-opus-4.7", "claude-opus-4-7"),
        ("anthropic/claude-sonnet-4.5", "claude-sonnet-4-5"),
        ("openrouter/anthropic/claude-3.5-haiku", "claude-3-5-haiku"),
    ],
)  # fmt: skip
def test_normalize_model_name(raw: str, expected: str) -> None:
    assert normalize_model_name(raw) == expected


def _tagged(tag: float) -> ModelPrice:
    return ModelPrice(input_per_mtok=tag, output_per_mtok=tag)


TAGGED = {
    "gpt-4o": 1.0,
    "gpt-4o-mini": 2.0,
    "gpt-4.1": 3.0,
    "gpt-4.1-nano": 4.0,
    "claude-3-5-sonnet": 5.0,
    "claude-sonnet-4-5": 6.0,
    "gemini-2.5-flash": 7.0,
    "gemini-2.5-flash-lite": 8.0,
    "o3": 9.0,
    "azure/gpt-4o": 10.0,
    "gpt-5": 11.0,
}


@pytest.mark.parametrize(
    ("query", "tag"),
    [
        ("gpt-4o", 1.0),
        ("GPT-4o", 1.0),
        ("openai:gpt-4o", 1.0),
        ("openai/gpt-4o", 1.0),
        ("azure/gpt-4o", 10.0),  # an exact provider-specific key wins
        ("gpt-4o-2024-08-06", 1.0),
        ("gpt-4o-mini", 2.0),
        ("gpt-4o-mini-2024-07-18", 2.0),  # longest prefix, not gpt-4o
        ("openai:gpt-4o-mini-2024-07-18", 2.0),
        ("gpt-4.1-2025-04-14", 3.0),
        ("gpt-4.1-nano", 4.0),
        ("gpt-4.1-nano-2025-04-14", 4.0),
        ("claude-3-5-sonnet-20241022", 5.0),
        ("claude-3-5-sonnet-latest", 5.0),
        ("claude-3-5-sonnet@20240620", 5.0),
        ("vertex_ai/claude-3-5-sonnet@20240620", 5.0),
        ("bedrock/us-east-1/anthropic.claude-3-5-sonnet-20240620-v1:0", 5.0),
        ("anthropic/claude-sonnet-4-5-20250929", 6.0),
        ("us.anthropic.claude-sonnet-4-5-20250929-v1:0", 6.0),
        ("gemini-2.5-flash-preview-09-2025", 7.0),
        ("gemini-2.5-flash-lite-preview-09-2025", 8.0),
        ("o3-2025-04-16", 9.0),
        ("gpt-5-0807", 11.0),
    ],
)
def test_lookup_matches(query: str, tag: float) -> None:
    book = PriceBook({name: _tagged(t) for name, t in TAGGED.items()})
    info = book.lookup(query)
    assert info is not None
    assert info.price.input_per_mtok == tag
    assert query in book


@pytest.mark.parametrize(
    "query",
    [
        None,
        "",
        "gpt-4",  # shorter than a known name
        "gpt-4o-audio-preview",  # a different model, not a snapshot of gpt-4o
        "gpt-4o-realtime-preview-2024-12-17",
        "gpt-5-pro",  # must never inherit gpt-5's price
        "gpt-5-mini",
        "gpt-4.10",  # no "-" boundary
        "o3-mini",
        "o3x",
        "claude-3-5-sonnetx",
        "claude-3-5-haiku-20241022",
        "ft:gpt-4o-mini-2024-07-18:org::abc",  # fine-tunes are priced differently
        "deepseek-chat",
        "llama3:8b",
    ],
)
def test_lookup_misses(query: str | None) -> None:
    book = PriceBook({name: _tagged(t) for name, t in TAGGED.items()})
    assert book.lookup(query) is None
    assert query not in book


def test_default_book_resolves_real_names() -> None:
    book = PriceBook.default()
    expected = {
        "gpt-4o-mini-2024-07-18": "gpt-4o-mini",
        "openai:gpt-4.1": "gpt-4.1",
        "gpt-4.1-nano-2025-04-14": "gpt-4.1-nano",
        "gpt-5-pro-2025-10-06": "gpt-5-pro",
        "gpt-4o-2024-05-13": "gpt-4o-2024-05-13",  # the older, pricier snapshot is its own row
        "anthropic:claude-sonnet-4-5-20250929": "claude-sonnet-4-5",
        "claude-opus-4-1-20250805": "claude-opus-4-1",
        "claude-3-5-sonnet-latest": "claude-3-5-sonnet",
        "claude-haiku-4-5-20251001": "claude-haiku-4-5",
        "deepseek/deepseek-v4-pro": "deepseek-v4-pro",
        "deepseek-v3.2": "deepseek-v3.2",
        "google_genai:gemini-2.5-flash-lite": "gemini-2.5-flash-lite",
    }
    for query, key in expected.items():
        assert book.lookup(query) is book.lookup(key), query


# --------------------------------------------------------------------------- default table


def test_default_table_sanity() -> None:
    book = PriceBook.default()
    assert book is PriceBook.default()  # cached
    assert len(book) == len(BUILTIN_PRICES) >= 50
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", PRICES_AS_OF)
    assert PRICES_AS_OF in PRICES_SOURCE
    for name in book:
        info = book.lookup(name)
        assert info is not None, name
        price = info.price
        assert price.input_per_mtok > 0, name
        assert price.output_per_mtok > 0, name
        if price.cached_input_per_mtok is not None:
            assert 0 < price.cached_input_per_mtok <= price.input_per_mtok, name
        if price.cache_write_per_mtok is not None:
            assert price.cache_write_per_mtok >= price.input_per_mtok, name
        assert name == normalize_model_name(name), name


@pytest.mark.parametrize(
    "name",
    [
        "gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano", "gpt-5",
        "gpt-5-mini", "gpt-5-nano", "o3", "o4-mini", "claude-opus-4-5", "claude-opus-4-1",
        "claude-sonnet-4-5", "claude-sonnet-4", "claude-haiku-4-5", "deepseek-chat",
        "deepseek-reasoner", "deepseek-v3.2", "deepseek-v4-pro", "gemini-2.5-pro",
        "gemini-2.5-flash", "gemini-2.5-flash-lite",
    ],
)  # fmt: skip
def test_default_table_has_required_models(name: str) -> None:
    info = PriceBook.default().lookup(name)
    assert info is not None
    assert info.context_window is not None


def test_default_table_spot_prices() -> None:
    book = PriceBook.default()
    assert _flat_fields(book.price_for("gpt-4o")) == (2.5, 10.0, 1.25, None, None)
    assert book.price_for("gpt-4o").service_tiers["priority"].input_per_mtok == 4.25
    assert _flat_fields(book.price_for("claude-sonnet-4-5")) == (3.0, 15.0, 0.3, 3.75, 6.0)
    info = book.lookup("deepseek-v4-pro")
    assert info is not None
    assert (info.price.input_per_mtok, info.price.output_per_mtok) == (1.32, 3.96)
    assert info.context_window == 1_000_000


# --------------------------------------------------------------------------- PriceBook API


def test_price_for_unknown_fails_closed_with_fix() -> None:
    book = PriceBook.default()
    with pytest.raises(PricingError) as excinfo:
        book.price_for("my-private-model")
    err = excinfo.value
    assert isinstance(err, TieredError)
    assert err.model_name == "my-private-model"
    message = str(err)
    assert "'my-private-model'" in message
    assert "Tier(price=ModelPrice(" in message
    assert "PriceBook.from_litellm(path)" in message
    assert "with_prices(" in message
    with pytest.raises(PricingError, match="without a name"):
        book.price_for(None)


def test_with_prices_and_merged_precedence() -> None:
    base = PriceBook({"gpt-4o": _tagged(1.0), "o3": _tagged(9.0)})
    override = base.with_prices({"openai:gpt-4o": _tagged(2.0), "new-model": _tagged(3.0)})
    assert base.price_for("gpt-4o").input_per_mtok == 1.0  # unchanged
    assert "new-model" not in base
    assert override.price_for("gpt-4o").input_per_mtok == 2.0
    assert override.price_for("gpt-4o-2024-08-06").input_per_mtok == 2.0
    assert override.price_for("o3").input_per_mtok == 9.0
    assert override.price_for("new-model").input_per_mtok == 3.0
    assert len(override) == 3  # "gpt-4o" is replaced by "openai:gpt-4o"

    other = PriceBook({"o3": ModelInfo(price=_tagged(7.0), context_window=1000)})
    merged = base.merged(other)
    info = merged.lookup("o3")
    assert info is not None
    assert (info.price.input_per_mtok, info.context_window) == (7.0, 1000)
    assert other.merged(base).price_for("o3").input_per_mtok == 9.0

    # An override of the bare name also wins over a provider-specific key of the older book.
    provider_specific = PriceBook({"azure/gpt-4o": _tagged(5.0), "gpt-4o": _tagged(1.0)})
    assert provider_specific.price_for("azure/gpt-4o").input_per_mtok == 5.0
    overridden = provider_specific.with_prices({"gpt-4o": _tagged(6.0)})
    assert overridden.price_for("azure/gpt-4o").input_per_mtok == 6.0
    assert overridden.price_for("gpt-4o").input_per_mtok == 6.0


def test_constructor_collisions_prefer_bare_then_first_party_then_expensive() -> None:
    book = PriceBook(
        {"azure/m-1": _tagged(5.0), "m-1": _tagged(1.0), "openai/m-2": _tagged(2.0)}
        | {"someproxy/m-2": _tagged(8.0), "a/m-3": _tagged(3.0), "b/m-3": _tagged(4.0)}
    )
    assert book.price_for("m-1").input_per_mtok == 1.0
    assert book.price_for("m-2").input_per_mtok == 2.0
    assert book.price_for("m-3").input_per_mtok == 4.0
    with pytest.raises(TypeError, match="ModelInfo or ModelPrice"):
        PriceBook({"x": 1.0})  # type: ignore[dict-item]


def test_lookup_is_memoized(monkeypatch: pytest.MonkeyPatch) -> None:
    book = PriceBook({"gpt-4o": _tagged(1.0)})
    calls: list[str] = []
    original = PriceBook._resolve

    def counting(self: PriceBook, model: str) -> ModelInfo | None:
        calls.append(model)
        return original(self, model)

    monkeypatch.setattr(PriceBook, "_resolve", counting)
    first = book.lookup("openai:gpt-4o-2024-08-06")
    for _ in range(100):
        assert book.lookup("openai:gpt-4o-2024-08-06") is first
        assert book.lookup("unknown-model") is None
    assert calls == ["openai:gpt-4o-2024-08-06", "unknown-model"]


def test_memo_is_bounded() -> None:
    book = PriceBook({"gpt-4o": _tagged(1.0)})
    for i in range(10_000):
        book.lookup(f"gpt-4o-{20240000 + i}")
    assert len(book._memo) <= 4096
    assert book.lookup("gpt-4o") is not None


# --------------------------------------------------------------------------- LiteLLM


def test_from_litellm_rules(tmp_path: Path) -> None:
    data = {
        "sample_spec": {"mode": "chat", "input_cost_per_token": 0.0, "output_cost_per_token": 0.0},
        "good-model": {
            "mode": "chat",
            "input_cost_per_token": 1.1e-06,
            "output_cost_per_token": 4.4e-06,
            "cache_read_input_token_cost": 2.75e-07,
            "cache_creation_input_token_cost": 0.0,  # 0 means "not given", not free
            "max_input_tokens": 200000,
            "max_output_tokens": "lots",
            "litellm_provider": "openai",
        },
        "resp-model": {"mode": "responses", "input_cost_per_token": 1.5e-05,
                       "output_cost_per_token": 1.2e-04},
        "no-mode-alias": {"input_cost_per_token": 1e-06, "output_cost_per_token": 1e-06},
        "embedder": {"mode": "embedding", "input_cost_per_token": 1e-07,
                     "output_cost_per_token": 0.0},
        "placeholder": {"mode": "chat", "input_cost_per_token": 0, "output_cost_per_token": 0},
        "string-cost": {"mode": "chat", "input_cost_per_token": "1e-6",
                        "output_cost_per_token": 1e-06},
        "bool-cost": {"mode": "chat", "input_cost_per_token": True,
                      "output_cost_per_token": 1e-06},
        "negative": {"mode": "chat", "input_cost_per_token": -1e-06,
                     "output_cost_per_token": 1e-06},
        "not-a-dict": "chat",
    }  # fmt: skip
    path = tmp_path / "prices.json"
    path.write_text(json.dumps(data))
    book = PriceBook.from_litellm(path)
    assert sorted(book) == ["good-model", "resp-model"]
    info = book.lookup("good-model-2025-04-16")
    assert info == ModelInfo(
        price=ModelPrice(input_per_mtok=1.1, output_per_mtok=4.4, cached_input_per_mtok=0.275),
        context_window=200_000,
        max_output_tokens=None,
    )
    assert book.price_for("resp-model").output_per_mtok == 120.0

    bad = tmp_path / "list.json"
    bad.write_text("[]")
    with pytest.raises(PricingError, match="not a LiteLLM price map"):
        PriceBook.from_litellm(str(bad))


needs_map = pytest.mark.skipif(not LITELLM_MAP.exists(), reason="LiteLLM map copy missing")


@needs_map
def test_from_litellm_real_map(monkeypatch: pytest.MonkeyPatch) -> None:
    reads: list[Path] = []
    original = Path.read_bytes

    def counting(self: Path) -> bytes:
        reads.append(self)
        return original(self)

    monkeypatch.setattr(Path, "read_bytes", counting)
    with pytest.warns(PriceImportWarning, match="search_context_cost_per_query"):
        book = PriceBook.from_litellm(LITELLM_MAP)
    assert reads == [LITELLM_MAP]  # read once (its speed is a benchmark's business, not a test's)

    raw = json.loads(LITELLM_MAP.read_text())
    imported = set(book)
    modes = [v.get("mode") for k, v in raw.items() if k.lower() in imported]
    # Snapshot of 2026-11-28: 3,331 chat + 174 responses entries have numeric costs; the 78 chat
    # entries priced at $0/$0 are skipped.
    assert len(book) == 3427
    assert modes.count("chat") == 3253
    assert modes.count("responses") == 174


@needs_map
@pytest.mark.parametrize(
    ("query", "prices", "window"),
    [
        ("gpt-4o", (2.5, 10.0, 1.25, None), 128_000),
        ("openai/gpt-4o-2024-08-06", (2.5, 10.0, 1.25, None), 128_000),
        ("gpt-4o-mini-2024-07-18", (0.15, 0.6, 0.075, None), 128_000),
        ("claude-sonnet-4-5", (3.0, 15.0, 0.3, 3.75), 200_000),
        ("anthropic:claude-opus-4-5-20251101", (5.0, 25.0, 0.5, 6.25), 200_000),
        ("deepseek-chat", (0.28, 0.42, 0.028, None), 131_072),
        ("deepseek-v3.2", (0.28, 0.4, 0.028, None), 163_840),  # via "deepseek/deepseek-v3.2"
        ("gemini-2.5-pro", (1.25, 10.0, 0.125, None), 1_048_576),
        ("gemini/gemini-2.5-flash", (0.3, 2.5, 0.03, None), 1_048_576),
        ("us.anthropic.claude-sonnet-4-6", (3.3, 16.5, 0.33, 4.125), 1_000_000),  # regional key
    ],
)
def test_from_litellm_spot_prices(
    query: str, prices: tuple[float, float, float | None, float | None], window: int
) -> None:
    info = _litellm_book().lookup(query)
    assert info is not None
    assert _flat_fields(info.price)[:4] == prices
    assert info.context_window == window


@needs_map
def test_from_litellm_agrees_with_default_table_for_first_party_names() -> None:
    litellm, default = _litellm_book(), PriceBook.default()
    for name in ["gpt-4.1", "gpt-5-nano", "o4-mini", "claude-haiku-4-5", "deepseek-reasoner"]:
        assert litellm.price_for(name) == default.price_for(name), name


_LITELLM_CACHE: list[PriceBook] = []


def _litellm_book() -> PriceBook:
    if not _LITELLM_CACHE:
        _LITELLM_CACHE.append(PriceBook.from_litellm(LITELLM_MAP, warn=False))
    return _LITELLM_CACHE[0]


# --------------------------------------------------------------------------- recorded usage


def _recorded_chat_completions() -> list[dict[str, Any]]:
    cassette = yaml.safe_load(CASSETTE.read_text())
    bodies = [i["response"]["body"]["string"] for i in cassette["interactions"]]
    return [json.loads(b) for b in bodies if b.lstrip().startswith("{")]


def test_cassette_is_present_and_clean() -> None:
    text = CASSETTE.read_text().lower()
    for secret in ("authorization:", "bearer ", "sk-", "set-cookie", "openai-organization:"):
        assert secret not in text


def test_cost_of_recorded_openai_usage_matches_hand_computation() -> None:
    book = PriceBook.default()
    # Hand-computed at the default table's standard list prices (USD/Mtok):
    # gpt-4o-mini 0.15/0.60; o4-mini 1.10/4.40. Reasoning tokens are part of
    # completion_tokens and are not added again. The gpt-5-nano call ran on the "flex" tier
    # (service_tier "flex" in the response): billed at flex rates 0.025/0.20 (issue 12, item 5;
    # the standard 0.05/0.40 billed it +100%).
    expected = {
        "gpt-4o-mini-2024-07-18": (9, 9, 0, 9 * 0.15 / 1e6 + 9 * 0.6 / 1e6),
        "o4-mini-2025-04-16": (42, 2119, 1472, 42 * 1.1 / 1e6 + 2119 * 4.4 / 1e6),
        "gpt-5-nano-2025-08-07": (8, 296, 256, 8 * 0.025 / 1e6 + 296 * 0.2 / 1e6),
    }
    responses = _recorded_chat_completions()
    assert sorted(r["model"] for r in responses) == sorted(expected)
    for response in responses:
        usage = _create_usage_metadata(response["usage"], response.get("service_tier"))
        inp, out, reasoning, cost = expected[response["model"]]
        assert (usage["input_tokens"], usage["output_tokens"]) == (inp, out)
        details = usage.get("output_token_details", {})
        assert sum(v for k, v in details.items() if k.endswith("reasoning")) == reasoning
        assert book.price_for(response["model"]).cost(usage) == pytest.approx(cost, **APPROX)


# --------------------------------------------------------------------------- time windows


def test_time_window_ranges_weekdays_and_zones() -> None:
    from datetime import datetime, timezone

    from langchain_tiered.pricing import TimeWindow

    weekday = TimeWindow(weekdays=(1, 2, 3, 4, 5), hours_utc=("00:00-01:00", "10:00-00:00"))
    monday = datetime(2026, 11, 30, tzinfo=timezone.utc)  # a Monday
    assert weekday.covers(monday.replace(hour=0, minute=59))
    assert not weekday.covers(monday.replace(hour=1))
    assert weekday.covers(monday.replace(hour=23, minute=59))  # "10:00-00:00" runs to midnight
    assert not weekday.covers(monday.replace(day=29, hour=12))  # Sunday
    assert weekday.covers(datetime(2026, 11, 30, 12))  # naive = UTC
    wrap = TimeWindow(hours_utc=("22:00-02:00",))
    assert wrap.covers(monday.replace(hour=23))
    assert wrap.covers(monday.replace(hour=1))
    assert not wrap.covers(monday.replace(hour=12))
    # Sunday 20:00 UTC is Monday 04:00 in Shanghai: the weekday is read there.
    shanghai = TimeWindow(weekdays=(1,), weekday_timezone="Asia/Shanghai")
    assert shanghai.covers(datetime(2026, 11, 29, 20, tzinfo=timezone.utc))
    for bad in ({"hours_utc": ("25:00-01:00",)}, {"hours_utc": ("9-10",)}, {"weekdays": (0,)},
                {"weekday_timezone": "Mars/Olympus"}):  # fmt: skip
        with pytest.raises(ValidationError):
            TimeWindow(**bad)


def test_off_peak_needs_windows_and_flat_prices() -> None:
    with pytest.raises(ValidationError, match="together"):
        ModelPrice(input_per_mtok=1, output_per_mtok=1, off_peak=_tagged(0.5))
    nested = ModelPrice(input_per_mtok=1, output_per_mtok=1, service_tiers={"flex": _tagged(1)})
    with pytest.raises(ValidationError, match="flat"):
        ModelPrice(input_per_mtok=1, output_per_mtok=1, long_context={1000: nested})
    with pytest.raises(ValidationError, match="positive"):
        ModelPrice(input_per_mtok=1, output_per_mtok=1, long_context={0: _tagged(1)})


def test_malformed_off_peak_entry_is_reported_not_fatal(tmp_path: Path) -> None:
    data = {"ds": {"mode": "chat", "input_cost_per_token": 1e-06, "output_cost_per_token": 2e-06,
                   "off_peak_pricing": {"input_cost_per_token": 5e-07,
                                        "output_cost_per_token": 1e-06,
                                        "weekday_timezone": "Nowhere/Land",
                                        "windows": [{"hours_utc": "00:00-00:00",
                                                     "weekdays": [6, 7]}]}}}  # fmt: skip
    path = tmp_path / "m.json"
    path.write_text(json.dumps(data))
    with pytest.warns(PriceImportWarning, match="off_peak_pricing"):
        book = PriceBook.from_litellm(path)
    assert book.price_for("ds").off_peak is None  # priced at peak: the safe direction


def test_one_name_normaliser_for_prices_and_tokenizers() -> None:
    from langchain_tiered.tokens import encoding_for_model
    from langchain_tiered.tokens.models import normalize_model_name as tokens_normalize

    assert tokens_normalize is normalize_model_name
    fine_tune = "ft:gpt-4o-mini-2024-07-18:acme::abc123"
    assert normalize_model_name(fine_tune) == "ft:gpt-4o-mini-2024-07-18"
    assert encoding_for_model(fine_tune).family == "openai-o200k"  # counted like its base
    assert encoding_for_model("claude-opus-4.7").family == "anthropic"
