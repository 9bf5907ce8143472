"""Relaying a tier's stream: chunks pass through untouched while being accumulated to settle."""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.outputs import ChatGenerationChunk

from langchain_tiered._call.settle import settle_call
from langchain_tiered._call.structured import StructuredSpec
from langchain_tiered._call.tiercall import has_content, stream_error

if TYPE_CHECKING:
    from langchain_tiered._call.actions import Action
    from langchain_tiered._call.state import Runtime, Selected
    from langchain_tiered._clock import Clock
    from langchain_tiered.metadata import TieredMetadata

__all__ = ["Relay", "finish_meta", "run_id_of"]


def finish_meta(
    meta: TieredMetadata, clock: Clock, started: float, spec: Any, ttft: float | None = None
) -> TieredMetadata:
    """Add what only the entry point knows: latency, time to first token, structured notes.

    ``latency_s`` runs from the call's start (routing, retries and fallbacks included) to
    its settlement; ``ttft_s`` (streams) to the first chunk with content.
    """
    meta["latency_s"] = clock.monotonic() - started
    if ttft is not None:
        meta["ttft_s"] = ttft
    if isinstance(spec, StructuredSpec):
        meta["structured_output_method"] = spec.method
        note = spec.note(meta["tier"])
        if note:
            meta["structured_output_note"] = note
            meta["reason"] += f"; structured output on {meta['tier']!r}: {note}"
    return meta


class Relay:
    """Passes a tier's stream through unchanged while accumulating it for settlement."""

    def __init__(
        self,
        head: list[AIMessageChunk] | None = None,
        *,
        clock: Clock | None = None,
        spec: Any = None,
    ) -> None:
        # Merged once at the end: adding chunk by chunk would copy the text for every chunk.
        self.chunks: list[AIMessageChunk] = []
        self.empty_list = False
        self.clock = clock
        self.started = clock.monotonic() if clock is not None else 0.0
        self.ttft: float | None = None
        self.spec = spec
        if head is not None:
            self.opened(head)

    @classmethod
    def start(cls, clock: Clock, spec: Any = None) -> Relay:
        """A relay whose clock starts now, before routing (latency covers the whole call)."""
        return cls(clock=clock, spec=spec)

    def opened(self, head: list[AIMessageChunk]) -> None:
        """The tier's stream opened with ``head`` (up to its first content chunk)."""
        self.empty_list = bool(head) and not isinstance(head[0].content, str)

    def wrap(self, chunk: AIMessageChunk) -> ChatGenerationChunk:
        """Keep ``chunk`` for settlement and wrap it for the caller."""
        # Our own closing chunk carries chunk_position="last"; a tier's marker mid-stream
        # would end the merged message early.
        if chunk.chunk_position == "last":
            chunk = chunk.model_copy(update={"chunk_position": None})
        if self.ttft is None and self.clock is not None and has_content(chunk):
            self.ttft = self.clock.monotonic() - self.started
        self.chunks.append(chunk)
        failure = stream_error(chunk)
        if failure is not None:  # kept for settlement: its usage, if any, is billed
            raise failure
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

    def final(self, meta: TieredMetadata) -> ChatGenerationChunk:
        """Build the closing chunk that carries the ``tiered`` metadata."""
        if self.clock is not None:
            meta = finish_meta(meta, self.clock, self.started, self.spec, self.ttft)
        content: Any = [] if self.empty_list else ""
        return ChatGenerationChunk(
            message=AIMessageChunk(
                content=content, response_metadata={"tiered": meta}, chunk_position="last"
            )
        )


def run_id_of(run_manager: Any) -> str | None:
    """The run id as a string, if there is a run."""
    return str(run_manager.run_id) if run_manager is not None else None
