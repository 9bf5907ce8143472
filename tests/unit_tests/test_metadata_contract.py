"""Every key the engine puts into ``response_metadata["tiered"]`` is declared in its TypedDict.

Drives the call shapes that add keys of their own (invoke, stream, a cascade sync and
streamed, a fallback, an unknown outcome charged, structured output) and checks the emitted
dicts - nested attempts, skips and cascade steps included - against
:class:`~langchain_tiered.metadata.TieredMetadata`, so the documented contract cannot drift
from the engine again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from langchain_core.exceptions import ModelRateLimitError
from langchain_core.messages import AIMessage, BaseMessage
from pydantic import BaseModel

from langchain_tiered import Budget, Tier, TieredChatModel
from langchain_tiered.cascade import Cascade, CascadeStep, Matches
from langchain_tiered.fallbacks import RetryPolicy
from langchain_tiered.metadata import AttemptInfo, SkipInfo, TieredMetadata
from langchain_tiered.testing import FakeClock
from tests.unit_tests.fakes import PRICES, FakeTier, usage

GOOD = AIMessage(content="The answer is 42.", usage_metadata=usage(20, 10))
BAD = AIMessage(content="no idea", usage_metadata=usage(20, 5))


def declared(typed: type) -> tuple[set[str], set[str]]:
    """(all keys, required keys) of a TypedDict written with string annotations."""
    hints: dict[str, Any] = typed.__annotations__
    optional = {k for k, v in hints.items() if str(v).find("NotRequired[") != -1}
    return set(hints), set(hints) - optional


def check(meta: Mapping[str, Any]) -> set[str]:
    """Assert ``meta`` and its nested records fit their TypedDicts; return its keys."""
    keys, required = declared(TieredMetadata)
    assert set(meta) <= keys, f"undeclared keys: {sorted(set(meta) - keys)}"
    assert required <= set(meta), f"declared keys missing: {sorted(required - set(meta))}"
    for field, typed in (("attempts", AttemptInfo), ("skipped", SkipInfo)):
        for item in meta[field]:
            assert set(item) == declared(typed)[0], (field, sorted(item))
    for step in meta.get("steps", ()):
        assert set(step) == declared(CascadeStep)[0], sorted(step)
    return set(meta)


def tiers(scripts: dict[str, list[Any]]) -> list[Tier]:
    return [
        Tier(name=n, model=FakeTier(model_name=n, script=scripts.get(n, [GOOD])), price=PRICES[n])
        for n in PRICES
    ]


def rate_limited() -> ModelRateLimitError:
    return ModelRateLimitError("429 too many requests")


def tiered(message: BaseMessage) -> Mapping[str, Any]:
    meta: Mapping[str, Any] = message.response_metadata["tiered"]
    return meta


def test_invoke_and_stream_emit_only_declared_keys() -> None:
    model = TieredChatModel(tiers=tiers({}), clock=FakeClock())
    plain = check(tiered(model.invoke("hi", tier="budget")))
    chunks = list(model.stream("hi", tier="budget"))
    streamed = check(tiered(chunks[-1]))
    assert {"latency_s", "billed_tokens"} <= plain
    assert "ttft_s" in streamed


def test_fallback_and_unknown_outcome_emit_only_declared_keys() -> None:
    scripts: dict[str, list[Any]] = {
        "critical": [rate_limited()],
        "standard": [ConnectionError("reset"), GOOD],
    }
    model = TieredChatModel(
        tiers=tiers(scripts),
        budget=Budget(limit_usd=10.0),
        retry=RetryPolicy(max_attempts=1),
        clock=FakeClock(),
    )
    meta = tiered(model.invoke("hi", tier="critical"))
    check(meta)
    assert meta["fallback_triggered"] is True
    assert [a["cause"] for a in meta["attempts"]] == ["rate_limit", "connection", None]
    assert meta["unknown_outcome_usd"] > 0


class Answer(BaseModel):
    answer: int


def test_structured_output_emits_only_declared_keys() -> None:
    call = AIMessage(
        content="",
        tool_calls=[{"name": "Answer", "args": {"answer": 42}, "id": "c1"}],
        usage_metadata=usage(10, 5),
    )
    model = TieredChatModel(tiers=tiers({"budget": [call]}), clock=FakeClock())
    structured = model.with_structured_output(Answer, method="json_schema", include_raw=True)
    result = structured.invoke("hi", config={"metadata": {"tier": "budget"}})
    assert result["parsed"] == Answer(answer=42)
    keys = check(tiered(result["raw"]))
    assert {"structured_output_method", "structured_output_note"} <= keys


@pytest.mark.parametrize("stream", [False, True])
def test_cascade_emits_only_declared_keys(stream: bool) -> None:
    model = TieredChatModel(
        tiers=tiers({"critical": [GOOD], "standard": [BAD], "budget": [BAD]}),
        cascade=Cascade(validators=[Matches(r"answer is \d+")], start="cheapest"),
        clock=FakeClock(),
    )
    message = list(model.stream("6 x 7?"))[-1] if stream else model.invoke("6 x 7?")
    meta = tiered(message)
    keys = check(meta)
    assert {"steps", "cascade_accepted"} <= keys
    assert [s["verdict"] for s in meta["steps"]] == ["reject", "reject", "accept"]
