"""Relaying a tier's stream: chunks pass through untouched while being accumulated to settle."""

from __future__ import annotations

from collections.abc import Generator, Mapping
from typing import TYPE_CHECKING, Any

from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.outputs import ChatGenerationChunk

from langchain_tiered._call.settle import settle_call

if TYPE_CHECKING:
    from langchain_tiered._call.actions import Action
    from langchain_tiered._call.state import Runtime, Selected
    from langchain_tiered.metadata import TieredMetadata

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
        self,
        rt: Runtime,
        sel: Selected,
        run_manager: Any,
        *,
        interrupted: bool = False,
        error: BaseException | None = None,
    ) -> Generator[Action, Any, TieredMetadata]:
        """Merge the relayed chunks once and settle the call on them."""
        message: AIMessage | AIMessageChunk = AIMessage(content="")
        if self.chunks:
            first, *rest = self.chunks
            message = first + rest if rest else first
        run_id = run_id_of(run_manager)
        return settle_call(rt, sel, message, run_id=run_id, interrupted=interrupted, error=error)

    def interrupted(
        self, rt: Runtime, sel: Selected, run_manager: Any, exc: BaseException
    ) -> Generator[Action, Any, TieredMetadata]:
        """Settle a stream that stopped early.

        Cut by an error: an unknown outcome. Abandoned by the caller (``GeneratorExit``,
        cancellation): billed on what was produced.
        """
        error = exc if isinstance(exc, Exception) else None
        return self.settle(rt, sel, run_manager, interrupted=True, error=error)

    def final(self, meta: Mapping[str, Any]) -> ChatGenerationChunk:
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
