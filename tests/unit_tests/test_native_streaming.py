"""Issue 11: a tiered call is ONE chat-model run for everyone but tracers.

Streaming consumers (``astream_events``, LangGraph ``stream_mode="messages"``) see each token
once, usage counters count once, a plain handler sees one ``on_chat_model_start``; a tracer
still sees the tier's call as a child run carrying the tier's model name and usage.
"""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler, get_usage_metadata_callback
from langchain_core.messages import AIMessage, HumanMessage

from langchain_tiered import Tier, TieredChatModel, get_tiered_cost_callback
from tests.unit_tests.fakes import PRICES, FakeTier, Tracer, usage

ANSWER = "one two three four"


def make_model() -> TieredChatModel:
    tiers = [
        Tier(
            name=name,
            model=FakeTier(
                model_name=f"{name}-model",
                script=[AIMessage(content=ANSWER, usage_metadata=usage(12, 4))],
            ),
            price=PRICES[name],
        )
        for name in ("standard", "budget")
    ]
    return TieredChatModel(tiers=tiers)


class Starts(BaseCallbackHandler):
    """A user's plain handler: counts chat-model starts and streamed tokens."""

    def __init__(self) -> None:
        self.starts: list[str] = []
        self.tokens: list[str] = []

    def on_chat_model_start(self, serialized: Any, messages: Any, **kw: Any) -> None:
        self.starts.append(serialized.get("name", ""))

    def on_llm_new_token(self, token: str, **kw: Any) -> None:
        self.tokens.append(token)


def _text(chunks: list[Any]) -> str:
    return "".join(str(c.content) for c in chunks)


@pytest.mark.parametrize("stream", [False, True])
def test_plain_handler_sees_one_chat_model_run(stream: bool) -> None:
    model, seen = make_model(), Starts()
    cfg: Any = {"callbacks": [seen], "metadata": {"tier": "budget"}}
    if stream:
        assert _text(list(model.stream("hi", config=cfg))) == ANSWER
        assert "".join(seen.tokens) == ANSWER  # each token once
    else:
        model.invoke("hi", config=cfg)
    assert seen.starts == ["TieredChatModel"]


async def test_astream_events_v2_yields_each_token_once() -> None:
    model = make_model()
    events = [
        e
        async for e in model.astream_events(
            "hi", config={"metadata": {"tier": "budget"}}, version="v2"
        )
    ]
    streamed = [e for e in events if e["event"] == "on_chat_model_stream"]
    assert {e["name"] for e in streamed} == {"TieredChatModel"}
    assert _text([e["data"]["chunk"] for e in streamed]) == ANSWER
    starts = [e["name"] for e in events if e["event"] == "on_chat_model_start"]
    assert starts == ["TieredChatModel"]


async def test_langgraph_messages_mode_yields_each_token_once() -> None:
    from langgraph.graph import END, START, MessagesState, StateGraph

    model = make_model()

    async def node(state: MessagesState) -> dict[str, Any]:
        return {"messages": [await model.ainvoke(state["messages"])]}

    graph = StateGraph(MessagesState)
    graph.add_node("chat", node)
    graph.add_edge(START, "chat")
    graph.add_edge("chat", END)
    app = graph.compile()
    pieces = [
        chunk
        async for chunk, _meta in app.astream(
            {"messages": [HumanMessage("hi")]}, stream_mode="messages"
        )
    ]
    assert _text(pieces) == ANSWER


def test_langgraph_messages_mode_sync() -> None:
    from langgraph.graph import END, START, MessagesState, StateGraph

    model = make_model()
    graph = StateGraph(MessagesState)
    graph.add_node("chat", lambda s: {"messages": [model.invoke(s["messages"])]})
    graph.add_edge(START, "chat")
    graph.add_edge("chat", END)
    app = graph.compile()
    stream = app.stream({"messages": [HumanMessage("hi")]}, stream_mode="messages")
    assert _text([chunk for chunk, _ in stream]) == ANSWER


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("traced", [False, True])
def test_usage_metadata_callback_counts_once(stream: bool, traced: bool) -> None:
    # traced: the tier runs as a child run (for the tracer), the usage counter must not see it
    model = make_model()
    cfg: Any = {"callbacks": [Tracer()] if traced else []}
    with get_usage_metadata_callback() as cb:
        if stream:
            list(model.stream("hi", config=cfg, tier="budget"))
        else:
            model.invoke("hi", config=cfg, tier="budget")
    [(name, counted)] = cb.usage_metadata.items()
    assert (counted["input_tokens"], counted["output_tokens"]) == (12, 4)
    assert name == "budget-model"


@pytest.mark.parametrize("stream", [False, True])
async def test_usage_metadata_callback_counts_once_async(stream: bool) -> None:
    model = make_model()
    cfg: Any = {"callbacks": [Tracer()]}
    with get_usage_metadata_callback() as cb:
        if stream:
            [c async for c in model.astream("hi", config=cfg, tier="budget")]
        else:
            await model.ainvoke("hi", config=cfg, tier="budget")
    [(_, counted)] = cb.usage_metadata.items()
    assert (counted["input_tokens"], counted["output_tokens"]) == (12, 4)


def test_tracer_sees_the_tier_call_as_a_child_run_with_its_model() -> None:
    model, tracer = make_model(), Tracer()
    model.invoke("hi", config={"callbacks": [tracer], "metadata": {"tier": "budget"}})
    outer = next(r for r in tracer.runs if r.name == "TieredChatModel")
    [child] = [r for r in tracer.runs if r.parent_run_id == outer.id]
    assert child.name == "FakeTier"
    message = child.outputs["generations"][0][0]["message"]["kwargs"]
    assert message["usage_metadata"]["input_tokens"] == 12
    assert message["response_metadata"]["model_name"] == "budget-model"


def test_cost_callback_counts_once_and_tier_runs_directly() -> None:
    model = make_model()
    with get_tiered_cost_callback() as cb:
        model.invoke("hi", tier="budget")
        list(model.stream("hi", tier="budget"))
    assert cb.calls == 2
    assert cb.by_tier["budget"].input_tokens == 24
