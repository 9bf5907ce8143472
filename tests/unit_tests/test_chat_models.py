"""TieredChatModel as a LangChain chat model: routing, overrides, metadata, tools, streaming."""

from __future__ import annotations

import operator
from typing import Any

import pytest
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.tools import tool
from langchain_core.tracers.base import BaseTracer
from langchain_core.tracers.schemas import Run
from pydantic import BaseModel
from typing_extensions import TypedDict

from langchain_tiered import ModelPrice, PricingError, RouteDecision, Tier, TieredChatModel
from tests.unit_tests.fakes import PRICES, FakeTier, usage

SIMPLE_DE = "Liste die Hauptstädte Europas auf"
MIDDLE_DE = "Erkläre den Unterschied zwischen REST und GraphQL in 3 Sätzen"
COMPLEX_DE = (
    "Analysiere und bewerte mehrstufig die Strategie unseres Unternehmens für den "
    "Markteintritt in Asien, begründe jede Annahme"
)
SIMPLE_EN = "List the capitals of Europe"
MIDDLE_EN = "Explain the difference between REST and GraphQL in 3 sentences"
COMPLEX_EN = (
    "Analyze and evaluate step by step our company's strategy for entering the Asian "
    "market, justify every assumption"
)


def make_model(**kwargs: Any) -> TieredChatModel:
    tiers = [
        Tier(name=name, model=FakeTier(model_name=f"{name}-model"), price=PRICES[name])
        for name in ("critical", "standard", "budget")
    ]
    return TieredChatModel(tiers=kwargs.pop("tiers", tiers), **kwargs)


@pytest.mark.parametrize(
    ("prompt", "tier"),
    [
        (SIMPLE_DE, "budget"),
        (MIDDLE_DE, "standard"),
        (COMPLEX_DE, "critical"),
        (SIMPLE_EN, "budget"),
        (MIDDLE_EN, "standard"),
        (COMPLEX_EN, "critical"),
    ],
)
def test_routes_sanity_cases(prompt: str, tier: str) -> None:
    model = make_model()
    meta = model.invoke(prompt).response_metadata["tiered"]
    assert meta["tier"] == tier
    assert meta["model_name"] == f"{tier}-model"
    assert meta["fallback_triggered"] is False
    assert meta["reason"]
    # only the routed tier was called
    for t in model.tiers:
        assert len(t.model.calls) == (1 if t.name == tier else 0)  # type: ignore[attr-defined]


def test_metadata_and_exact_cost_on_known_usage() -> None:
    model = make_model()
    tier_model = model.tiers[2].model
    tier_model.script = [AIMessage(content="Paris", usage_metadata=usage(1000, 200))]  # type: ignore[attr-defined]
    msg = model.invoke(SIMPLE_EN)
    meta = msg.response_metadata["tiered"]
    assert meta["tier"] == "budget"
    # 1000 x $0.25/M + 200 x $1/M
    assert meta["cost_usd"] == pytest.approx(1000 * 0.25e-6 + 200 * 1e-6, rel=1e-12)
    assert meta["estimated_cost_usd"] >= meta["cost_usd"]
    assert meta["attempts"] == [
        {
            "tier": "budget",
            "error_type": None,
            "status": None,
            "kind": "ok",
            "message": None,
            "waited_s": 0.0,
            "cause": None,
        }
    ]
    # usage passes through unchanged, the tier's own metadata is kept
    assert msg.usage_metadata == usage(1000, 200)
    assert msg.response_metadata["model_name"] == "budget-model"


def test_override_kwarg_and_metadata_beat_router() -> None:
    model = make_model()
    assert model.invoke(COMPLEX_EN, tier="budget").response_metadata["tiered"]["tier"] == "budget"
    meta = model.invoke(SIMPLE_EN, config={"metadata": {"tier": "critical"}}).response_metadata
    assert meta["tiered"]["tier"] == "critical"
    assert "override" in meta["tiered"]["reason"]


def test_unknown_override_lists_valid_names() -> None:
    model = make_model()
    with pytest.raises(ValueError, match="valid tier names: critical, standard, budget"):
        model.invoke("hi", tier="cheapest")


def test_custom_router_callable() -> None:
    model = make_model(router=lambda req: RouteDecision(tier="standard", reason="always std"))
    meta = model.invoke(SIMPLE_EN).response_metadata["tiered"]
    assert (meta["tier"], meta["reason"]) == ("standard", "always std")


def test_router_returning_unknown_tier_is_a_clear_error() -> None:
    model = make_model(router=lambda req: RouteDecision(tier="nope", reason="x"))
    with pytest.raises(ValueError, match="router returned unknown tier 'nope'"):
        model.invoke("hi")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"tiers": []}, "at least one tier"),
        ({"refusal_tier": "nope"}, "refusal_tier 'nope'"),
    ],
)
def test_bad_config_fails_at_construction(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make_model(**kwargs)


def test_duplicate_tier_names_rejected() -> None:
    t = Tier(name="a", model=FakeTier(), price=PRICES["budget"])
    with pytest.raises(ValueError, match="duplicated: a"):
        TieredChatModel(tiers=[t, t])


def test_thresholds_out_of_order_rejected() -> None:
    from langchain_tiered import ComplexityRouter

    with pytest.raises(ValueError, match="thresholds"):
        make_model(router=ComplexityRouter(thresholds=(0.2, 0.6)))


def test_unpriced_model_fails_closed() -> None:
    tiers = [Tier(name="x", model=FakeTier(model_name="totally-unknown-model-xyz"))]
    with pytest.raises(PricingError, match="totally-unknown-model-xyz"):
        TieredChatModel(tiers=tiers)


def test_negative_price_rejected() -> None:
    with pytest.raises(ValueError, match="input_per_mtok"):
        ModelPrice(input_per_mtok=-1, output_per_mtok=1)


def test_works_with_core_generic_fake_model() -> None:
    fake = GenericFakeChatModel(messages=iter([AIMessage(content="hello there")]))
    model = TieredChatModel(tiers=[Tier(name="only", model=fake, price=PRICES["budget"])])
    msg = model.invoke("hi")
    assert msg.content == "hello there"
    assert msg.response_metadata["tiered"]["tier"] == "only"


def test_lcel_chain_prompt_model_parser() -> None:
    model = make_model()
    model.tiers[2].model.script = [AIMessage(content="Berlin, Paris", usage_metadata=usage(5, 3))]  # type: ignore[attr-defined]
    chain = (
        ChatPromptTemplate.from_messages([("human", "Liste {what} auf")])
        | model
        | StrOutputParser()
    )
    assert chain.invoke({"what": "die Hauptstädte Europas"}) == "Berlin, Paris"
    assert len(model.tiers[2].model.calls) == 1  # type: ignore[attr-defined]


def test_batch_routes_each_input() -> None:
    model = make_model()
    out = model.batch([SIMPLE_EN, COMPLEX_EN, MIDDLE_DE])
    assert [m.response_metadata["tiered"]["tier"] for m in out] == [
        "budget",
        "critical",
        "standard",
    ]


async def test_async_twins_route_per_call() -> None:
    model = make_model()
    msg = await model.ainvoke(COMPLEX_DE)
    assert msg.response_metadata["tiered"]["tier"] == "critical"
    out = await model.abatch([SIMPLE_DE, MIDDLE_EN])
    assert [m.response_metadata["tiered"]["tier"] for m in out] == ["budget", "standard"]


def test_stream_really_streams_chunk_by_chunk() -> None:
    events: list[str] = []

    def respond(messages: Any, kwargs: Any) -> AIMessage:
        return AIMessage(content="one two three", usage_metadata=usage(4, 3))

    tier_model = FakeTier(model_name="s", respond=respond)
    orig = tier_model._stream

    def spy(*a: Any, **k: Any) -> Any:
        for chunk in orig(*a, **k):
            events.append(f"produced:{chunk.message.content!r}")
            yield chunk

    object.__setattr__(tier_model, "_stream", spy)
    model = TieredChatModel(tiers=[Tier(name="only", model=tier_model, price=PRICES["budget"])])
    chunks = []
    for chunk in model.stream("hi"):
        events.append(f"consumed:{chunk.content!r}")
        chunks.append(chunk)
    # the first chunk reaches the caller before the tier produced the second
    assert events[:3] == ["produced:'one'", "consumed:'one'", "produced:' two'"]
    full = chunks[0]
    for c in chunks[1:]:
        full = full + c
    assert full.content == "one two three"
    assert full.usage_metadata is not None
    assert full.usage_metadata["input_tokens"] == 4
    meta = full.response_metadata["tiered"]
    assert meta["tier"] == "only"
    assert meta["cost_usd"] == pytest.approx(4 * 0.25e-6 + 3 * 1e-6, rel=1e-12)


async def test_astream_and_astream_events() -> None:
    model = make_model()
    model.tiers[0].model.script = [AIMessage(content="a b c d", usage_metadata=usage(9, 4))]  # type: ignore[attr-defined]
    chunks = [c async for c in model.astream(COMPLEX_EN)]
    assert [c.content for c in chunks if c.content] == ["a", " b", " c", " d"]
    events = [e async for e in model.astream_events(COMPLEX_EN, version="v2")]
    streamed = [e for e in events if e["event"] == "on_chat_model_stream"]
    assert streamed, "astream_events must show streamed chunks"
    ends = [
        e for e in events if e["event"] == "on_chat_model_end" and e["name"] == "TieredChatModel"
    ]
    assert ends[0]["data"]["output"].response_metadata["tiered"]["tier"] == "critical"


def test_empty_stream_is_a_valid_answer() -> None:
    tier_model = FakeTier(script=[AIMessage(content="")])
    model = TieredChatModel(tiers=[Tier(name="only", model=tier_model, price=PRICES["budget"])])
    chunks = list(model.stream("hi"))
    assert "".join(str(c.content) for c in chunks) == ""
    assert chunks[-1].response_metadata["tiered"]["tier"] == "only"


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def test_bind_tools_reaches_every_tier_and_routes_per_call() -> None:
    model = make_model()
    bound = model.bind_tools([add])
    bound.invoke(SIMPLE_EN)
    bound.invoke(COMPLEX_EN)
    for name in ("budget", "critical"):
        calls = model.tiers[[t.name for t in model.tiers].index(name)].model.calls  # type: ignore[attr-defined]
        assert calls[-1]["kwargs"]["tools"][0]["function"]["name"] == "add"


def test_tier_without_tool_support_is_skipped_with_reason() -> None:
    tiers = [
        Tier(name="smart", model=FakeTier(model_name="s"), price=PRICES["critical"]),
        Tier(
            name="cheap",
            model=FakeTier(model_name="c", supports_tools=False),
            price=PRICES["budget"],
        ),
    ]
    model = TieredChatModel(tiers=tiers)
    meta = model.bind_tools([add]).invoke(SIMPLE_EN).response_metadata["tiered"]
    assert meta["tier"] == "smart"
    assert meta["skipped"] == [{"tier": "cheap", "reason": "model FakeTier cannot bind tools"}]
    assert "cannot bind tools" in meta["reason"]


class Capital(BaseModel):
    """A country's capital."""

    country: str
    capital: str


class CapitalDict(TypedDict):
    """A country's capital."""

    country: str
    capital: str


CAPITAL_JSON = {
    "title": "Capital",
    "description": "A country's capital.",
    "type": "object",
    "properties": {"country": {"type": "string"}, "capital": {"type": "string"}},
    "required": ["country", "capital"],
}


@pytest.mark.parametrize("schema", [Capital, CapitalDict, CAPITAL_JSON])
def test_with_structured_output_across_tiers(schema: Any) -> None:
    def respond(messages: Any, kwargs: Any) -> AIMessage:
        name = kwargs["tools"][0]["function"]["name"]
        args = {"country": "France", "capital": "Paris"}
        return AIMessage(
            content="",
            tool_calls=[{"name": name, "args": args, "id": "c1"}],
            usage_metadata=usage(20, 10),
        )

    tiers = [
        Tier(name=n, model=FakeTier(model_name=n, respond=respond), price=PRICES[n])
        for n in ("critical", "budget")
    ]
    model = TieredChatModel(tiers=tiers)
    structured = model.with_structured_output(schema)
    for tier in ("critical", "budget"):
        out = structured.invoke("What is the capital of France?", tier=tier)  # type: ignore[call-arg]
        value = out.model_dump() if isinstance(out, BaseModel) else out
        assert value == {"country": "France", "capital": "Paris"}
    assert all(len(t.model.calls) == 1 for t in tiers)  # type: ignore[attr-defined]


def test_structured_output_flag_reaches_router() -> None:
    seen: list[bool] = []

    def router(req: Any) -> RouteDecision:
        seen.append(req.structured_output)
        return RouteDecision(tier="critical", reason="x")

    def respond(messages: Any, kwargs: Any) -> AIMessage:
        return AIMessage(
            content="",
            tool_calls=[{"name": "Capital", "args": {"country": "a", "capital": "b"}, "id": "1"}],
        )

    tiers = [Tier(name="critical", model=FakeTier(respond=respond), price=PRICES["critical"])]
    TieredChatModel(tiers=tiers, router=router).with_structured_output(Capital).invoke("x")
    TieredChatModel(tiers=tiers, router=router).invoke("x")
    assert seen == [True, False]


def test_create_agent_multi_step_tool_loop() -> None:
    from langchain.agents import create_agent

    def respond(messages: Any, kwargs: Any) -> AIMessage:
        if messages[-1].type == "tool":
            return AIMessage(
                content=f"The sum is {messages[-1].content}", usage_metadata=usage(30, 5)
            )
        n = sum(1 for m in messages if m.type == "tool")
        return AIMessage(
            content="",
            tool_calls=[{"name": "add", "args": {"a": n, "b": 2}, "id": f"c{n}"}],
            usage_metadata=usage(25, 8),
        )

    tiers = [
        Tier(name=n, model=FakeTier(model_name=n, respond=respond), price=PRICES[n])
        for n in ("critical", "budget")
    ]
    model = TieredChatModel(tiers=tiers)
    agent = create_agent(model, tools=[add])
    result = agent.invoke({"messages": [HumanMessage(content="Add 0 and 2 please")]})
    messages = result["messages"]
    assert [m.type for m in messages] == ["human", "ai", "tool", "ai"]
    assert messages[2].content == "2"
    assert messages[-1].content == "The sum is 2"
    assert all("tiered" in m.response_metadata for m in messages if m.type == "ai")


def test_ls_params_name_the_tier_set_or_the_override() -> None:
    model = make_model()
    params = model._get_ls_params()
    assert params["ls_provider"] == "tiered"
    assert params["ls_model_name"] == "tiered:critical|standard|budget"
    assert model._get_ls_params(tier="budget")["ls_model_name"] == "budget-model"
    assert model._llm_type == "tiered-chat-model"
    assert [t["name"] for t in model._identifying_params["tiers"]] == [
        "critical",
        "standard",
        "budget",
    ]


def test_tier_is_immutable_and_repr_is_short() -> None:
    t = Tier(name="x", model=FakeTier(model_name="m"), price=PRICES["budget"])
    with pytest.raises(Exception):  # noqa: B017, PT011 - pydantic's frozen error
        t.name = "y"  # type: ignore[misc]
    assert repr(t) == "Tier(name='x', model=FakeTier('m'))"
    assert operator.attrgetter("model_name")(t) == "m"


def test_plan_previews_without_calling_any_tier() -> None:
    model = make_model(max_tokens=100)
    plan = model.plan(COMPLEX_EN)
    assert (plan.routed_tier, plan.tier, plan.skipped) == ("critical", "critical", ())
    assert plan.chosen is not None
    assert plan.chosen.max_output_tokens == 100
    assert set(plan.on_tier) == {"critical", "standard", "budget"}
    budget = plan.on_tier["budget"]
    assert budget.worst_case_usd == pytest.approx(
        PRICES["budget"].worst_case(budget.prompt_tokens, 100)
    )
    assert model.plan(COMPLEX_EN, tier="budget").tier == "budget"
    capped = make_model(max_tokens=100, max_cost_per_call=plan.on_tier["standard"].worst_case_usd)
    downgraded = capped.plan(COMPLEX_EN)
    assert (downgraded.routed_tier, downgraded.tier) == ("critical", "standard")
    assert downgraded.skipped[0][0] == "critical"
    assert all(t.model.calls == [] for t in model.tiers)  # type: ignore[attr-defined]


class RunLog(BaseTracer):
    """Records run starts (id, parent) and custom events.

    A tracer: the tier's child run is reported to tracers only (plain handlers see one run).
    """

    def __init__(self) -> None:
        super().__init__(_schema_format="streaming_events")  # the format that keeps chat runs
        self.starts: list[tuple[Any, Any, str]] = []
        self.events: list[str] = []

    def _persist_run(self, run: Run) -> None:
        pass

    def _on_chat_model_start(self, run: Run) -> None:
        self.starts.append((run.id, run.parent_run_id, run.name))

    def on_custom_event(self, name: str, data: Any, **kw: Any) -> None:
        self.events.append(name)


def test_stream_honours_config_metadata_and_nests_the_tier_run() -> None:
    model = make_model()
    log = RunLog()
    chunks = list(
        model.stream(COMPLEX_EN, config={"metadata": {"tier": "budget"}, "callbacks": [log]})
    )
    assert chunks[-1].response_metadata["tiered"]["tier"] == "budget"
    (outer_id, outer_parent, _), (_, inner_parent, _) = log.starts
    assert outer_parent is None
    assert inner_parent == outer_id  # the tier's run is a child of the tiered run
    assert log.events == ["tiered.route"]
    assert chunks[-1].response_metadata["tiered"]["run_id"] == str(outer_id)


async def test_astream_honours_config_metadata_and_nests_the_tier_run() -> None:
    model = make_model()
    log = RunLog()
    cfg = {"metadata": {"tier": "standard"}, "callbacks": [log]}
    chunks = [c async for c in model.astream(SIMPLE_EN, config=cfg)]
    assert chunks[-1].response_metadata["tiered"]["tier"] == "standard"
    assert log.starts[1][1] == log.starts[0][0]
    assert log.events == ["tiered.route"]


async def test_streaming_invoke_path_sees_metadata() -> None:
    # astream_events attaches a streaming handler: invoke() then goes through _stream
    model = make_model()
    chain = ChatPromptTemplate.from_messages([("human", "{q}")]) | model
    events = [
        e
        async for e in chain.astream_events(
            {"q": COMPLEX_EN}, config={"metadata": {"tier": "budget"}}, version="v2"
        )
    ]
    ends = [
        e for e in events if e["event"] == "on_chat_model_end" and e["name"] == "TieredChatModel"
    ]
    assert ends[0]["data"]["output"].response_metadata["tiered"]["tier"] == "budget"


def test_bound_tier_run_nests_under_tiered_run_inside_a_chain() -> None:
    # inside a lambda the ambient config would otherwise make the tier a sibling run
    from langchain_core.runnables import RunnableLambda

    model = make_model()
    log = RunLog()
    bound = model.bind_tools([add])
    # a lambda, not bound.invoke itself: the call must see only the ambient config
    RunnableLambda(lambda x: bound.invoke(x)).invoke(SIMPLE_EN, config={"callbacks": [log]})  # noqa: PLW0108
    (outer, _, name_outer), (_, inner_parent, name_inner) = log.starts
    assert (name_outer, name_inner) == ("TieredChatModel", "FakeTier")
    assert inner_parent == outer


def test_per_call_model_selects_the_tier_serving_it() -> None:
    model = make_model()
    meta = model.invoke(COMPLEX_EN, model="budget-model").response_metadata["tiered"]
    assert (meta["tier"], meta["model_name"]) == ("budget", "budget-model")
    assert "model" not in model.tiers[2].model.calls[0]["kwargs"]  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="not served by any tier"):
        model.invoke("hi", model="gpt-4.1")


def test_baseline_prices_the_same_usage_on_the_top_tier() -> None:
    model = make_model()
    model.tiers[2].model.script = [AIMessage(content="x", usage_metadata=usage(1000, 100))]  # type: ignore[attr-defined]
    meta = model.invoke(SIMPLE_EN).response_metadata["tiered"]
    assert meta["tier"] == "budget"
    assert meta["baseline_cost_usd"] == pytest.approx(PRICES["critical"].cost(usage(1000, 100)))
    # without usage (estimated cost) the baseline is estimated the same way, not set to the cost
    model.tiers[2].model.script = [AIMessage(content="a few words here")]  # type: ignore[attr-defined]
    meta = model.invoke(SIMPLE_EN).response_metadata["tiered"]
    assert meta["cost_is_estimate"] is True
    assert meta["baseline_cost_usd"] > meta["cost_usd"] > 0


def test_usage_without_input_tokens_bills_the_estimate_and_says_so() -> None:
    model = make_model()
    lost = {"input_tokens": 0, "output_tokens": 50, "total_tokens": 50}
    model.tiers[2].model.script = [AIMessage(content="x", usage_metadata=lost)]  # type: ignore[attr-defined]
    meta = model.invoke(SIMPLE_EN).response_metadata["tiered"]
    assert meta["cost_is_estimate"] is True
    n = meta["prompt_tokens_estimate"]
    assert meta["cost_usd"] == pytest.approx(PRICES["budget"].cost(usage(n, 50)))


def test_baseline_prices_the_top_tier_at_the_time_of_the_call() -> None:
    from datetime import datetime, timezone

    from langchain_tiered import PriceBook
    from langchain_tiered._clock import FakeClock

    pro = PriceBook.default().price_for("deepseek-v4-pro")  # off-peak rates at half the peak
    saturday = datetime(2026, 11, 28, 3, 0, tzinfo=timezone.utc)  # off-peak
    answer = AIMessage(content="x", usage_metadata=usage(1000, 100))
    top = Tier(name="top", model=FakeTier(model_name="pro", script=[answer]), price=pro)
    cheap_model = FakeTier(model_name="cheap-model", script=[answer])
    cheap = Tier(name="cheap", model=cheap_model, price=PRICES["budget"])
    model = TieredChatModel(tiers=[top, cheap], clock=FakeClock(saturday), max_tokens=200)
    meta = model.invoke("hi", model="cheap-model").response_metadata["tiered"]
    assert meta["tier"] == "cheap"
    assert meta["baseline_cost_usd"] == pytest.approx(pro.cost(usage(1000, 100), at=saturday))
    assert meta["baseline_cost_usd"] < pro.cost(usage(1000, 100))  # not the peak rate
