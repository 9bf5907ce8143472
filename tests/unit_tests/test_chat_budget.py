"""Cost control on the model: pre-flight caps, context windows, budgets under concurrency."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

from langchain_tiered import (
    Budget,
    BudgetExceededError,
    InMemoryLedger,
    ModelPrice,
    NoTierFitsError,
    Tier,
    TieredChatModel,
    count_tokens,
)
from langchain_tiered.budget import BudgetKeyWarning
from langchain_tiered.testing import FakeClock
from tests.unit_tests.fakes import PRICES, FakeTier, usage

PROMPT = "Analyze and evaluate step by step our strategy, justify every assumption"


def tiers(**overrides: Any) -> list[Tier]:
    out = []
    for name in ("critical", "standard", "budget"):
        kw = {"name": name, "model": FakeTier(model_name=f"{name}-model"), "price": PRICES[name]}
        kw.update(overrides.get(name, {}))
        out.append(Tier(**kw))
    return out


def worst_case(tier: str, prompt: str, out_tokens: int) -> float:
    # fake models have unknown family names: counted with o200k x the unknown-family factor
    n = count_tokens([("human", prompt)], model=f"{tier}-model")
    return PRICES[tier].worst_case(n, out_tokens)


def test_preflight_estimate_is_prompt_plus_output_cap() -> None:
    model = TieredChatModel(tiers=tiers(), max_tokens=100)
    meta = model.invoke(PROMPT, tier="standard").response_metadata["tiered"]
    assert meta["max_output_tokens"] == 100
    assert meta["output_cap_source"] == "call"
    assert meta["estimated_cost_usd"] == pytest.approx(worst_case("standard", PROMPT, 100))


def test_call_max_tokens_beats_tier_setting() -> None:
    model = TieredChatModel(tiers=tiers(standard={"max_output_tokens": 999}))
    meta = model.invoke(PROMPT, tier="standard", max_tokens=50).response_metadata["tiered"]
    assert (meta["max_output_tokens"], meta["output_cap_source"]) == (50, "call")
    meta = model.invoke(PROMPT, tier="standard").response_metadata["tiered"]
    assert (meta["max_output_tokens"], meta["output_cap_source"]) == (999, "tier")


def test_max_cost_per_call_downgrades_to_cheaper_tier() -> None:
    cap = worst_case("standard", PROMPT, 4096) * 1.01  # critical is over, standard fits
    model = TieredChatModel(tiers=tiers(), max_cost_per_call=cap)
    msg = model.invoke(PROMPT, tier="critical", max_tokens=4096)
    meta = msg.response_metadata["tiered"]
    assert meta["tier"] == "standard"
    assert meta["routed_tier"] == "critical"
    assert "over max_cost_per_call" in meta["reason"]
    assert meta["estimated_cost_usd"] <= cap
    assert model.tiers[0].model.calls == []  # type: ignore[attr-defined]


def test_max_cost_per_call_raise_mode_sends_nothing() -> None:
    model = TieredChatModel(tiers=tiers(), max_cost_per_call=1e-9, on_budget_exceeded="raise")
    with pytest.raises(BudgetExceededError, match="raise max_cost_per_call to at least") as err:
        model.invoke(PROMPT, tier="critical")
    assert err.value.tier == "critical"
    assert err.value.limit_usd == 1e-9
    assert all(t.model.calls == [] for t in model.tiers)  # type: ignore[attr-defined]


def test_no_tier_under_cap_raises_budget_error_without_calls() -> None:
    model = TieredChatModel(tiers=tiers(), max_cost_per_call=1e-9)
    with pytest.raises(BudgetExceededError, match="no tier fits"):
        model.invoke(PROMPT)
    assert all(t.model.calls == [] for t in model.tiers)  # type: ignore[attr-defined]


def test_cap_output_to_budget_lowers_max_tokens_instead() -> None:
    n = count_tokens([("human", PROMPT)], model="critical-model")
    cap = PRICES["critical"].worst_case(n, 500)
    model = TieredChatModel(
        tiers=tiers(), max_cost_per_call=cap, cap_output_to_budget=True, min_output_tokens=100
    )
    msg = model.invoke(PROMPT, tier="critical", max_tokens=4096)
    meta = msg.response_metadata["tiered"]
    assert meta["tier"] == "critical"
    assert meta["output_cap_source"] == "budget"
    assert meta["max_output_tokens"] == pytest.approx(500, abs=1)
    assert model.tiers[0].model.calls[0]["kwargs"]["max_tokens"] == meta["max_output_tokens"]  # type: ignore[attr-defined]


def test_context_window_skips_to_larger_tier_and_none_fits_raises() -> None:
    long_prompt = "word " * 3000
    model = TieredChatModel(
        tiers=tiers(
            budget={"context_window": 1000},
            standard={"context_window": 2000},
            critical={"context_window": 100_000},
        )
    )
    meta = model.invoke(long_prompt, tier="budget").response_metadata["tiered"]
    assert meta["tier"] == "critical"
    assert [s["tier"] for s in meta["skipped"]] == ["budget", "standard"]
    small = TieredChatModel(
        tiers=tiers(**{n: {"context_window": 1000} for n in ("critical", "standard", "budget")})
    )
    with pytest.raises(NoTierFitsError) as err:
        small.invoke(long_prompt)
    assert err.value.largest_window == 1000
    assert err.value.token_count > 3000
    assert all(t.model.calls == [] for t in small.tiers)  # type: ignore[attr-defined]


def test_context_window_from_model_profile() -> None:
    fake = FakeTier(model_name="p", profile={"max_input_tokens": 10})
    model = TieredChatModel(tiers=[Tier(name="only", model=fake, price=PRICES["budget"])])
    with pytest.raises(NoTierFitsError):
        model.invoke("this prompt is longer than ten tokens for sure, yes it is")


def test_budget_refusal_downgrades_then_raises() -> None:
    budget = Budget(limit_usd=worst_case("budget", PROMPT, 100) * 1.5)
    model = TieredChatModel(tiers=tiers(), budget=budget, max_tokens=100)
    meta = model.invoke(PROMPT, tier="critical").response_metadata["tiered"]
    assert meta["tier"] == "budget"
    assert "budget" in meta["reason"]
    # the first call spent ~0 (fake usage is tiny); the room is still only ~1.5 worst cases
    model.tiers[2].model.script = [AIMessage(content="x", usage_metadata=usage(10**6, 0))]  # type: ignore[attr-defined]
    model.invoke(PROMPT, tier="budget")
    with pytest.raises(BudgetExceededError) as err:
        model.invoke(PROMPT, tier="budget")
    assert err.value.scope.startswith("budget:")


def test_per_user_budget_key_from_metadata() -> None:
    ledger = InMemoryLedger()
    per_user = Budget(limit_usd=1.0, scope="budget_key", period="day", ledger=ledger)
    model = TieredChatModel(tiers=tiers(), budget=per_user, max_tokens=10)
    cfg = {"metadata": {"budget_key": "user-42"}}
    meta = model.invoke(PROMPT, tier="budget", config=cfg).response_metadata["tiered"]
    assert len(meta["budget_keys"]) == 1
    assert "user-42" in meta["budget_keys"][0]
    assert ledger.spent(meta["budget_keys"][0]) == pytest.approx(meta["cost_usd"])
    # a call without the key is not limited by the per-user budget (and says so, once)
    with pytest.warns(BudgetKeyWarning, match="require_key=True"):
        meta = model.invoke(PROMPT, tier="budget").response_metadata["tiered"]
    assert meta["budget_keys"] == []


def test_no_reservation_leaks_when_calls_fail() -> None:
    ledger = InMemoryLedger()
    budget = Budget(limit_usd=10.0, ledger=ledger)
    failing = FakeTier(model_name="f", script=[PermissionError("boom")])
    model = TieredChatModel(
        tiers=[Tier(name="only", model=failing, price=PRICES["budget"])], budget=budget
    )
    with pytest.raises(PermissionError):
        model.invoke("hi")
    key = next(iter(budget_limits_keys(model)))
    assert ledger.reserved(key) == 0
    assert ledger.spent(key) == 0


def budget_limits_keys(model: TieredChatModel) -> dict[str, float]:
    return model._rt.limits_for({})


def _concurrent_model(limit_calls: int) -> tuple[TieredChatModel, Budget, float]:
    price = ModelPrice(input_per_mtok=1.0, output_per_mtok=1.0)
    ask = "Liste die Hauptstädte Europas auf"
    n = count_tokens([("human", ask)], model="m")
    per_call = price.worst_case(n, 100)

    def respond(messages: Any, kwargs: Any) -> AIMessage:
        return AIMessage(content="ok", usage_metadata=usage(n, 60))

    budget = Budget(limit_usd=per_call * limit_calls)
    model = TieredChatModel(
        tiers=[Tier(name="only", model=FakeTier(model_name="m", respond=respond), price=price)],
        budget=budget,
        max_tokens=100,
        on_budget_exceeded="raise",
    )
    return model, budget, per_call


def test_300_threads_never_overshoot_the_budget() -> None:
    model, budget, _ = _concurrent_model(50)
    ok, refused, lock = [], [], threading.Lock()

    def call(_: int) -> None:
        try:
            msg = model.invoke("Liste die Hauptstädte Europas auf")
            with lock:
                ok.append(msg.response_metadata["tiered"]["cost_usd"])
        except BudgetExceededError:
            with lock:
                refused.append(1)

    with ThreadPoolExecutor(32) as pool:
        list(pool.map(call, range(300)))
    key = next(iter(model._rt.limits_for({})))
    spent = budget.ledger.spent(key)
    assert len(ok) + len(refused) == 300
    assert spent <= budget.limit_usd
    assert spent == pytest.approx(sum(ok))
    assert budget.ledger.reserved(key) == 0
    # settling at the real (lower) cost frees room: more than 50 calls fit
    assert len(ok) > 50


async def test_300_tasks_never_overshoot_the_budget() -> None:
    model, budget, _ = _concurrent_model(50)

    async def call() -> float | None:
        try:
            msg = await model.ainvoke("Liste die Hauptstädte Europas auf")
            return float(msg.response_metadata["tiered"]["cost_usd"])
        except BudgetExceededError:
            return None

    results = await asyncio.gather(*(call() for _ in range(300)))
    key = next(iter(model._rt.limits_for({})))
    costs = [r for r in results if r is not None]
    assert budget.ledger.spent(key) <= budget.limit_usd
    assert budget.ledger.spent(key) == pytest.approx(sum(costs))
    assert budget.ledger.reserved(key) == 0
    assert 50 <= len(costs) < 300


def test_daily_budget_rolls_over_with_the_clock() -> None:
    clock = FakeClock()
    model, _, per_call = _concurrent_model(1)
    daily = Budget(limit_usd=per_call, period="day")
    model = TieredChatModel(
        tiers=model.tiers, budget=daily, max_tokens=100, clock=clock, on_budget_exceeded="raise"
    )
    ask = "Liste die Hauptstädte Europas auf"
    first = model.invoke(ask).response_metadata["tiered"]
    with pytest.raises(BudgetExceededError) as err:
        model.invoke(ask)
    assert err.value.scope == first["budget_keys"][0]
    clock.advance(24 * 3600)
    again = model.invoke(ask).response_metadata["tiered"]
    assert again["budget_keys"] != first["budget_keys"]


class _Events(BaseCallbackHandler):
    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []

    def on_custom_event(self, name: str, data: Any, **kwargs: Any) -> None:
        self.events.append((name, data))


def test_downgrade_and_refusal_are_custom_events() -> None:
    cap = worst_case("standard", PROMPT, 4096) * 1.01
    model = TieredChatModel(tiers=tiers(), max_cost_per_call=cap)
    log = _Events()
    model.invoke(PROMPT, tier="critical", max_tokens=4096, config={"callbacks": [log]})
    assert [n for n, _ in log.events] == ["tiered.route", "tiered.skip"]
    assert log.events[1][1]["tier"] == "critical"
    assert "max_cost_per_call" in log.events[1][1]["reason"]
    strict = TieredChatModel(tiers=tiers(), max_cost_per_call=1e-9, on_budget_exceeded="raise")
    log = _Events()
    with pytest.raises(BudgetExceededError):
        strict.invoke(PROMPT, tier="critical", config={"callbacks": [log]})
    assert [n for n, _ in log.events] == ["tiered.route", "tiered.refused"]
    assert log.events[1][1]["error"] == "BudgetExceededError"


def test_task_output_cap_is_sent_when_caller_sets_none() -> None:
    model = TieredChatModel(tiers=tiers())
    meta = model.invoke("List the capitals of Europe").response_metadata["tiered"]
    assert meta["output_cap_source"] == "task"
    sent = model.tiers[2].model.calls[0]["kwargs"]["max_tokens"]  # type: ignore[attr-defined]
    assert sent == meta["max_output_tokens"] < 4096
    # an explicit cap wins and is passed through untouched
    model.invoke("List the capitals of Europe", max_tokens=7)
    assert model.tiers[2].model.calls[1]["kwargs"]["max_tokens"] == 7  # type: ignore[attr-defined]


def test_local_rate_limit_routes_to_another_tier() -> None:
    clock = FakeClock()
    model = TieredChatModel(tiers=tiers(budget={"requests_per_minute": 1}), clock=clock)
    first = model.invoke("List the capitals of Europe").response_metadata["tiered"]
    second = model.invoke("List the capitals of Europe").response_metadata["tiered"]
    assert first["tier"] == "budget"
    assert second["tier"] == "standard"
    assert "rate limited locally" in second["reason"]
    clock.advance(60)
    assert (
        model.invoke("List the capitals of Europe").response_metadata["tiered"]["tier"] == "budget"
    )


def test_local_rate_limit_waits_when_allowed() -> None:
    clock = FakeClock()
    model = TieredChatModel(
        tiers=tiers(budget={"requests_per_minute": 1}), clock=clock, rate_limit_max_wait=120
    )
    model.invoke("List the capitals of Europe")
    meta = model.invoke("List the capitals of Europe").response_metadata["tiered"]
    assert meta["tier"] == "budget"
    assert clock.sleeps
    assert sum(clock.sleeps) == pytest.approx(60, rel=0.01)


class _CapAs(GenericFakeChatModel):
    """Records call kwargs; takes its output cap as ``max_output_tokens`` (Gemini-style)."""

    max_output_tokens: int | None = None
    seen: list[dict[str, Any]]

    def _generate(self, messages: Any, stop: Any = None, run_manager: Any = None, **kw: Any) -> Any:
        self.seen.append(kw)
        return super()._generate(messages, stop=stop, run_manager=run_manager, **kw)


def _cheap_last(cheap: Any) -> TieredChatModel:
    top = FakeTier(model_name="top")
    return TieredChatModel(
        tiers=[
            Tier(name="top", model=top, price=PRICES["critical"]),
            Tier(name="cheap", model=cheap, price=PRICES["budget"]),
        ]
    )


def test_task_cap_uses_the_models_own_kwarg_or_none() -> None:
    gemini_like = _CapAs(messages=iter([AIMessage(content="ok")]), seen=[])
    meta = _cheap_last(gemini_like).invoke("List the capitals of Europe").response_metadata
    assert (meta["tiered"]["tier"], meta["tiered"]["output_cap_source"]) == ("cheap", "task")
    assert gemini_like.seen[0] == {"max_output_tokens": meta["tiered"]["max_output_tokens"]}
    # a model that takes no cap gets none, and its worst case assumes the documented default
    no_cap = GenericFakeChatModel(messages=iter([AIMessage(content="ok")]))
    meta = _cheap_last(no_cap).invoke("List the capitals of Europe").response_metadata
    assert (meta["tiered"]["output_cap_source"], meta["tiered"]["max_output_tokens"]) == (
        "default",
        4096,
    )


def test_reservation_ttl_is_configurable() -> None:
    seen: list[float] = []

    class Spy(InMemoryLedger):
        def reserve(self, limits: Any, amount_usd: float, **kw: Any) -> Any:
            seen.append(kw["ttl_seconds"])
            return super().reserve(limits, amount_usd, **kw)

    model = TieredChatModel(
        tiers=tiers(), budget=Budget(limit_usd=1, ledger=Spy()), reservation_ttl_seconds=42
    )
    model.invoke(PROMPT, tier="budget")
    assert seen == [42]


async def test_cancelled_call_releases_its_reservation() -> None:
    started = asyncio.Event()

    class Hangs(FakeTier):
        async def _agenerate(self, *args: Any, **kwargs: Any) -> Any:
            started.set()
            await asyncio.Event().wait()  # never answers

    ledger = InMemoryLedger()
    budget = Budget(limit_usd=1.0, ledger=ledger)
    model = TieredChatModel(
        tiers=[Tier(name="only", model=Hangs(model_name="h"), price=PRICES["budget"])],
        budget=budget,
    )
    key = next(iter(model._rt.limits_for({})))
    task = asyncio.ensure_future(model.ainvoke("hi"))
    await started.wait()
    held = ledger.reserved(key)
    assert held > 0  # the worst case is held while the call is in flight
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert ledger.reserved(key) == 0
    # The request was out when the caller gave up: an unknown outcome, charged at its worst
    # case by default (unknown_outcome="release" frees it: test_money_audit.py).
    assert ledger.spent(key) == pytest.approx(held)


def test_abandoned_stream_settles_what_was_produced() -> None:
    ledger = InMemoryLedger()
    model = TieredChatModel(tiers=tiers(), budget=Budget(limit_usd=1.0, ledger=ledger))
    model.tiers[2].model.script = [AIMessage(content="one two three four five six")]  # type: ignore[attr-defined]
    stream = model.stream("List the capitals of Europe", tier="budget")
    assert next(stream).content == "one"
    stream.close()  # the caller stops reading mid-answer
    key = next(iter(model._rt.limits_for({})))
    assert ledger.reserved(key) == 0
    (record,) = ledger.records()
    assert record.cost_usd == ledger.spent(key) > 0
    assert record.output_tokens == 1  # only what reached the caller is estimated
