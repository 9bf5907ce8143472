"""Scriptable fake chat models used as tiers in unit tests (no sockets)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tracers.base import BaseTracer
from langchain_core.tracers.schemas import Run
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import Field, PrivateAttr

from langchain_tiered import ModelPrice

Script = Callable[[list[BaseMessage], dict[str, Any]], "AIMessage | Exception"]


def usage(inp: int, out: int, *, cache_read: int = 0, reasoning: int = 0) -> dict[str, Any]:
    """A UsageMetadata dict."""
    u: dict[str, Any] = {"input_tokens": inp, "output_tokens": out, "total_tokens": inp + out}
    if cache_read:
        u["input_token_details"] = {"cache_read": cache_read}
    if reasoning:
        u["output_token_details"] = {"reasoning": reasoning}
    return u


class FakeTier(BaseChatModel):
    """A chat model that answers from a script and records every call.

    ``script`` items are AIMessages to return or exceptions to raise, consumed in order
    (the last one repeats). Streaming splits the content into words; ``break_after``
    raises after that many chunks.
    """

    model_name: str = "fake-model"
    max_tokens: int | None = None
    script: list[Any] = Field(default_factory=list)
    respond: Script | None = None
    break_after: int | None = None
    lead_empty: bool = False
    supports_tools: bool = True
    _calls: list[dict[str, Any]] = PrivateAttr(default_factory=list)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @property
    def _llm_type(self) -> str:
        return "fake-tier"

    @property
    def calls(self) -> list[dict[str, Any]]:
        return self._calls

    def _next(self, messages: list[BaseMessage], kwargs: dict[str, Any]) -> AIMessage:
        with self._lock:
            self._calls.append({"messages": messages, "kwargs": dict(kwargs)})
            n = len(self._calls)
        if self.respond is not None:
            item = self.respond(messages, kwargs)
        elif self.script:
            item = self.script[min(n - 1, len(self.script) - 1)]
        else:
            item = AIMessage(content=f"{self.model_name} answer", usage_metadata=usage(10, 2))
        if isinstance(item, Exception):
            raise item
        return item.model_copy(update={"response_metadata": {"model_name": self.model_name}})

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self._next(messages, kwargs))])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        message = self._next(messages, kwargs)
        words = str(message.content).split(" ") if message.content else []
        if self.lead_empty:  # like OpenAI's opening role-only delta
            yield ChatGenerationChunk(message=AIMessageChunk(content=""))
        for i, word in enumerate(words):
            if self.break_after is not None and i >= self.break_after:
                raise ConnectionError("stream broke")
            text = word if i == 0 else " " + word
            yield ChatGenerationChunk(message=AIMessageChunk(content=text))
        if message.tool_calls:
            yield ChatGenerationChunk(
                message=AIMessageChunk(
                    content="",
                    tool_call_chunks=[
                        {
                            "name": tc["name"],
                            "args": __import__("json").dumps(tc["args"]),
                            "id": tc["id"],
                            "index": i,
                        }
                        for i, tc in enumerate(message.tool_calls)
                    ],
                )
            )
        yield ChatGenerationChunk(
            message=AIMessageChunk(
                content="",
                usage_metadata=message.usage_metadata,
                response_metadata={"model_name": self.model_name, "finish_reason": "stop"},
            )
        )

    def bind_tools(
        self, tools: Sequence[Any], *, tool_choice: Any = None, **kwargs: Any
    ) -> Runnable[Any, AIMessage]:
        if not self.supports_tools:
            raise NotImplementedError
        formatted = [convert_to_openai_tool(t) for t in tools]
        return self.bind(tools=formatted, tool_choice=tool_choice, **kwargs)


PRICES = {
    "critical": ModelPrice(input_per_mtok=15.0, output_per_mtok=75.0),
    "standard": ModelPrice(input_per_mtok=3.0, output_per_mtok=15.0),
    "budget": ModelPrice(input_per_mtok=0.25, output_per_mtok=1.0),
}


class Tracer(BaseTracer):
    """Keeps every finished run, like LangSmith's tracer would send them."""

    def __init__(self) -> None:
        super().__init__(_schema_format="streaming_events")
        self.runs: list[Run] = []

    def _persist_run(self, run: Run) -> None:
        pass

    def _end_trace(self, run: Run) -> None:
        self.runs.append(run)
        super()._end_trace(run)
