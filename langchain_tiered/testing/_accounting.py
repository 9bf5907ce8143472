"""Token accounting of the emulator: prompt counts, completion counts and ``max_tokens`` cuts.

Counts come from the package's own offline tokenizer, so the usage the emulator bills is exactly
what ``langchain_tiered.tokens`` predicts; tests can then check estimates against "real" usage.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from langchain_tiered.testing._cache import OPENAI_CACHE_STEP, PromptCache
from langchain_tiered.testing._replies import Reply, ToolCall
from langchain_tiered.testing._wire import Completion, max_tokens, reply_text

if TYPE_CHECKING:
    import tiktoken

__all__ = ["build_completion", "count_prompt", "encoding", "openai_cached", "prompt_tokens_of"]


@functools.cache
def encoding() -> tiktoken.Encoding:
    """The o200k encoding the emulator bills with."""
    # Imported lazily: ``tokens`` loads the bundled BPE files, which only a serving emulator needs.
    from langchain_tiered.tokens import get_encoding  # noqa: PLC0415

    return get_encoding("o200k_base")


def count_prompt(body: Mapping[str, Any]) -> int:
    """Prompt tokens of a validated request, counted as OpenAI's chat format bills them."""
    from langchain_tiered.tokens import count_openai_messages  # noqa: PLC0415

    tools = body.get("tools") or None
    return count_openai_messages(body["messages"], model=body["model"], tools=tools)


def prompt_tokens_of(body: Mapping[str, Any]) -> list[int]:
    """The prompt as one token sequence (tools, then each message), for prefix caching.

    The rendering is canonical (sorted JSON), so two requests share a token prefix exactly
    when their tools and leading messages are equal.
    """
    parts = [json.dumps(body.get("tools") or [], sort_keys=True)]
    parts += [json.dumps(m, sort_keys=True) for m in body.get("messages") or []]
    return encoding().encode("\n".join(parts), disallowed_special=())


def openai_cached(cache: PromptCache, body: Mapping[str, Any], prompt: int) -> int:
    """Cached prompt tokens for this request (0 unless the emulator caches prompts)."""
    if not cache.enabled:
        return 0
    cached = cache.openai_cached(body["model"], prompt_tokens_of(body))
    # Never more than the billed prompt, and still in whole 128-token steps.
    return min(cached, prompt - prompt % OPENAI_CACHE_STEP)


def build_completion(
    reply: Reply, body: Mapping[str, Any], *, seq: int, prompt: int, cached: int = 0
) -> Completion:
    """Make a reply concrete for one request.

    Assigns deterministic ids, applies ``stop`` and ``max_tokens``/``max_completion_tokens``
    (cutting the text to that many tokens with finish reason ``"length"``), and bills usage.

    Args:
        reply: The scripted or default reply.
        body: The validated request JSON.
        seq: The request's sequence number in this emulator, for ids.
        prompt: The request's counted prompt tokens.
        cached: Prompt tokens served from the emulated prompt cache (a scripted
            ``Reply.cached_tokens`` wins).

    Returns:
        The completion to serialise.
    """
    content, finish = _apply_stop(reply.content, body.get("stop"))
    limit = max_tokens(body)
    enc = encoding()
    if content is not None and limit is not None:
        tokens = enc.encode(content)
        if len(tokens) > limit:
            content, finish = enc.decode(tokens[:limit]), "length"
    calls = tuple(
        ToolCall(call.name, call.arguments, call.id or f"call_emu{seq:06d}x{i}")
        for i, call in enumerate(reply.tool_calls)
    )
    if finish is None:
        finish = reply.finish_reason or ("tool_calls" if calls else "stop")
    visible = Reply(content=content, tool_calls=calls)
    completion_tokens = reply.completion_tokens
    if completion_tokens is None:
        completion_tokens = len(enc.encode(reply_text(visible))) + reply.reasoning_tokens
    return Completion(
        id=f"chatcmpl-emu{seq:08d}",
        created=int(time.time()),
        model=body["model"],  # echo the requested name; real providers add a dated suffix
        content=content,
        tool_calls=calls,
        finish_reason=finish,
        prompt_tokens=reply.prompt_tokens if reply.prompt_tokens is not None else prompt,
        completion_tokens=completion_tokens,
        reasoning_tokens=reply.reasoning_tokens,
        cached_tokens=reply.cached_tokens or cached,
    )


def _apply_stop(content: str | None, stop: Any) -> tuple[str | None, str | None]:
    """Cut the text at the first stop sequence, as the API does (the sequence is not returned)."""
    if content is None or not stop:
        return content, None
    sequences = [stop] if isinstance(stop, str) else [s for s in stop if isinstance(s, str) and s]
    cuts = [content.find(s) for s in sequences if s in content]
    if not cuts:
        return content, None
    return content[: min(cuts)], "stop"
