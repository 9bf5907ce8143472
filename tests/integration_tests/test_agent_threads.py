"""Thread stickiness against the caching emulator (issue 17).

Two OpenAI tiers with real list prices (gpt-5: $1.25 in / $0.125 cached / $10 out per
million tokens; gpt-5-mini: $0.25 / $0.025 / $2): on gpt-5-mini the *uncached* prompt costs
twice what it costs *cached* on gpt-5, so a thread with a long history loses money by moving
for one step and gains by moving for many.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_openai import ChatOpenAI

from langchain_tiered import Tier, TieredChatModel
from langchain_tiered.agents import InMemoryThreadStore
from langchain_tiered.pricing import PriceBook
from langchain_tiered.routing import RouteDecision, RouteRequest
from langchain_tiered.testing import FakeClock, OpenAICompatibleEmulator

pytestmark = pytest.mark.integration

TOP, MINI = "gpt-5", "gpt-5-mini"
# ~6,000 tokens of fixed history: far above the 1,024-token caching threshold.
LONG_SYSTEM = "You are a careful agent. " + " ".join(f"rule-{i} applies." for i in range(1500))


@pytest.fixture(scope="module")
def server() -> Iterator[OpenAICompatibleEmulator]:
    with OpenAICompatibleEmulator(prompt_cache=True) as emulator:
        yield emulator


def wanted(request: RouteRequest) -> RouteDecision:
    """Routes to the tier the test names in the call's metadata (default: top)."""
    tier = str(request.metadata.get("want", "top"))
    return RouteDecision(tier=tier, reason=f"test router: {tier}")


def make_model(emu: OpenAICompatibleEmulator, **kwargs: Any) -> TieredChatModel:
    def chat(name: str) -> ChatOpenAI:
        return ChatOpenAI(model=name, base_url=emu.base_url, api_key="sk-emulator", max_retries=0)

    return TieredChatModel(
        tiers=[Tier(name="top", model=chat(TOP)), Tier(name="mini", model=chat(MINI))],
        router=wanted,
        max_tokens=64,
        **kwargs,
    )


class Thread:
    """A growing history, one call per step, on one named thread."""

    def __init__(self, model: TieredChatModel, name: str) -> None:
        self.model = model
        self.name = name
        self.history: list[BaseMessage] = [SystemMessage(LONG_SYSTEM)]

    def step(self, question: str, want: str = "top") -> AIMessage:
        self.history.append(HumanMessage(question))
        metadata = {"tiered_thread": self.name, "want": want}
        answer = self.model.invoke(self.history, config={"metadata": metadata})
        assert isinstance(answer, AIMessage)
        self.history.append(answer)
        return answer


def tiered(answer: AIMessage) -> dict[str, Any]:
    return dict(answer.response_metadata["tiered"])


def cached_tokens(answer: AIMessage) -> int:
    usage: dict[str, Any] = dict(answer.usage_metadata or {})
    return int(usage.get("input_token_details", {}).get("cache_read", 0))


def test_switch_refused_because_the_cache_loss_outweighs_the_saving(
    emu: OpenAICompatibleEmulator,
) -> None:
    # Two steps expected in all: the router's move to mini would save over one step only.
    thread = Thread(make_model(emu, thread_expected_steps=2), "refused")
    assert tiered(thread.step("What is rule 7?"))["tier"] == "top"
    second = thread.step("And rule 8?", want="mini")
    meta = tiered(second)
    assert meta["routed_tier"] == "top"  # the thread's tier replaced the router's choice
    assert meta["tier"] == "top"
    assert "switch to 'mini' refused" in meta["reason"]
    assert "saving ~$" in meta["reason"]
    assert "cache loss ~$" in meta["reason"]
    saving = float(meta["reason"].split("saving ~$")[1].split()[0])
    loss = float(meta["reason"].split("cache loss ~$")[1].split(";")[0].split()[0])
    assert 0 < saving < loss
    # The stay paid off: the prompt was read from gpt-5's cache, and what gpt-5 billed is less
    # than the same usage would have cost uncached on gpt-5-mini (mini's cache was cold).
    usage = second.usage_metadata
    assert usage is not None
    assert cached_tokens(second) >= 5000
    book = PriceBook.default()
    uncached_on_mini = book.price_for(MINI).cost(
        {
            "input_tokens": usage["input_tokens"],
            "output_tokens": usage["output_tokens"],
            "total_tokens": usage["total_tokens"],
        }
    )
    assert meta["cost_usd"] == pytest.approx(book.price_for(TOP).cost(usage))
    assert meta["cost_usd"] < uncached_on_mini
    assert [r.model for r in emu.requests] == [TOP, TOP]


def test_switch_taken_when_the_saving_over_the_remaining_steps_is_larger(
    emu: OpenAICompatibleEmulator,
) -> None:
    thread = Thread(make_model(emu, thread_expected_steps=30), "taken")
    thread.step("What is rule 7?")
    moved = tiered(thread.step("And rule 8?", want="mini"))
    assert moved["tier"] == "mini"
    assert "thread switches from 'top'" in moved["reason"]
    third = thread.step("And rule 9?", want="mini")  # now mini's cache is warm
    assert tiered(third)["tier"] == "mini"
    assert cached_tokens(third) >= 5000
    assert "thread stays on 'mini'" in tiered(third)["reason"]


def test_sticky_never_routes_every_call_and_always_never_moves(
    emu: OpenAICompatibleEmulator,
) -> None:
    never = Thread(make_model(emu, sticky="never"), "never")
    never.step("What is rule 7?")
    answer = never.step("And rule 8?", want="mini")
    assert tiered(answer)["tier"] == "mini"
    assert "thread" not in tiered(answer)["reason"]
    assert cached_tokens(answer) == 0  # mini's cache was cold: the full prompt was billed
    always = Thread(make_model(emu, sticky="always", thread_expected_steps=100), "always")
    always.step("What is rule 7?")
    meta = tiered(always.step("And rule 8?", want="mini"))
    assert meta["tier"] == "top"
    assert "sticky='always'" in meta["reason"]


def test_the_pre_flight_overrides_stickiness(emu: OpenAICompatibleEmulator) -> None:
    model = make_model(emu, sticky="always", max_cost_per_call=0.004)
    thread = Thread(model, "capped")
    thread.history = []  # a short first step fits gpt-5 under the cap
    assert tiered(thread.step("What is rule 7?"))["tier"] == "top"
    # A long message: gpt-5's worst case (~$0.0107) is over the cap, gpt-5-mini's is not.
    meta = tiered(thread.step(LONG_SYSTEM, want="mini"))
    assert meta["routed_tier"] == "top"
    assert "sticky='always': thread stays on 'top'" in meta["reason"]
    assert meta["tier"] == "mini"
    assert meta["skipped"][0]["tier"] == "top"
    assert "max_cost_per_call" in meta["skipped"][0]["reason"]


def test_threads_are_separate_and_expire(emu: OpenAICompatibleEmulator) -> None:
    clock = FakeClock()
    store = InMemoryThreadStore(ttl_seconds=300, clock=clock)
    model = make_model(emu, threads=store, thread_expected_steps=2)
    first = Thread(model, "a")
    first.step("What is rule 7?")
    other = Thread(model, "b")  # another thread has no tier yet: the router decides
    assert tiered(other.step("What is rule 7?", want="mini"))["tier"] == "mini"
    assert tiered(first.step("And rule 8?", want="mini"))["tier"] == "top"
    clock.advance(301)  # the provider's cache is gone by now, and so is the thread
    assert store.get("a") is None
    assert tiered(first.step("And rule 9?", want="mini"))["tier"] == "mini"


def test_langgraph_thread_id_in_metadata_names_the_thread(
    emu: OpenAICompatibleEmulator,
) -> None:
    model = make_model(emu, thread_expected_steps=2)
    history: list[BaseMessage] = [SystemMessage(LONG_SYSTEM), HumanMessage("What is rule 7?")]
    for want in ("top", "mini"):
        answer = model.invoke(history, config={"metadata": {"thread_id": "lg-1", "want": want}})
        history += [answer, HumanMessage("And the next rule?")]
    assert tiered(answer)["tier"] == "top"


def test_create_agent_threads_follow_langgraph_thread_id(emu: OpenAICompatibleEmulator) -> None:
    from langchain.agents import create_agent
    from langchain_core.tools import tool

    @tool
    def rules(number: int) -> str:
        """Look a rule up."""
        return LONG_SYSTEM

    model = make_model(emu)
    agent = create_agent(model, [rules])
    config: Any = {"configurable": {"thread_id": "lg-agent"}}
    agent.invoke({"messages": [("user", "What is rule 7?")]}, config)  # tool call, answer
    store = model._rt.threads
    assert store is not None
    state = store.get("lg-agent")
    assert state is not None
    assert (state.tier, state.steps) == ("top", 2)
    assert state.input_tokens > 6_000  # the second call carried the tool's long result
