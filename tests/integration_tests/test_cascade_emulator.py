"""Cascades over ``ChatOpenAI`` tiers against the live emulator: real HTTP, real usage, real cost.

Each test scripts what the cheap and the capable model answer, then checks which requests were
sent, what the caller got (never text from a rejected step), and that ``cost_usd`` is the sum
of every request's cost at its tier's price, judge calls included.
"""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_openai import ChatOpenAI
from pydantic import BaseModel

from langchain_tiered import (
    Budget,
    BudgetExceededError,
    InMemoryLedger,
    ModelPrice,
    Tier,
    TieredChatModel,
    get_tiered_cost_callback,
)
from langchain_tiered.cascade import (
    Cascade,
    CascadeRejectedError,
    Judge,
    Matches,
    NotEmpty,
    NotRefusal,
    NotTruncated,
    ValidStructuredOutput,
    ValidToolCalls,
)
from langchain_tiered.fallbacks import RetryPolicy
from langchain_tiered.testing import OpenAICompatibleEmulator, Reply
from tests.integration_tests._replay import emulator_chat

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("close_async_clients")]

BIG = ModelPrice(input_per_mtok=2.50, output_per_mtok=10.00)
SMALL = ModelPrice(input_per_mtok=0.10, output_per_mtok=0.40)
PRICES = {"big-model": BIG, "small-model": SMALL}
REFUSAL = "I'm sorry, but I can't help with that."
ANSWER = Matches(r"answer is \d+", reason="no final number")


def chat(emu: OpenAICompatibleEmulator, model: str) -> ChatOpenAI:
    return emulator_chat(emu.base_url, model)


def tiered(emu: OpenAICompatibleEmulator, cascade: Cascade | None, **kw: Any) -> TieredChatModel:
    return TieredChatModel(
        tiers=[
            Tier(name="big", model=chat(emu, "big-model"), price=BIG),
            Tier(name="small", model=chat(emu, "small-model"), price=SMALL),
        ],
        cascade=cascade,
        retry=RetryPolicy(max_attempts=1),
        max_tokens=100,
        **kw,
    )


def cheapest_first(*validators: Any, **kw: Any) -> Cascade:
    return Cascade(validators=validators, start="cheapest", **kw)


def sent(emu: OpenAICompatibleEmulator) -> list[str]:
    return [r.model for r in emu.requests]


def billed(emu: OpenAICompatibleEmulator) -> float:
    """The cost of every request the emulator served, at the tier prices (by hand)."""
    return (
        sum(
            (r.prompt_tokens * PRICES[r.model].input_per_mtok)
            + (r.completion_tokens * PRICES[r.model].output_per_mtok)
            for r in emu.requests
        )
        / 1e6
    )


def meta_of(message: BaseMessage) -> dict[str, Any]:
    meta = message.response_metadata["tiered"]
    assert isinstance(meta, dict)
    return meta


def verdicts(meta: dict[str, Any]) -> list[tuple[str, str]]:
    return [(s["tier"], s["verdict"]) for s in meta["steps"]]


# -- accept, reject-then-escalate, all reject --------------------------------------------


def test_cheap_answer_accepted_costs_one_cheap_call(emu: OpenAICompatibleEmulator) -> None:
    emu.script("small-model", Reply(content="The answer is 42."))

    message = tiered(emu, cheapest_first(NotEmpty(), ANSWER)).invoke("What is 6 x 7?")

    meta = meta_of(message)
    assert message.content == "The answer is 42."
    assert sent(emu) == ["small-model"]
    assert verdicts(meta) == [("small", "accept")]
    assert meta["tier"] == "small"
    assert meta["cascade_accepted"] is True
    assert meta["cost_usd"] == pytest.approx(billed(emu), rel=1e-12)


def test_refusal_escalates_and_total_counts_both_steps(emu: OpenAICompatibleEmulator) -> None:
    emu.script("small-model", Reply(content=REFUSAL))
    emu.script("big-model", Reply(content="The answer is 42."))

    message = tiered(emu, cheapest_first(NotRefusal(), ANSWER)).invoke("What is 6 x 7?")

    meta = meta_of(message)
    assert message.content == "The answer is 42."
    assert sent(emu) == ["small-model", "big-model"]
    assert verdicts(meta) == [("small", "reject"), ("big", "accept")]
    assert meta["steps"][0]["reason"] == "the answer is a refusal"
    assert meta["steps"][0]["validator"] == "NotRefusal"
    assert meta["cost_usd"] == pytest.approx(billed(emu), rel=1e-12)
    step_costs = sum(s["cost_usd"] for s in meta["steps"])
    assert meta["cost_usd"] == pytest.approx(step_costs, rel=1e-12)
    # Honest savings: the big answer's own cost is its baseline, the cheap try is pure overhead.
    assert meta["baseline_cost_usd"] == pytest.approx(meta["steps"][1]["cost_usd"], rel=1e-12)
    assert meta["baseline_cost_usd"] < meta["cost_usd"]


def test_every_step_rejected_returns_last_answer_marked(emu: OpenAICompatibleEmulator) -> None:
    emu.script("small-model", Reply(content="no idea"))
    emu.script("big-model", Reply(content="still no number"))

    message = tiered(emu, cheapest_first(ANSWER)).invoke("What is 6 x 7?")

    meta = meta_of(message)
    assert message.content == "still no number"
    assert verdicts(meta) == [("small", "reject"), ("big", "reject")]
    assert meta["cascade_accepted"] is False
    assert meta["cost_usd"] == pytest.approx(billed(emu), rel=1e-12)


def test_every_step_rejected_raises_when_configured(emu: OpenAICompatibleEmulator) -> None:
    emu.script("small-model", Reply(content="no idea"))
    emu.script("big-model", Reply(content="still no number"))
    model = tiered(emu, cheapest_first(ANSWER, on_rejected="raise"))

    with pytest.raises(CascadeRejectedError, match="every cascade step was rejected") as info:
        model.invoke("What is 6 x 7?")

    assert [s["verdict"] for s in info.value.steps] == ["reject", "reject"]
    assert info.value.message.content == "still no number"


def test_truncated_answer_escalates(emu: OpenAICompatibleEmulator) -> None:
    emu.script("small-model", Reply(content="The answer is", finish_reason="length"))
    emu.script("big-model", Reply(content="The answer is 42."))

    message = tiered(emu, cheapest_first(NotTruncated())).invoke("What is 6 x 7?")

    assert verdicts(meta_of(message)) == [("small", "reject"), ("big", "accept")]
    assert "cut off" in meta_of(message)["steps"][0]["reason"]


# -- money: a cap or a budget that only allows the first step ----------------------------


def test_cap_that_only_allows_first_step_never_calls_big(emu: OpenAICompatibleEmulator) -> None:
    # small worst case ~ $0.00004 fits; small cost + big worst case (~$0.0011) does not.
    emu.script("small-model", Reply(content="no idea"))
    model = tiered(emu, cheapest_first(ANSWER), max_cost_per_call=0.0005)

    message = model.invoke("What is 6 x 7?")

    meta = meta_of(message)
    assert sent(emu) == ["small-model"]
    assert message.content == "no idea"
    assert meta["cascade_accepted"] is False
    assert verdicts(meta) == [("small", "reject")]
    assert meta["cost_usd"] == pytest.approx(billed(emu), rel=1e-12)
    assert meta["estimated_cost_usd"] <= 0.0005


def test_cap_that_allows_no_step_raises_before_sending(emu: OpenAICompatibleEmulator) -> None:
    model = tiered(emu, cheapest_first(ANSWER), max_cost_per_call=1e-9)

    with pytest.raises(BudgetExceededError):
        model.invoke("What is 6 x 7?")
    assert sent(emu) == []


def test_budget_that_only_allows_first_step(emu: OpenAICompatibleEmulator) -> None:
    ledger = InMemoryLedger()
    budget = Budget(limit_usd=0.0005, ledger=ledger)
    emu.script("small-model", Reply(content="no idea"), Reply(content="no idea either"))
    model = tiered(emu, cheapest_first(ANSWER), budget=budget)

    first = model.invoke("What is 6 x 7?")
    second = model.invoke("What is 6 x 8?")

    key = meta_of(first)["budget_keys"][0]
    assert sent(emu) == ["small-model", "small-model"]
    assert [verdicts(meta_of(m)) for m in (first, second)] == [[("small", "reject")]] * 2
    assert ledger.spent(key) == pytest.approx(billed(emu), rel=1e-12)
    assert ledger.spent(key) <= 0.0005
    assert ledger.reserved(key) == 0.0


# -- judge --------------------------------------------------------------------------------


def test_judge_grades_on_cheap_tier_and_its_cost_counts(emu: OpenAICompatibleEmulator) -> None:
    emu.script("small-model", Reply(content="The answer is 41."), Reply(content="2"))
    emu.script("big-model", Reply(content="The answer is 42."))
    emu.script("small-model", Reply(content="9"))
    cascade = cheapest_first(Judge(tier="small", threshold=0.7), validate_last=True)

    message = tiered(emu, cascade).invoke("What is 6 x 7?")

    meta = meta_of(message)
    assert message.content == "The answer is 42."
    assert sent(emu) == ["small-model", "small-model", "big-model", "small-model"]
    assert verdicts(meta) == [("small", "reject"), ("big", "accept")]
    assert meta["steps"][0]["reason"] == "judge grade 2/10 (threshold 7)"
    assert meta["steps"][0]["judge_cost_usd"] > 0
    assert meta["cost_usd"] == pytest.approx(billed(emu), rel=1e-12)
    grading = emu.requests[1]
    assert grading.prompt_tokens > 0


def test_german_question_gets_german_rubric(emu: OpenAICompatibleEmulator) -> None:
    prompts: list[str] = []

    def grade(body: dict[str, Any]) -> Reply:
        prompts.append(body["messages"][-1]["content"])
        return Reply(content="8")

    emu.script("small-model", Reply(content="Die Antwort ist 42."), grade)
    cascade = cheapest_first(Judge(tier="small"))

    tiered(emu, cascade).invoke("Was ist sechs mal sieben? Bitte rechne es aus.")

    assert len(prompts) == 1
    assert prompts[0].startswith("Bewertungsschema:")


# -- tools and structured output ----------------------------------------------------------


class Weather(BaseModel):
    """Weather in a city."""

    city: str
    days: int


def test_tool_call_to_unknown_tool_escalates(emu: OpenAICompatibleEmulator) -> None:
    emu.script("small-model", Reply.tool_call("wether", {"city": "Berlin", "days": 2}))
    emu.script("big-model", Reply.tool_call("Weather", {"city": "Berlin", "days": 2}))
    model = tiered(emu, cheapest_first(ValidToolCalls())).bind_tools([Weather])

    message = model.invoke("Weather in Berlin for two days?")

    assert isinstance(message, AIMessage)
    assert [c["name"] for c in message.tool_calls] == ["Weather"]
    assert "unknown tool 'wether'" in meta_of(message)["steps"][0]["reason"]


def test_structured_output_with_bad_args_escalates(emu: OpenAICompatibleEmulator) -> None:
    emu.script("small-model", Reply.tool_call("Weather", {"city": "Berlin", "days": "two"}))
    emu.script("big-model", Reply.tool_call("Weather", {"city": "Berlin", "days": 2}))
    model = tiered(emu, cheapest_first(ValidStructuredOutput()))

    result = model.with_structured_output(Weather).invoke("Weather in Berlin for two days?")

    assert result == Weather(city="Berlin", days=2)
    assert sent(emu) == ["small-model", "big-model"]


# -- streaming ----------------------------------------------------------------------------


def text_of(chunks: list[AIMessageChunk]) -> str:
    return "".join(str(c.content) for c in chunks)


def test_stream_never_emits_rejected_text(emu: OpenAICompatibleEmulator) -> None:
    emu.script("small-model", Reply(content=REFUSAL))
    emu.script("big-model", Reply(content="The answer is 42, computed carefully."))

    chunks = list(tiered(emu, cheapest_first(NotRefusal())).stream("What is 6 x 7?"))

    assert text_of(chunks) == "The answer is 42, computed carefully."
    assert len(chunks) > 2  # the last step streams live
    meta = meta_of(chunks[-1])
    assert verdicts(meta) == [("small", "reject"), ("big", "accept")]
    assert meta["cost_usd"] == pytest.approx(billed(emu), rel=1e-12)
    assert [r.stream for r in emu.requests] == [False, True]


def test_stream_emits_accepted_cheap_answer_whole(emu: OpenAICompatibleEmulator) -> None:
    emu.script("small-model", Reply(content="The answer is 42."))

    chunks = list(tiered(emu, cheapest_first(ANSWER)).stream("What is 6 x 7?"))

    assert text_of(chunks) == "The answer is 42."
    assert verdicts(meta_of(chunks[-1])) == [("small", "accept")]
    assert sent(emu) == ["small-model"]


async def test_astream_never_emits_rejected_text(emu: OpenAICompatibleEmulator) -> None:
    emu.script("small-model", Reply(content=REFUSAL))
    emu.script("big-model", Reply(content="The answer is 42."))

    model = tiered(emu, cheapest_first(NotRefusal()))
    chunks = [c async for c in model.astream("What is 6 x 7?")]

    assert text_of(chunks) == "The answer is 42."
    assert meta_of(chunks[-1])["cost_usd"] == pytest.approx(billed(emu), rel=1e-12)


# -- async, batch, callbacks, per-call override -------------------------------------------


async def test_ainvoke_escalates(emu: OpenAICompatibleEmulator) -> None:
    emu.script("small-model", Reply(content=""))
    emu.script("big-model", Reply(content="The answer is 42."))

    message = await tiered(emu, cheapest_first(NotEmpty())).ainvoke("What is 6 x 7?")

    assert verdicts(meta_of(message)) == [("small", "reject"), ("big", "accept")]
    assert meta_of(message)["cost_usd"] == pytest.approx(billed(emu), rel=1e-12)


def test_batch_and_cost_callback_count_each_step_once(emu: OpenAICompatibleEmulator) -> None:
    def small(body: dict[str, Any]) -> Reply:
        asked = body["messages"][-1]["content"]
        return Reply(content="The answer is 1." if "one" in asked else REFUSAL)

    emu.respond_with(small, model="small-model")
    emu.respond_with(lambda body: Reply(content="The answer is 2."), model="big-model")
    model = tiered(emu, cheapest_first(NotRefusal()))

    with get_tiered_cost_callback() as cb:
        answers = model.batch(["say one", "say two"], config={"max_concurrency": 1})

    assert [a.content for a in answers] == ["The answer is 1.", "The answer is 2."]
    assert sorted(sent(emu)) == ["big-model", "small-model", "small-model"]
    assert cb.calls == len(answers)
    assert cb.total_cost_usd == pytest.approx(billed(emu), rel=1e-12)


def test_per_call_cascade_override(emu: OpenAICompatibleEmulator) -> None:
    emu.script("small-model", Reply(content=REFUSAL), Reply(content=REFUSAL))
    emu.script("big-model", Reply(content="The answer is 42."))
    model = tiered(emu, None, router=lambda request: _route("small"))

    plain = model.invoke("What is 6 x 7?")
    cascaded = model.invoke("What is 6 x 7?", cascade=Cascade(validators=[NotRefusal()]))

    assert plain.content == REFUSAL
    assert "steps" not in meta_of(plain)
    assert cascaded.content == "The answer is 42."
    assert meta_of(cascaded)["routed_tier"] == "small"


def _route(tier: str) -> Any:
    from langchain_tiered import RouteDecision

    return RouteDecision(tier=tier, reason=f"test: always {tier}")


@pytest.mark.parametrize("method", ["json_schema", "json_mode"])
def test_structured_output_as_json_text_escalates(
    emu: OpenAICompatibleEmulator, method: str
) -> None:
    # A JSON-schema dict: with a pydantic class ChatOpenAI's json_schema path has the OpenAI
    # SDK parse the answer itself, which raises inside the tier call instead of answering.
    schema = {"title": "Weather", **Weather.model_json_schema()}
    emu.script("small-model", Reply(content='{"city": "Berlin", "days": "two"}'))
    emu.script("big-model", Reply(content='{"city": "Berlin", "days": 2}'))
    model = tiered(emu, cheapest_first(ValidStructuredOutput()))

    structured = model.with_structured_output(schema, method=method, include_raw=True)
    result = structured.invoke("Weather in Berlin for two days? Answer in JSON.")

    assert result["parsed"] == {"city": "Berlin", "days": 2}
    steps = meta_of(result["raw"])["steps"]
    assert [(s["tier"], s["verdict"]) for s in steps] == [("small", "reject"), ("big", "accept")]
    assert "expected integer, got str" in steps[0]["reason"]
