"""Request assembly: a LangChain call's messages, kwargs and run turned into a ``CallRequest``.

The tiered model's own kwargs (``tier``, ``tools``, ...) are taken out here so they never
reach a tier; the model's defaults go under the call's own kwargs; the run's metadata gives
the override, the agent thread and the run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from langchain_tiered._call.state import CallRequest
from langchain_tiered._call.structured import request_tools, tier_binder
from langchain_tiered._call.tiercall import listeners
from langchain_tiered._conversation import follow
from langchain_tiered.agents.threads import RUN_KEY, call_identity
from langchain_tiered.preflight import call_max_tokens

if TYPE_CHECKING:
    from langchain_core.messages import BaseMessage

    from langchain_tiered._call.state import Runtime
    from langchain_tiered.chat_models import TieredChatModel

__all__ = ["MetadataOnly", "build_request"]

# Keyword arguments the tiered model consumes itself; they never reach a tier.
_OWN_KWARGS = ("tier", "tools", "tool_choice", "tiered_structured_output", "model")


def build_request(
    rt: Runtime,
    messages: list[BaseMessage],
    stop: list[str] | None,
    kwargs: dict[str, Any],
    run_manager: Any,
    *,
    stream: bool,
) -> CallRequest:
    """The request the plan works on; takes the model's own kwargs out of ``kwargs``."""
    settings = rt.settings
    own = {k: kwargs.pop(k) for k in _OWN_KWARGS if k in kwargs}
    kwargs.pop("stream", None)
    _apply_defaults(settings, kwargs)
    stop = stop if stop is not None else settings.stop
    metadata = dict(getattr(run_manager, "metadata", None) or {})
    run_id = getattr(run_manager, "run_id", None)
    run_id = None if run_id is None else str(run_id)  # once: a UUID's str is not cached
    thread, run = call_identity(run_id, getattr(run_manager, "parent_run_id", None), metadata)
    if run is not None:
        metadata[RUN_KEY] = run
    override = own.get("tier", metadata.get("tier"))
    if override is None and own.get("model") is not None:
        override = _tier_of_model(rt, own["model"])
    tools = own.get("tools") or None
    # Calls that reserve, cap or rate-limit on the count check every resent message's
    # content; others trust resent messages on identity until a window check needs it.
    verify = bool(rt.budgets or rt.limiters) or settings.max_cost_per_call is not None
    conversation = rt.last_conversation = follow(rt.last_conversation, messages, verify=verify)
    return CallRequest(
        messages=messages,
        stop=stop,
        kwargs=kwargs,
        metadata=metadata,
        bind=tier_binder(rt, own, tools),
        stream=stream,
        override=override,
        run_id=run_id,
        openai_tools=request_tools(rt, own, tools),
        structured_output=bool(own.get("tiered_structured_output")),
        thread=thread,
        run=run,
        conversation=conversation,
        listening=bool(listeners(getattr(run_manager, "handlers", None) or ())),
    )


def _tier_of_model(rt: Runtime, model: str) -> str:
    """The tier a LangChain-style per-call ``model=`` override names.

    Passing ``model`` through to a tier would call a model the pre-flight never priced,
    so it selects the tier serving that model instead, or fails.
    """
    for profile in rt.profiles:
        if profile.model_name == model:
            return profile.name
    served = ", ".join(f"{p.name}={p.model_name}" for p in rt.profiles)
    msg = f"model={model!r} is not served by any tier ({served}); pass tier=<name> instead"
    raise ValueError(msg)


def _apply_defaults(settings: TieredChatModel, kwargs: dict[str, Any]) -> None:
    """Model-level defaults (``max_tokens``, ``temperature``) under the call's own kwargs."""
    if settings.max_tokens is not None and call_max_tokens(kwargs) is None:
        kwargs["max_tokens"] = settings.max_tokens
    if settings.temperature is not None:
        kwargs.setdefault("temperature", settings.temperature)


class MetadataOnly:
    """Stands in for a run manager where only the caller's metadata is needed."""

    def __init__(self, metadata: dict[str, Any]) -> None:
        self.metadata = metadata
