"""Money-guarantee audit (issue 10, all paths): attacks on fake tiers, no sockets, no sleeping.

Each test tries to make final spend exceed a budget or ``max_cost_per_call``, to lose a paid
answer or its spend record, or to count one twice, on a path added after the engine's money
work: cascades with judges, refusal fallbacks, deployments failing over, structured output
with a method fallback, cancellation at every await, budget alerts under concurrency and
``unknown_outcome="release"``.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator
from typing import Any

import pytest
from langchain_core.callbacks import AsyncCallbackManagerForLLMRun
from langchain_core.exceptions import ModelTimeoutError
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import BaseModel, Field

from langchain_tiered import (
    Budget,
    InMemoryLedger,
    RouteDecision,
    Tier,
    TieredChatModel,
    get_tiered_cost_callback,
)
from langchain_tiered._clock import FakeClock
from langchain_tiered.cascade import Cascade, Judge, Matches
from langchain_tiered.deployments import Deployment, Deployments
from langchain_tiered.fallbacks import RetryPolicy
from langchain_tiered.ledger import Reservation, SpendRecord
from langchain_tiered.preflight import CAP_KWARGS
from tests.unit_tests.fakes import PRICES, FakeTier, usage

ASK = "What is 6 x 7? Explain every step."


def full_length(messages: list[BaseMessage], kwargs: dict[str, Any]) -> AIMessage:
    """A provider that always answers at the full length it is allowed (50,000 uncapped).

    It reports 5 input tokens (below any count of these prompts) so that only the
    output side is under attack here.
    """
    caps = [v for k, v in kwargs.items() if k in CAP_KWARGS]
    out = caps[0] if caps else 50_000
    if "strict grader" in str(messages[0].content):
        return AIMessage(content="1", usage_metadata=usage(5, out))
    return AIMessage(content="no idea " * 3, usage_metadata=usage(5, out))


def spent(ledger: InMemoryLedger) -> float:
    return sum(r.cost_usd for r in ledger.records())


def sent_caps(fake: FakeTier) -> list[dict[str, Any]]:
    return [{k: v for k, v in c["kwargs"].items() if k in CAP_KWARGS} for c in fake.calls]


# -- cascade with a judge, provider at full length, tight budget -------------------------------


@pytest.mark.parametrize("limit", [0.004, 0.02, 0.1])
def test_cascade_with_judge_at_full_length_never_passes_the_budget(limit: float) -> None:
    ledger = InMemoryLedger()
    fakes = {n: FakeTier(model_name=f"{n}-m", respond=full_length) for n in PRICES}
    model = TieredChatModel(
        tiers=[Tier(name=n, model=fakes[n], price=PRICES[n]) for n in PRICES],
        cascade=Cascade(validators=[Judge(tier="budget"), Matches(r"\d+")], start="cheapest"),
        budget=Budget(limit_usd=limit, ledger=ledger),
        on_budget_exceeded="downgrade",
        max_tokens=300,
    )
    answered = 0
    for _ in range(40):  # until the budget refuses
        try:
            model.invoke(ASK)
        except Exception:  # the budget's refusal ends the loop
            break
        answered += 1
    assert answered >= 1 or limit < 0.02
    assert spent(ledger) <= limit + 1e-12
    assert ledger.reserved(next(iter(model._rt.limits_for({})))) == 0
    for fake in fakes.values():  # every request (answers and judge calls) carried a cap
        assert all(caps for caps in sent_caps(fake))


# -- refusal fallback: the refusal is charged, the fallback fits what is left -----------------


class KeepsMetadata(FakeTier):
    """A fake tier whose scripted response_metadata (finish_reason) reaches the engine."""

    def _next(self, messages: list[BaseMessage], kwargs: dict[str, Any]) -> AIMessage:
        scripted = self.script[min(len(self._calls), len(self.script) - 1)]
        answer = super()._next(messages, kwargs)
        return answer.model_copy(update={"response_metadata": dict(scripted.response_metadata)})


def test_refusal_is_charged_and_the_fallback_must_fit_the_rest() -> None:
    refusal = AIMessage(
        content="",
        usage_metadata=usage(2_000, 4_000),
        response_metadata={"finish_reason": "content_filter"},
    )
    standard = KeepsMetadata(model_name="s", script=[refusal])
    critical = FakeTier(model_name="c", respond=full_length)
    ledger = InMemoryLedger()
    limit = 0.08
    model = TieredChatModel(
        tiers=[
            Tier(name="critical", model=critical, price=PRICES["critical"]),
            Tier(name="standard", model=standard, price=PRICES["standard"]),
        ],
        router=lambda r: RouteDecision(tier="standard", reason="test"),
        refusal_tier="critical",
        budget=Budget(limit_usd=limit, ledger=ledger),
        max_tokens=1_000,
    )
    refusal_cost = PRICES["standard"].cost(refusal.usage_metadata)  # type: ignore[arg-type]
    with pytest.raises(Exception):  # noqa: B017,PT011 - critical's worst case no longer fits
        model.invoke(ASK)
    assert [r.tier for r in ledger.records()] == ["standard"]
    assert spent(ledger) == pytest.approx(refusal_cost, rel=1e-12)
    assert len(critical.calls) == 0
    assert spent(ledger) <= limit


# -- a deployment failing over to its sibling after the first request was sent ----------------


def test_deployment_failover_after_a_timeout_charges_the_unknown_outcome_once() -> None:
    first = FakeTier(model_name="dep-model", script=[ModelTimeoutError("read timed out")])
    second = FakeTier(model_name="dep-model", respond=full_length)
    deps = Deployments(
        model_name="dep-model",
        deployments=[Deployment(name="a", model=first), Deployment(name="b", model=second)],
    )
    ledger = InMemoryLedger()
    model = TieredChatModel(
        tiers=[Tier(name="only", model=deps, price=PRICES["budget"], max_output_tokens=500)],
        budget=Budget(limit_usd=1.0, ledger=ledger),
        retry=RetryPolicy(max_attempts=3, jitter=False),
        clock=FakeClock(),
    )
    message = model.invoke(ASK)
    meta = message.response_metadata["tiered"]
    worst = meta["estimated_cost_usd"]
    answer = PRICES["budget"].cost(usage(5, 500))
    records = ledger.records()
    # the timed-out request may be billed: its worst case is charged, once, as an estimate
    assert sorted(r.cost_is_estimate for r in records) == [False, True]
    assert spent(ledger) == pytest.approx(worst + answer, rel=1e-12)
    assert len(first.calls) == 1
    assert len(second.calls) == 1
    assert ledger.reserved(next(iter(model._rt.limits_for({})))) == 0


# -- structured output whose tier falls back to function calling ------------------------------


class NoJsonSchema(FakeTier):
    """A tier whose model does not take method='json_schema' (function calling only)."""

    def with_structured_output(
        self, schema: Any, *, method: str = "function_calling", **kw: Any
    ) -> Any:
        if method != "function_calling":
            raise NotImplementedError(method)
        return super().with_structured_output(schema, method=method, **kw)


class Answer(BaseModel):
    value: int


def test_structured_method_fallback_still_sends_and_honours_the_cap() -> None:
    def answer(messages: list[BaseMessage], kwargs: dict[str, Any]) -> AIMessage:
        out = next(v for k, v in kwargs.items() if k in CAP_KWARGS)
        return AIMessage(
            content="",
            tool_calls=[{"name": "Answer", "args": {"value": 42}, "id": "t1"}],
            usage_metadata=usage(5, out),
        )

    fake = NoJsonSchema(model_name="m", respond=answer)
    ledger = InMemoryLedger()
    model = TieredChatModel(
        tiers=[Tier(name="only", model=fake, price=PRICES["standard"], max_output_tokens=200)],
        budget=Budget(limit_usd=0.01, ledger=ledger),
    )
    structured = model.with_structured_output(Answer, method="json_schema", include_raw=True)
    result = structured.invoke(ASK)
    assert result["parsed"] == Answer(value=42)
    assert sent_caps(fake) == [{"max_tokens": 200}]
    meta = result["raw"].response_metadata["tiered"]
    assert meta["cost_usd"] <= meta["estimated_cost_usd"]
    assert spent(ledger) == pytest.approx(meta["cost_usd"], rel=1e-12)


# -- unknown_outcome="release": documented, nothing charged, fallback still capped ------------


@pytest.mark.parametrize(("policy", "charged"), [("charge", 1), ("release", 0)])
def test_unknown_outcome_policy(policy: str, charged: int) -> None:
    top = FakeTier(model_name="c", respond=full_length)
    cut = FakeTier(model_name="b", script=[ModelTimeoutError("read timed out")])
    ledger = InMemoryLedger()
    model = TieredChatModel(
        tiers=[
            Tier(name="critical", model=top, price=PRICES["critical"]),
            Tier(name="budget", model=cut, price=PRICES["budget"]),
        ],
        router=lambda r: RouteDecision(tier="budget", reason="test"),
        budget=Budget(limit_usd=1.0, ledger=ledger),
        retry=RetryPolicy(max_attempts=1),
        unknown_outcome=policy,
        max_tokens=100,
    )
    meta = model.invoke(ASK).response_metadata["tiered"]
    estimates = [r for r in ledger.records() if r.cost_is_estimate]
    assert len(estimates) == charged
    assert meta["unknown_outcome_usd"] == pytest.approx(sum(r.cost_usd for r in estimates))
    assert meta["tier"] == "critical"
    assert sent_caps(top) == [{"max_tokens": 100}]
    assert ledger.reserved(next(iter(model._rt.limits_for({})))) == 0


# -- cancellation at every await: nothing left reserved ---------------------------------------


class YieldingLedger(InMemoryLedger):
    """An in-memory ledger whose async methods give control away before and after."""

    async def _pause(self) -> None:
        await asyncio.sleep(0)

    async def areserve(self, *args: Any, **kwargs: Any) -> Reservation:
        await self._pause()
        held = self.reserve(*args, **kwargs)
        await self._pause()
        return held

    async def asettle(
        self, reservation: Reservation, actual_usd: float, record: SpendRecord | None = None
    ) -> None:
        await self._pause()
        self.settle(reservation, actual_usd, record)
        await self._pause()

    async def arelease(self, reservation: Reservation) -> None:
        await self._pause()
        self.release(reservation)
        await self._pause()

    async def arecord(self, record: SpendRecord) -> None:
        await self._pause()
        self.record(record)
        await self._pause()


class AsyncTier(FakeTier):
    """A fake tier with a real async path that yields control while 'on the wire'."""

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        for _ in range(3):
            await asyncio.sleep(0)
        return ChatResult(generations=[ChatGeneration(message=self._next(messages, kwargs))])

    async def _astream(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        for chunk in self._stream(*args, **kwargs):
            await asyncio.sleep(0)
            yield chunk


def _cancel_model(ledger: InMemoryLedger, fake: FakeTier) -> TieredChatModel:
    return TieredChatModel(
        tiers=[Tier(name="only", model=fake, price=PRICES["standard"], max_output_tokens=50)],
        budget=Budget(limit_usd=1.0, ledger=ledger),
    )


async def _steps_to_finish() -> int:
    ledger = YieldingLedger()
    task = asyncio.ensure_future(_cancel_model(ledger, AsyncTier(model_name="m")).ainvoke(ASK))
    steps = 0
    while not task.done():
        await asyncio.sleep(0)
        steps += 1
    return steps


async def test_cancel_at_every_await_leaves_nothing_reserved() -> None:
    total = await _steps_to_finish()
    assert total > 5
    for n in range(total + 1):
        ledger = YieldingLedger()
        fake = AsyncTier(model_name="m")
        model = _cancel_model(ledger, fake)
        task = asyncio.ensure_future(model.ainvoke(ASK))
        for _ in range(n):
            await asyncio.sleep(0)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        key = next(iter(model._rt.limits_for({})))
        assert ledger.reserved(key) == 0, f"cancel after {n} steps left a hold"
        # a request that reached the tier is charged (answered or outcome unknown), once
        assert len(ledger.records()) <= 1  # charged once at most (sent: maybe billed)


# -- budget alerts: once, and never lost when settlements interleave --------------------------


class NestingLedger(InMemoryLedger):
    """After the first settle, runs ``inner()`` to its end in another thread: a second call
    settles between the first call's settle and its alert check (deterministic: joined)."""

    inner: Any = None

    def settle(
        self, reservation: Reservation, actual_usd: float, record: SpendRecord | None = None
    ) -> None:
        super().settle(reservation, actual_usd, record)
        inner, self.inner = self.inner, None
        if inner is not None:
            other = threading.Thread(target=inner)
            other.start()
            other.join()


def test_budget_alert_fires_once_when_two_settlements_interleave() -> None:
    fired: list[float] = []
    ledger = NestingLedger()
    reply = AIMessage(content="ok", usage_metadata=usage(1_000, 20_000))  # $0.021 each on budget
    fake = FakeTier(model_name="m", script=[reply])
    model = TieredChatModel(
        tiers=[Tier(name="only", model=fake, price=PRICES["budget"], max_output_tokens=30_000)],
        budget=Budget(
            limit_usd=0.2,
            ledger=ledger,
            alert_at=(0.05, 0.5),
            on_alert=lambda a: fired.append(a.fraction),
        ),
    )
    ledger.inner = lambda: model.invoke(ASK)
    model.invoke(ASK)
    # spend went 0 -> 0.021 (crossing 5% = $0.01) -> 0.042: the 5% alert must fire, once
    assert fired == [0.05]
    for _ in range(4):
        model.invoke(ASK)  # 0.063 ... 0.126: 50% crossed once
    assert fired == [0.05, 0.5]


# -- abandoned cascade stream: settled once, nothing held -------------------------------------


def _cascade_on(ledger: InMemoryLedger) -> TieredChatModel:
    good = AIMessage(content="The answer is 42 and here is why", usage_metadata=usage(50, 40))
    bad = AIMessage(content="no idea", usage_metadata=usage(50, 5))
    fakes = {
        "critical": AsyncTier(model_name="c", script=[good]),
        "standard": AsyncTier(model_name="s", script=[bad]),
        "budget": AsyncTier(model_name="b", script=[bad]),
    }
    return TieredChatModel(
        tiers=[Tier(name=n, model=fakes[n], price=PRICES[n]) for n in PRICES],
        cascade=Cascade(
            validators=[Matches(r"answer is \d+")], start="cheapest", validate_last=False
        ),
        budget=Budget(limit_usd=1.0, ledger=ledger),
        max_tokens=100,
    )


def _settled_once(model: TieredChatModel, ledger: InMemoryLedger, callback_usd: float) -> None:
    key = next(iter(model._rt.limits_for({})))
    assert ledger.reserved(key) == 0
    assert [r.tier for r in ledger.records()] == ["budget", "standard", "critical"]
    # the callback saw every step's cost (before the fix: only the last, cut step's)
    assert callback_usd == pytest.approx(spent(ledger), rel=1e-12)


def test_abandoned_cascade_stream_reaches_the_callback_with_every_step() -> None:
    ledger = InMemoryLedger()
    model = _cascade_on(ledger)
    with get_tiered_cost_callback() as cb:
        stream = model.stream(ASK)
        next(stream)
        stream.close()  # type: ignore[attr-defined]
    _settled_once(model, ledger, cb.total_cost_usd)
    assert cb.calls == 1


async def test_abandoned_cascade_astream_reaches_the_callback_with_every_step() -> None:
    ledger = InMemoryLedger()
    model = _cascade_on(ledger)
    with get_tiered_cost_callback() as cb:
        stream = model.astream(ASK)
        await anext(stream)
        await stream.aclose()  # type: ignore[attr-defined]
    _settled_once(model, ledger, cb.total_cost_usd)
    assert cb.calls == 1


def test_cascade_stream_cut_by_an_error_charges_its_last_step_as_an_unknown_outcome() -> None:
    ledger = InMemoryLedger()
    model = _cascade_on(ledger)
    model.tiers[0].model.break_after = 2  # type: ignore[attr-defined]  # critical, streamed live
    seen: list[Any] = []
    with pytest.raises(ConnectionError):
        seen.extend(c.content for c in model.stream(ASK))
    assert seen[-2:] == ["The", " answer"]
    *_, cut = ledger.records()
    # like a plain stream cut by an error: the provider may bill the whole answer
    assert cut.tier == "critical"
    assert cut.cost_usd == cut.estimated_cost_usd > 0
    assert cut.cost_is_estimate
    assert ledger.reserved(next(iter(model._rt.limits_for({})))) == 0


async def test_cascade_astream_cut_by_an_error_charges_the_unknown_outcome() -> None:
    ledger = InMemoryLedger()
    model = _cascade_on(ledger)
    model.tiers[0].model.break_after = 2  # type: ignore[attr-defined]
    with pytest.raises(ConnectionError):
        [c async for c in model.astream(ASK)]
    *_, cut = ledger.records()
    assert cut.tier == "critical"
    assert cut.cost_usd == cut.estimated_cost_usd > 0
    assert ledger.reserved(next(iter(model._rt.limits_for({})))) == 0


# -- an unknown outcome's charge crossing an alert fraction -----------------------------------


def test_an_unknown_outcome_charge_sets_off_the_alert_it_crosses() -> None:
    fired: list[float] = []
    cut = FakeTier(model_name="b", script=[ModelTimeoutError("read timed out")])
    top = FakeTier(model_name="c", script=[AIMessage(content="ok", usage_metadata=usage(5, 1))])
    model = TieredChatModel(
        tiers=[
            Tier(name="critical", model=top, price=PRICES["budget"]),
            Tier(name="budget", model=cut, price=PRICES["budget"]),
        ],
        router=lambda r: RouteDecision(tier="budget", reason="test"),
        budget=Budget(
            limit_usd=0.004,
            ledger=InMemoryLedger(),
            alert_at=(0.25,),
            on_alert=lambda a: fired.append(a.fraction),
        ),
        retry=RetryPolicy(max_attempts=1),
        max_tokens=1_000,  # worst case just above $0.001 (25% of the limit)
    )
    meta = model.invoke(ASK).response_metadata["tiered"]
    assert meta["unknown_outcome_usd"] > 0.001  # the charge alone crossed 25%
    assert meta["cost_usd"] < 0.0001
    assert fired == [0.25]


# -- a run budget with concurrent branches (abatch inside one run) -----------------------------


@pytest.mark.parametrize("branches", [4, 16])
async def test_run_budget_with_concurrent_branches_never_overspends(branches: int) -> None:
    from langchain_core.runnables import RunnableLambda

    ledger = YieldingLedger()
    fake = AsyncTier(model_name="m", respond=full_length)
    limit = 0.01
    model = TieredChatModel(
        tiers=[Tier(name="only", model=fake, price=PRICES["standard"])],
        budget=[Budget(scope="run", limit_usd=limit, ledger=ledger)],
        max_tokens=200,  # $0.003 worst case: 3 of them fit, not 4
    )

    async def fan_out(_: Any) -> list[Any]:
        return await model.abatch([ASK] * branches, return_exceptions=True)

    results = await RunnableLambda(fan_out).ainvoke(None)
    answered = [r for r in results if isinstance(r, AIMessage)]
    keys = {k for r in ledger.records() for k in r.budget_keys}
    assert len(keys) == 1  # every branch charged the same run
    assert len(answered) == 3
    assert spent(ledger) <= limit
    assert ledger.reserved(keys.pop()) == 0
    assert all(caps == {"max_tokens": 200} for caps in sent_caps(fake))


# -- long-context and cache-write prices at the tier boundary ---------------------------------


@pytest.mark.parametrize("cache_write", [0, 1, 5_000])
@pytest.mark.parametrize("reported_input", [0, 1, 2])  # prompt counted exactly, +1, +2 tokens
def test_settled_never_above_reserved_at_the_long_context_boundary(
    cache_write: int, reported_input: int
) -> None:
    from langchain_tiered import ModelPrice

    long = ModelPrice(input_per_mtok=6.0, output_per_mtok=30.0, cache_write_per_mtok=7.5)
    probe = TieredChatModel(tiers=[Tier(name="only", model=FakeTier(model_name="m"), price=long)])
    counted = probe.invoke(ASK).response_metadata["tiered"]["prompt_tokens_estimate"]
    boundary = ModelPrice(
        input_per_mtok=3.0,
        output_per_mtok=15.0,
        cached_input_per_mtok=0.3,
        cache_write_per_mtok=3.75,
        long_context={counted + 1: long},  # the counted prompt sits just below the threshold
    )

    def answer(messages: list[BaseMessage], kwargs: dict[str, Any]) -> AIMessage:
        u = usage(counted + reported_input, kwargs["max_tokens"])
        if cache_write:
            u["input_token_details"] = {"cache_creation": min(cache_write, u["input_tokens"])}
        return AIMessage(content="x", usage_metadata=u)

    fake = FakeTier(model_name="m", respond=answer)
    model = TieredChatModel(
        tiers=[Tier(name="only", model=fake, price=boundary)],
        max_tokens=100,
        budget=Budget(limit_usd=1.0, ledger=InMemoryLedger()),
    )
    meta = model.invoke(ASK).response_metadata["tiered"]
    if reported_input == 0:  # the counted prompt: the worst case must cover every component
        assert meta["cost_usd"] <= meta["estimated_cost_usd"] + 1e-15
        assert meta["overspend"] is False
    else:  # more input than counted crossed into long context: flagged and counted
        assert meta["overspend"] is (meta["cost_usd"] > meta["estimated_cost_usd"])


# -- charges no answer carries: abandoned streams, calls that fail after a charge -------------


def _alerting(fake: FakeTier, fired: list[float], **kw: Any) -> TieredChatModel:
    return TieredChatModel(
        tiers=[Tier(name="only", model=fake, price=PRICES["budget"])],
        budget=Budget(
            limit_usd=0.004,
            ledger=InMemoryLedger(),
            alert_at=(0.25,),
            on_alert=lambda a: fired.append(a.fraction),
        ),
        retry=RetryPolicy(max_attempts=1),
        max_tokens=1_000,  # worst case just above $0.001 (25% of the limit)
        **kw,
    )


def test_a_stream_cut_after_content_sets_off_the_alert_its_charge_crosses() -> None:
    fired: list[float] = []
    words = AIMessage(content="one two three four", usage_metadata=usage(5, 4))
    model = _alerting(FakeTier(model_name="m", script=[words], break_after=2), fired)
    with pytest.raises(ConnectionError):
        list(model.stream(ASK))  # cut mid-answer: charged at its worst case
    assert fired == [0.25]


def test_a_call_that_fails_after_an_unknown_outcome_sets_off_the_alert() -> None:
    fired: list[float] = []
    model = _alerting(FakeTier(model_name="m", script=[ModelTimeoutError("timed out")]), fired)
    with pytest.raises(Exception, match="ModelTimeoutError"):
        model.invoke(ASK)
    assert fired == [0.25]


# -- refusal fallback that fits: both charged, each once, callbacks included ------------------


def test_refusal_and_its_fallback_are_each_charged_once() -> None:
    refusal = AIMessage(
        content="",
        usage_metadata=usage(30, 10),
        response_metadata={"finish_reason": "content_filter"},
    )
    standard = KeepsMetadata(model_name="s", script=[refusal])
    critical = FakeTier(model_name="c", respond=full_length)
    ledger = InMemoryLedger()
    model = TieredChatModel(
        tiers=[
            Tier(name="critical", model=critical, price=PRICES["critical"]),
            Tier(name="standard", model=standard, price=PRICES["standard"]),
        ],
        router=lambda r: RouteDecision(tier="standard", reason="test"),
        refusal_tier="critical",
        budget=Budget(limit_usd=0.05, ledger=ledger),
        max_tokens=200,
    )
    with get_tiered_cost_callback() as cb:
        meta = model.invoke(ASK).response_metadata["tiered"]
    assert [r.tier for r in ledger.records()] == ["standard", "critical"]
    refusal_cost = PRICES["standard"].cost(usage(30, 10))
    assert spent(ledger) == pytest.approx(refusal_cost + meta["cost_usd"], rel=1e-12)
    assert cb.total_cost_usd == pytest.approx(spent(ledger), rel=1e-12)
    assert sent_caps(critical) == [{"max_tokens": 200}]
    assert spent(ledger) <= 0.05


# -- cancellation at every await of a stream and of a cascade ---------------------------------


async def _consume(model: TieredChatModel, stream: bool) -> None:
    if stream:
        async for _ in model.astream(ASK):
            pass
    else:
        await model.ainvoke(ASK)


@pytest.mark.parametrize("stream", [False, True])
async def test_cascade_cancelled_at_every_await_leaves_nothing_reserved(stream: bool) -> None:
    for n in range(200):
        ledger = YieldingLedger()
        model = _cascade_on(ledger)
        task = asyncio.ensure_future(_consume(model, stream))
        for _ in range(n):
            await asyncio.sleep(0)
        if task.done():
            break
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        key = next(iter(model._rt.limits_for({})))
        assert ledger.reserved(key) == 0, f"cancel after {n} steps left a hold"
    assert n > 10  # the whole range was walked until the call finished


async def test_stream_cancelled_at_every_await_leaves_nothing_reserved() -> None:
    for n in range(200):
        ledger = YieldingLedger()
        fake = AsyncTier(
            model_name="m", script=[AIMessage(content="a b c d", usage_metadata=usage(5, 4))]
        )
        model = _cancel_model(ledger, fake)
        task = asyncio.ensure_future(_consume(model, True))
        for _ in range(n):
            await asyncio.sleep(0)
        if task.done():
            break
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        key = next(iter(model._rt.limits_for({})))
        assert ledger.reserved(key) == 0, f"cancel after {n} steps left a hold"
        assert len(ledger.records()) <= 1  # charged once at most (sent: maybe billed)
    assert n > 5


# -- a call cancelled while its request is out: sent, so possibly billed ---------------------


class Hanging(FakeTier):
    """A tier whose request is sent (``sent`` is set) and then never answers until cancelled."""

    sent: asyncio.Event = Field(default_factory=asyncio.Event)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        self._next(messages, kwargs)
        self.sent.set()
        await asyncio.Event().wait()
        raise AssertionError  # pragma: no cover - never set


@pytest.mark.parametrize(("policy", "charged"), [("charge", 1), ("release", 0)])
async def test_cancelled_while_the_request_is_out_is_an_unknown_outcome(
    policy: str, charged: int
) -> None:
    ledger = YieldingLedger()
    fake = Hanging(model_name="m")
    model = TieredChatModel(
        tiers=[Tier(name="only", model=fake, price=PRICES["standard"], max_output_tokens=50)],
        budget=Budget(limit_usd=1.0, ledger=ledger),
        unknown_outcome=policy,
    )
    task = asyncio.ensure_future(model.ainvoke(ASK))
    await fake.sent.wait()  # until the request is out
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    key = next(iter(model._rt.limits_for({})))
    assert ledger.reserved(key) == 0
    records = ledger.records()
    assert len(records) == charged
    if charged:  # its worst case, marked as an estimate, with the cancellation as its error
        assert records[0].cost_is_estimate
        assert records[0].cost_usd == records[0].estimated_cost_usd > 0
        assert "Cancelled" in (records[0].error or "")


# -- a sticky thread on an expensive tier cannot carry a call past the budget -----------------


def test_sticky_thread_still_downgrades_when_its_tier_no_longer_fits() -> None:
    fakes = {n: FakeTier(model_name=f"{n}-m", respond=full_length) for n in PRICES}
    ledger = InMemoryLedger()
    limit = 0.05
    model = TieredChatModel(
        tiers=[Tier(name=n, model=fakes[n], price=PRICES[n]) for n in PRICES],
        router=lambda r: RouteDecision(tier="critical", reason="test: hard"),
        sticky="always",
        budget=Budget(limit_usd=limit, ledger=ledger),
        max_tokens=200,  # critical worst case ~ $0.015: three fit, then the thread must move
    )
    config: Any = {"metadata": {"tiered_thread": "t-1"}}
    tiers = []
    for _ in range(12):
        try:
            tiers.append(model.invoke(ASK, config=config).response_metadata["tiered"]["tier"])
        except Exception:  # the budget's refusal ends the thread
            break
    assert tiers[0] == "critical"
    assert len(tiers) > 3
    assert set(tiers[3:]) <= {"standard", "budget"}  # downgraded, not stuck past the limit
    assert spent(ledger) <= limit


@pytest.mark.parametrize("workers", [8, 32])
def test_budget_alerts_fire_exactly_once_under_concurrent_calls(workers: int) -> None:
    from concurrent.futures import ThreadPoolExecutor

    fired: list[float] = []
    reply = AIMessage(content="ok", usage_metadata=usage(1_000, 20_000))  # $0.021 each
    model = TieredChatModel(
        tiers=[
            Tier(
                name="only", model=FakeTier(model_name="m", script=[reply]), price=PRICES["budget"]
            )
        ],
        budget=Budget(
            limit_usd=1.0,
            ledger=InMemoryLedger(),
            alert_at=(0.02, 0.25, 0.5, 0.8),
            on_alert=lambda a: fired.append(a.fraction),
        ),
        max_tokens=20_000,
    )
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda _: model.invoke(ASK), range(40)))  # $0.84: past 80%, not 100%
    assert sorted(fired) == [0.02, 0.25, 0.5, 0.8]


async def test_cancel_at_every_await_on_sqlite_leaves_nothing_reserved(tmp_path: Any) -> None:
    from langchain_tiered import SQLiteLedger

    for n in range(0, 80, 3):
        ledger = SQLiteLedger(str(tmp_path / f"spend-{n}.db"))
        fake = AsyncTier(model_name="m")
        model = TieredChatModel(
            tiers=[Tier(name="only", model=fake, price=PRICES["standard"], max_output_tokens=50)],
            budget=Budget(limit_usd=1.0, ledger=ledger),
        )
        task = asyncio.ensure_future(model.ainvoke(ASK))
        for _ in range(n):
            await asyncio.sleep(0)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        key = next(iter(model._rt.limits_for({})))
        assert ledger.reserved(key) == 0, f"cancel after {n} steps left a hold"
        assert len(ledger.records()) <= 1
