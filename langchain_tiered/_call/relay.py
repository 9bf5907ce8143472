"""Relaying a tier's stream: chunks pass through untouched while being accumulated to settle."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.outputs import ChatGenerationChunk

from langchain_tiered._call.settle import settle_call

if TYPE_CHECKING:
    from langchain_tiered._call.state import Runtime, Selected

__all__ = ["Relay", "run_id_of"]


class Relay:
    """Passes a tier's stream through unchanged while accumulating it for settlement."""

    def __init__(self, head: list[AIMessageChunk]) -> None:
        # Merged once at the end: adding chunk by chunk would copy the text for every chunk.
        self.chunks: list[AIMessageChunk] = []
        self.empty_list = bool(head) and not isinstance(head[0].content, str)

    def wrap(self, chunk: AIMessageChunk) -> ChatGenerationChunk:
        """Keep ``chunk`` for settlement and wrap it for the caller."""
        # Our own closing chunk carries chunk_position="last"; a tier's marker mid-stream
        # would end the merged message early.
        if chunk.chunk_position == "last":
            chunk = chunk.model_copy(update={"chunk_position": None})
        self.chunks.append(chunk)
        return ChatGenerationChunk(message=chunk)

    def settle(
        self, rt: Runtime, sel: Selected, run_manager: Any, *, interrupted: bool = False
    ) -> Any:
        """Merge the relayed chunks once and settle the call on them."""
        message: AIMessage | AIMessageChunk = AIMessage(content="")
        if self.chunks:
            first, *rest = self.chunks
            message = first + rest if rest else first
        return settle_call(rt, sel, message, run_id=run_id_of(run_manager), interrupted=interrupted)

    def final(self, meta: dict[str, Any]) -> ChatGenerationChunk:
        """Build the closing chunk that carries the ``tiered`` metadata."""
        content: Any = [] if self.empty_list else ""
        return ChatGenerationChunk(
            message=AIMessageChunk(
                content=content, response_metadata={"tiered": meta}, chunk_position="last"
            )
        )


def run_id_of(run_manager: Any) -> str | None:
    """The run id as a string, if there is a run."""
    return str(run_manager.run_id) if run_manager is not None else None
