"""Settled cost never exceeds the reserved worst case, for every usage shape we have (issue 10).

The worst case is priced from the prompt count and the output cap sent; a provider bills at
most that many input and output tokens. So for every usage shape in the test data (the
recorded cassettes, converted by the integrations' own parsers, and the fakes' shapes), and
for a plain price and one with every component the price book knows (cache reads and writes,
reasoning, per-request fees, long-context tiers), settling the usage against a worst case
whose bounds it respects must cost no more than that worst case and must not be flagged.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from anthropic.types import Usage as AnthropicUsage
from langchain_anthropic.chat_models import _create_usage_metadata as anthropic_usage
from langchain_core.messages import AIMessage
from langchain_openai.chat_models.base import (
    _create_usage_metadata as openai_usage,
)
from langchain_openai.chat_models.base import (
    _create_usage_metadata_responses as responses_usage,
)

from langchain_tiered import ModelPrice, PriceBook, Tier, TieredChatModel
from langchain_tiered._call.drivers import drive
from langchain_tiered._call.settle import settle_call
from langchain_tiered._call.state import Selected
from langchain_tiered.preflight import preflight
from langchain_tiered.routing import RouteDecision
from langchain_tiered.testing import FakeClock
from tests.unit_tests.fakes import FakeTier, usage

CASSETTES = Path(__file__).resolve().parents[2] / "cassettes"

EVERY_COMPONENT = ModelPrice(
    input_per_mtok=3.0,
    output_per_mtok=15.0,
    cached_input_per_mtok=0.3,
    cache_write_per_mtok=3.75,
    cache_write_1h_per_mtok=6.0,
    reasoning_per_mtok=20.0,
    per_request_usd=0.0001,
    long_context={200_000: ModelPrice(input_per_mtok=6.0, output_per_mtok=22.5)},
)


def _json_objects(body: str) -> Iterator[Any]:
    try:
        yield json.loads(body)
    except ValueError:
        for line in body.splitlines():  # server-sent events
            if line.startswith("data:") and line[5:].strip() not in ("", "[DONE]"):
                try:
                    yield json.loads(line[5:])
                except ValueError:
                    continue


def _usages(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        for name, value in node.items():
            if name == "usage" and isinstance(value, dict):
                yield value
            else:
                yield from _usages(value)
    elif isinstance(node, list):
        for item in node:
            yield from _usages(item)


def _convert(raw: dict[str, Any], uri: str) -> dict[str, Any] | None:
    if "prompt_tokens" in raw:
        return dict(openai_usage(raw))
    if uri.endswith("/responses") and "input_tokens" in raw:
        return dict(responses_usage(raw))
    if "anthropic" in uri and "input_tokens" in raw:
        return dict(anthropic_usage(AnthropicUsage.model_validate(raw)))
    return None  # a partial shape (e.g. Anthropic's output-only message_delta)


def recorded_shapes() -> list[dict[str, Any]]:
    shapes = []
    for path in sorted(CASSETTES.rglob("*.yaml")):
        for interaction in yaml.safe_load(path.read_text())["interactions"]:
            body = interaction["response"]["body"].get("string") or ""
            if isinstance(body, bytes):
                body = body.decode("utf-8", "replace")
            uri = interaction["request"]["uri"]
            for obj in _json_objects(body):
                for raw in _usages(obj):
                    shape = _convert(raw, uri)
                    if shape is not None:
                        shapes.append(shape)
    return shapes


FAKE_SHAPES = [
    usage(10, 2),
    usage(1000, 200),
    usage(1000, 200, cache_read=900),
    usage(500, 300, reasoning=250),
    {
        "input_tokens": 3000,
        "output_tokens": 50,
        "total_tokens": 3050,
        "input_token_details": {"cache_creation": 2000, "cache_read": 500},
    },
    {
        "input_tokens": 250_000,
        "output_tokens": 10,
        "total_tokens": 250_010,
        "input_token_details": {"ephemeral_1h_input_tokens": 1000, "cache_creation": 1000},
    },
]


def _settle(model: TieredChatModel, shape: dict[str, Any]) -> dict[str, Any]:
    """Settle ``shape`` on a worst case priced from its own input and output counts."""
    rt = model._rt
    profile = rt.profiles[0]
    inp, out = shape["input_tokens"], shape["output_tokens"]
    pre = preflight(profile, inp, inp, call_cap=out, decision_cap=None)
    sel = Selected(
        profile=profile,
        decision=RouteDecision(tier="t", reason="test"),
        pre=pre,
        reservation=None,
        budget_keys=(),
        result=None,
        attempts=[],
        skipped=[],
        call_kwargs={},
    )
    message = AIMessage(content="x", usage_metadata=shape)  # type: ignore[arg-type]
    meta = drive(settle_call(rt, sel, message), clock=rt.clock, ledger=None, run_manager=None)
    return dict(meta)


def test_the_test_data_holds_enough_usage_shapes() -> None:
    shapes = recorded_shapes()
    assert len(shapes) >= 10
    assert any("input_token_details" in s for s in shapes)


@pytest.mark.parametrize("price", [EVERY_COMPONENT, PriceBook.default().price_for("gpt-4o")])
def test_every_usage_shape_settles_within_its_worst_case(price: ModelPrice) -> None:
    fake = FakeTier(model_name="m")
    model = TieredChatModel(tiers=[Tier(name="t", model=fake, price=price)], clock=FakeClock())
    for shape in [*recorded_shapes(), *FAKE_SHAPES]:
        meta = _settle(model, shape)
        assert meta["cost_usd"] <= meta["estimated_cost_usd"], shape
        assert meta["overspend"] is False, shape
        assert meta["cost_usd"] > 0, shape
