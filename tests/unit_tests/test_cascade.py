"""The cascade's escalation loop over fake tiers: ladder, caps, ledger, callbacks, agents."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.tools import tool

from langchain_tiered import (
    Budget,
    InMemoryLedger,
    RouteDecision,
    Tier,
    TieredChatModel,
    get_tiered_cost_callback,
)
from langchain_tiered.cascade import (
    Cascade,
    CascadeRequest,
    Matches,
    NotEmpty,
    ValidToolCalls,
    Verdict,
)
from tests.unit_tests.fakes import PRICES, FakeTier, usage

GOOD = AIMessage(content="The answer is 42.", usage_metadata=usage(20, 10))
BAD = AIMessage(content="no idea", usage_metadata=usage(20, 5))
FINAL = Matches(r"answer is \d+", reason="no final number")


def cost(tier: str, message: AIMessage) -> float:
    assert message.usage_metadata is not None
    return PRICES[tier].cost(message.usage_metadata)


def model(
    replies: dict[str, AIMessage], cascade: Cascade | None = None, **kw: Any
) -> tuple[TieredChatModel, dict[str, FakeTier]]:
    fakes = {name: FakeTier(model_name=f"{name}-model", script=[replies[name]]) for name in PRICES}
    tiers = [
        Tier(name=name, model=fakes[name], price=PRICES[name], **kw.pop(f"{name}_tier", {}))
        for name in PRICES
    ]
    return TieredChatModel(tiers=tiers, cascade=cascade, max_tokens=200, **kw), fakes


def called(fakes: dict[str, FakeTier]) -> dict[str, int]:
    return {name: len(f.calls) for name, f in fakes.items()}


def steps(message: BaseMessage) -> list[tuple[str, str]]:
    return [(s["tier"], s["verdict"]) for s in message.response_metadata["tiered"]["steps"]]


def test_ladder_climbs_one_tier_at_a_time_with_exact_total() -> None:
    m, fakes = model(
        {"critical": GOOD, "standard": BAD, "budget": BAD},
        Cascade(validators=[FINAL], start="cheapest"),
    )

    message = m.invoke("What is 6 x 7?")

    meta = message.response_metadata["tiered"]
    assert steps(message) == [("budget", "reject"), ("standard", "reject"), ("critical", "accept")]
    assert called(fakes) == {"critical": 1, "standard": 1, "budget": 1}
    expected = cost("budget", BAD) + cost("standard", BAD) + cost("critical", GOOD)
    assert meta["cost_usd"] == pytest.approx(expected, rel=1e-12)
    assert meta["routed_tier"] == "budget"
    assert meta["reason"].endswith(
        "cascade: budget (reject) -> standard (reject) -> critical (accept)"
    )


def test_start_routed_uses_router_and_never_asks_cheaper_tiers() -> None:
    m, fakes = model(
        {"critical": GOOD, "standard": BAD, "budget": GOOD},
        Cascade(validators=[FINAL]),
        router=lambda request: RouteDecision(tier="standard", reason="test: standard"),
    )

    message = m.invoke("What is 6 x 7?")

    assert steps(message) == [("standard", "reject"), ("critical", "accept")]
    assert called(fakes)["budget"] == 0
    assert message.response_metadata["tiered"]["reason"].startswith("test: standard")


def test_tier_override_sets_the_start_tier() -> None:
    m, fakes = model({"critical": GOOD, "standard": GOOD, "budget": BAD}, Cascade([FINAL]))

    message = m.invoke("What is 6 x 7?", tier="standard")

    assert steps(message) == [("standard", "accept")]
    assert called(fakes) == {"critical": 0, "standard": 1, "budget": 0}


def test_tier_ruled_out_by_preflight_is_skipped() -> None:
    m, fakes = model(
        {"critical": GOOD, "standard": GOOD, "budget": BAD},
        Cascade(validators=[FINAL], start="cheapest"),
        standard_tier={"context_window": 5},
    )

    message = m.invoke("What is 6 x 7? Please show every step of the calculation.")

    meta = message.response_metadata["tiered"]
    assert steps(message) == [("budget", "reject"), ("critical", "accept")]
    assert called(fakes)["standard"] == 0
    assert [s["tier"] for s in meta["skipped"]] == ["standard"]


def test_max_steps_stops_early_and_marks_answer() -> None:
    m, fakes = model(
        {"critical": GOOD, "standard": BAD, "budget": BAD},
        Cascade(validators=[FINAL], start="cheapest", max_steps=2),
    )

    message = m.invoke("What is 6 x 7?")

    assert steps(message) == [("budget", "reject"), ("standard", "reject")]
    assert message.response_metadata["tiered"]["cascade_accepted"] is False
    assert called(fakes)["critical"] == 0


def test_validate_last_off_leaves_top_answer_unchecked() -> None:
    seen: list[str] = []

    def spy(request: CascadeRequest, message: AIMessage) -> Verdict:
        seen.append(request.tier)
        return FINAL(request, message)

    m, _ = model(
        {"critical": BAD, "standard": BAD, "budget": BAD},
        Cascade(validators=[spy], start="cheapest", validate_last=False),
    )

    message = m.invoke("What is 6 x 7?")

    assert seen == ["budget", "standard"]
    assert steps(message)[-1] == ("critical", "unchecked")
    assert message.response_metadata["tiered"]["cascade_accepted"] is True


def test_validators_run_in_order_and_first_rejection_decides() -> None:
    order: list[str] = []

    def named(name: str, ok: bool) -> Any:
        def check(request: CascadeRequest, message: AIMessage) -> Verdict:
            order.append(name)
            return Verdict(ok, name)

        return check

    m, _ = model(
        {"critical": GOOD, "standard": GOOD, "budget": GOOD},
        Cascade(validators=[named("a", True), named("b", False), named("c", True)], max_steps=1),
        router=lambda request: RouteDecision(tier="budget", reason="test"),
    )

    message = m.invoke("hi")

    assert order == ["a", "b"]
    assert message.response_metadata["tiered"]["steps"][0]["reason"] == "b"


@pytest.mark.parametrize("cap", [0.0004, 0.0008, 0.002, 0.01])
def test_total_never_exceeds_max_cost_per_call(cap: float) -> None:
    m, fakes = model(
        {"critical": BAD, "standard": BAD, "budget": BAD},
        Cascade(validators=[FINAL], start="cheapest"),
        max_cost_per_call=cap,
    )

    message = m.invoke("What is 6 x 7?")

    meta = message.response_metadata["tiered"]
    assert meta["cost_usd"] <= cap
    spent = 0.0
    for step in meta["steps"]:  # each step's worst case fitted what the earlier ones left
        assert step["estimated_cost_usd"] <= cap - spent
        spent += step["cost_usd"]
    assert sum(called(fakes).values()) == len(meta["steps"])


def test_ledger_records_every_step_and_only_the_answer_claims_a_baseline() -> None:
    ledger = InMemoryLedger()
    m, _ = model(
        {"critical": GOOD, "standard": BAD, "budget": BAD},
        Cascade(validators=[FINAL], start="cheapest"),
        budget=Budget(limit_usd=1.0, ledger=ledger),
    )

    message = m.invoke("What is 6 x 7?")

    records = ledger.records()
    meta = message.response_metadata["tiered"]
    assert [r.tier for r in records] == ["budget", "standard", "critical"]
    assert [r.baseline_cost_usd for r in records[:2]] == [0.0, 0.0]
    assert records[2].baseline_cost_usd == pytest.approx(cost("critical", GOOD))
    assert sum(r.cost_usd for r in records) == pytest.approx(meta["cost_usd"], rel=1e-12)
    assert ledger.spent(meta["budget_keys"][0]) == pytest.approx(meta["cost_usd"], rel=1e-12)


def test_cost_callback_counts_the_cascade_once_with_honest_savings() -> None:
    m, _ = model(
        {"critical": GOOD, "standard": GOOD, "budget": BAD},
        Cascade(validators=[FINAL], start="cheapest"),
    )

    with get_tiered_cost_callback() as cb:
        message = m.invoke("What is 6 x 7?")

    total = cost("budget", BAD) + cost("standard", GOOD)
    baseline = cost("critical", GOOD)  # the accepted answer's usage at the top tier's price
    assert cb.calls == 1
    assert cb.total_cost_usd == pytest.approx(total, rel=1e-12)
    assert cb.savings_usd == pytest.approx(baseline - total, rel=1e-12)
    assert [e["data"]["verdict"] for e in cb.events if e["name"] == "tiered.cascade"] == [
        "reject",
        "accept",
    ]
    assert message.response_metadata["tiered"]["baseline_cost_usd"] == pytest.approx(baseline)


async def test_async_twin_matches_sync() -> None:
    m, fakes = model(
        {"critical": GOOD, "standard": BAD, "budget": BAD},
        Cascade(validators=[NotEmpty(), FINAL], start="cheapest"),
    )

    message = await m.ainvoke("What is 6 x 7?")
    streamed = [c async for c in m.astream("What is 6 x 7?")]
    batched = await m.abatch(["What is 6 x 7?", "And 7 x 6?"])

    assert steps(message) == [("budget", "reject"), ("standard", "reject"), ("critical", "accept")]
    assert "".join(str(c.content) for c in streamed) == "The answer is 42."
    assert [steps(b) for b in batched] == [steps(message)] * 2
    assert called(fakes) == {"critical": 4, "standard": 4, "budget": 4}


def test_stream_last_step_is_live_and_rejected_text_never_appears() -> None:
    m, fakes = model(
        {"critical": GOOD, "standard": BAD, "budget": BAD},
        Cascade(validators=[FINAL], start="cheapest"),
    )

    chunks = list(m.stream("What is 6 x 7?"))

    text = "".join(str(c.content) for c in chunks)
    assert text == "The answer is 42."
    assert "no idea" not in text
    assert len(chunks) > 3  # word by word from the last step
    assert steps(chunks[-1]) == [
        ("budget", "reject"),
        ("standard", "reject"),
        ("critical", "accept"),
    ]
    assert called(fakes) == {"critical": 1, "standard": 1, "budget": 1}


def test_stream_with_raise_validates_last_step_before_emitting() -> None:
    from langchain_tiered.cascade import CascadeRejectedError

    m, _ = model(
        {"critical": BAD, "standard": BAD, "budget": BAD},
        Cascade(validators=[FINAL], start="cheapest", on_rejected="raise"),
    )
    emitted: list[str] = []

    with pytest.raises(CascadeRejectedError):
        emitted.extend(str(chunk.content) for chunk in m.stream("What is 6 x 7?"))
    assert emitted == []


@tool
def multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


def test_create_agent_loop_escalates_a_bad_tool_call_only() -> None:
    from langchain.agents import create_agent

    bad_call = AIMessage(
        content="",
        tool_calls=[{"name": "multiply", "args": {"a": "six", "b": 7}, "id": "c1"}],
        usage_metadata=usage(30, 8),
    )
    good_call = AIMessage(
        content="",
        tool_calls=[{"name": "multiply", "args": {"a": 6, "b": 7}, "id": "c2"}],
        usage_metadata=usage(30, 8),
    )
    done = AIMessage(content="6 x 7 = 42", usage_metadata=usage(40, 6))
    fakes = {
        "critical": FakeTier(model_name="critical-model", script=[good_call]),
        "standard": FakeTier(model_name="standard-model", script=[good_call]),
        "budget": FakeTier(model_name="budget-model", script=[bad_call, done]),
    }
    m = TieredChatModel(
        tiers=[Tier(name=n, model=f, price=PRICES[n]) for n, f in fakes.items()],
        cascade=Cascade(validators=[NotEmpty(), ValidToolCalls()], start="cheapest"),
    )
    agent = create_agent(m, tools=[multiply])

    result = agent.invoke({"messages": [HumanMessage("What is 6 x 7?")]})

    answers = [msg for msg in result["messages"] if isinstance(msg, AIMessage)]
    assert [steps(a) for a in answers] == [
        [("budget", "reject"), ("standard", "accept")],
        [("budget", "accept")],
    ]
    assert result["messages"][-1].content == "6 x 7 = 42"
    assert called(fakes) == {"critical": 0, "standard": 1, "budget": 2}


def grader(grade: str) -> Any:
    """A fake tier that answers questions badly and grades answers with ``grade``."""

    def respond(messages: list[BaseMessage], kwargs: dict[str, Any]) -> AIMessage:
        if "strict grader" in str(messages[0].content):
            return AIMessage(content=grade, usage_metadata=usage(60, 1))
        return BAD

    return respond


@pytest.mark.parametrize("cap", [0.0003, 0.0006, 0.001, 0.01])
def test_judge_calls_fit_the_cap_beside_the_answer_under_review(cap: float) -> None:
    from langchain_tiered.cascade import Judge

    m, fakes = model(
        {"critical": GOOD, "standard": GOOD, "budget": BAD},
        Cascade(validators=[Judge(tier="budget")], start="cheapest", validate_last=False),
        max_cost_per_call=cap,
    )
    fakes["budget"].respond = grader("2")

    message = m.invoke("What is 6 x 7?")

    meta = message.response_metadata["tiered"]
    assert meta["cost_usd"] <= cap
    assert meta["cost_usd"] == pytest.approx(sum(s["cost_usd"] for s in meta["steps"]), rel=1e-12)


def test_judge_cost_is_part_of_the_step() -> None:
    from langchain_tiered.cascade import Judge

    m, fakes = model(
        {"critical": GOOD, "standard": GOOD, "budget": BAD},
        Cascade(validators=[Judge(tier="budget")], start="cheapest", validate_last=False),
    )
    fakes["budget"].respond = grader("2")

    message = m.invoke("What is 6 x 7?")

    first = message.response_metadata["tiered"]["steps"][0]
    grading = AIMessage(content="2", usage_metadata=usage(60, 1))
    assert first["judge_cost_usd"] == pytest.approx(cost("budget", grading), rel=1e-12)
    assert first["cost_usd"] == pytest.approx(cost("budget", BAD) + cost("budget", grading))
    assert first["reason"] == "judge grade 2/10 (threshold 7)"
    assert steps(message) == [
        ("budget", "reject"),
        ("standard", "reject"),
        ("critical", "unchecked"),
    ]
    assert len(fakes["budget"].calls) == 3  # its answer, then grading budget's and standard's


def test_failing_validator_settles_the_answer_and_propagates() -> None:
    ledger = InMemoryLedger()

    def broken(request: CascadeRequest, message: AIMessage) -> Verdict:
        raise RuntimeError("validator bug")

    m, _ = model(
        {"critical": GOOD, "standard": GOOD, "budget": BAD},
        Cascade(validators=[broken], start="cheapest"),
        budget=Budget(limit_usd=1.0, ledger=ledger),
    )

    with pytest.raises(RuntimeError, match="validator bug"):
        m.invoke("What is 6 x 7?")

    (record,) = ledger.records()
    assert record.cost_usd == pytest.approx(cost("budget", BAD))
    assert ledger.reserved(record.budget_keys[0]) == 0.0
    assert ledger.spent(record.budget_keys[0]) == pytest.approx(cost("budget", BAD))


def test_refused_escalation_is_named_in_the_reason() -> None:
    m, _ = model(
        {"critical": GOOD, "standard": GOOD, "budget": BAD},
        Cascade(validators=[FINAL], start="cheapest"),
        max_cost_per_call=0.0004,
    )

    message = m.invoke("What is 6 x 7?")

    meta = message.response_metadata["tiered"]
    assert meta["reason"].endswith(
        "cascade: budget (reject); escalation to 'standard' refused (BudgetExceededError)"
    )
    assert meta["cascade_accepted"] is False


async def test_astream_events_never_carry_rejected_text() -> None:
    m, _ = model(
        {"critical": GOOD, "standard": GOOD, "budget": BAD},
        Cascade(validators=[FINAL], start="cheapest"),
    )

    texts = [
        str(event["data"]["chunk"].content)
        async for event in m.astream_events("What is 6 x 7?", version="v2")
        if event["event"] == "on_chat_model_stream"
    ]

    assert "".join(texts) == "The answer is 42."
    assert not any("idea" in t for t in texts)


def test_stream_inside_cost_callback_counts_every_step_once() -> None:
    m, _ = model(
        {"critical": GOOD, "standard": BAD, "budget": BAD},
        Cascade(validators=[FINAL], start="cheapest"),
    )

    with get_tiered_cost_callback() as cb:
        chunks = list(m.stream("What is 6 x 7?"))

    total = cost("budget", BAD) + cost("standard", BAD) + cost("critical", GOOD)
    assert cb.calls == 1
    assert cb.total_cost_usd == pytest.approx(total, rel=1e-12)
    assert chunks[-1].response_metadata["tiered"]["cost_usd"] == pytest.approx(total, rel=1e-12)


def test_budget_alert_fires_once_when_the_cascade_total_crosses_it() -> None:
    fired: list[Any] = []
    budget = Budget(limit_usd=0.02, alert_at=(0.05,), on_alert=fired.append)
    m, _ = model(
        {"critical": GOOD, "standard": BAD, "budget": BAD},
        Cascade(validators=[FINAL], start="cheapest"),
        budget=budget,
    )

    m.invoke("What is 6 x 7?")  # steps settle $0.00001, $0.000135, then $0.00105: crosses $0.001

    assert [(a.fraction, a.limit_usd) for a in fired] == [(0.05, 0.02)]
    total = cost("budget", BAD) + cost("standard", BAD) + cost("critical", GOOD)
    assert fired[0].spent_usd == pytest.approx(total, rel=1e-12)


def test_judge_on_unknown_tier_fails_before_any_call() -> None:
    from langchain_tiered.cascade import Judge

    m, fakes = model(
        {"critical": GOOD, "standard": GOOD, "budget": BAD},
        Cascade(validators=[Judge(tier="cheap")], start="cheapest"),
    )

    with pytest.raises(ValueError, match=r"Judge\(tier='cheap'\) names no tier; valid: critical"):
        m.invoke("What is 6 x 7?")
    assert sum(called(fakes).values()) == 0
