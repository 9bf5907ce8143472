"""Issue 11 over HTTP: ChatOpenAI tiers against the emulator stream each token once.

The scenario of the report: a LangGraph graph streamed with ``stream_mode="messages"`` and
``astream_events`` v2 showed ``Echo:Echo: Erkläre Erkläre ...``; here the text must arrive
exactly once, while a tracer still sees the tier's own run with its model name.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.messages import HumanMessage
from langchain_openai import ChatOpenAI

from langchain_tiered import Tier, TieredChatModel
from langchain_tiered.testing import OpenAICompatibleEmulator
from tests.integration_tests._replay import emulator_chat
from tests.unit_tests.fakes import Tracer

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("close_async_clients")]

PROMPT = "Erkläre den Unterschied zwischen REST und GraphQL"
ECHO = f"Echo: {PROMPT}"


@pytest.fixture(scope="module")
def server() -> Iterator[OpenAICompatibleEmulator]:
    with OpenAICompatibleEmulator() as emulator:
        yield emulator


def tiered(server: OpenAICompatibleEmulator) -> TieredChatModel:
    def chat(name: str) -> ChatOpenAI:
        return emulator_chat(server.base_url, name)

    return TieredChatModel(
        tiers=[
            Tier(name="big", model=chat("gpt-4o")),
            Tier(name="small", model=chat("gpt-4o-mini")),
        ]
    )


def _graph(model: TieredChatModel) -> Any:
    from langgraph.graph import END, START, MessagesState, StateGraph

    async def node(state: MessagesState) -> dict[str, Any]:
        return {"messages": [await model.ainvoke(state["messages"])]}

    graph = StateGraph(MessagesState)
    graph.add_node("chat", node)
    graph.add_edge(START, "chat")
    graph.add_edge("chat", END)
    return graph.compile()


async def test_langgraph_messages_mode_streams_the_answer_once(
    server: OpenAICompatibleEmulator,
) -> None:
    app = _graph(tiered(server))
    stream = app.astream({"messages": [HumanMessage(PROMPT)]}, stream_mode="messages")
    text = "".join([str(chunk.content) async for chunk, _meta in stream])
    assert text == ECHO


async def test_astream_events_v2_streams_the_answer_once(server: OpenAICompatibleEmulator) -> None:
    model = tiered(server)
    streamed = [
        e
        async for e in model.astream_events(PROMPT, version="v2")
        if e["event"] == "on_chat_model_stream"
    ]
    assert "".join(str(e["data"]["chunk"].content) for e in streamed) == ECHO
    assert {e["name"] for e in streamed} == {"TieredChatModel"}


def test_tracer_sees_the_tier_run_with_its_model_and_usage(
    server: OpenAICompatibleEmulator,
) -> None:
    tracer = Tracer()
    answer = tiered(server).invoke(PROMPT, config={"callbacks": [tracer]})
    outer = next(r for r in tracer.runs if r.name == "TieredChatModel")
    [child] = [r for r in tracer.runs if r.parent_run_id == outer.id]
    assert child.name == "ChatOpenAI"
    assert (
        child.extra["metadata"]["ls_model_name"] == answer.response_metadata["tiered"]["model_name"]
    )
    message = child.outputs["generations"][0][0]["message"]["kwargs"]
    assert message["usage_metadata"] == answer.usage_metadata
