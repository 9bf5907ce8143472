"""Structured output across tiers: each tier is asked with the method the caller chose.

``TieredChatModel.with_structured_output(schema, method=...)`` binds a
:class:`StructuredSpec`. Once the plan picks a tier, that tier's own
``with_structured_output(schema, method=..., strict=...)`` says what to send
(``response_format`` for ``json_schema``/``json_mode``, ``tools`` and ``tool_choice`` for
``function_calling``): its first binding's kwargs are taken and sent with the call. A tier
whose model cannot build the method falls back to function calling for that tier, and the
answer's metadata says so. One parser reads whatever the answering tier returned (a tool
call's arguments or JSON text) and validates it into the schema.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from operator import itemgetter
from typing import TYPE_CHECKING, Any, Literal

from langchain_core.exceptions import OutputParserException
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.runnables import (
    Runnable,
    RunnableBinding,
    RunnableLambda,
    RunnableMap,
    RunnablePassthrough,
    RunnableSequence,
)
from langchain_core.utils.function_calling import convert_to_openai_tool
from langchain_core.utils.json import parse_json_markdown
from langchain_core.utils.pydantic import is_basemodel_subclass

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from langchain_tiered._call.state import Runtime
    from langchain_tiered._call.tools import Binder

__all__ = [
    "METHODS",
    "Method",
    "StructuredSpec",
    "request_tools",
    "structured_output",
    "structured_runnable",
    "tier_binder",
]

Method = Literal["function_calling", "json_mode", "json_schema"]
METHODS: tuple[str, ...] = ("function_calling", "json_mode", "json_schema")
_SENT_KWARGS = ("response_format", "tools", "tool_choice", "parallel_tool_calls")


@dataclass(frozen=True, eq=False)
class StructuredSpec:
    """What a structured-output call asks for: the schema, the method and ``strict``."""

    schema: Any
    method: str
    strict: bool | None = None
    _per_tier: dict[str, tuple[dict[str, Any], str]] = field(
        default_factory=dict, repr=False, compare=False
    )
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)
    _tools: list[tuple[dict[str, Any], ...]] = field(default_factory=list, repr=False)

    def __repr__(self) -> str:  # cache keys and traces: stable, without the memo
        name = getattr(self.schema, "__name__", None) or type(self.schema).__name__
        return f"StructuredSpec(schema={name}, method={self.method!r}, strict={self.strict!r})"

    def openai_tools(self) -> tuple[dict[str, Any], ...]:
        """The schema as a tool, for routing and token counting (none for a bare json_mode)."""
        if not self._tools:  # converted once per spec, not once per call
            tools = (convert_to_openai_tool(self.schema),) if self.schema is not None else ()
            self._tools.append(tools)
        return self._tools[0]

    def ls_format(self) -> dict[str, Any]:
        """``ls_structured_output_format`` as LangChain's own models bind it."""
        kwargs: dict[str, Any] = {"method": self.method}
        if self.strict is not None:
            kwargs["strict"] = self.strict
        return {"kwargs": kwargs, "schema": self.schema}

    def for_tier(self, name: str, model: BaseChatModel) -> tuple[dict[str, Any], str]:
        """Kwargs to send to ``model`` and, if the method had to change, why (else ``""``)."""
        known = self._per_tier.get(name)
        if known is not None:
            return known
        resolved = _tier_kwargs(self, model)
        with self._lock:
            self._per_tier[name] = resolved
        return resolved

    def binder(self, models: Mapping[str, BaseChatModel]) -> Binder:
        """Per-tier runnable: the tier's model bound to what this spec sends it."""

        def bind(name: str) -> tuple[Runnable[Any, Any] | None, str]:
            kwargs, _why = self.for_tier(name, models[name])
            if not kwargs:
                return None, f"model {type(models[name]).__name__} cannot produce structured output"
            return models[name].bind(**kwargs), ""

        return bind

    def note(self, name: str) -> str:
        """Why tier ``name`` was asked with another method than requested ("" when it was not)."""
        known = self._per_tier.get(name)
        return known[1] if known is not None else ""


def _peel(runnable: Any) -> dict[str, Any]:
    """The kwargs of the first ``RunnableBinding`` in what ``with_structured_output`` built."""
    while True:
        if isinstance(runnable, RunnableBinding):
            kwargs = dict(runnable.kwargs)
            if isinstance(runnable.bound, RunnableBinding):  # nested binds: inner ones too
                kwargs = {**_peel(runnable.bound), **kwargs}
            return {k: v for k, v in kwargs.items() if k in _SENT_KWARGS or k.startswith("ls_")}
        if isinstance(runnable, RunnableSequence):
            runnable = runnable.first
        elif isinstance(runnable, RunnableMap):
            runnable = next(iter(runnable.steps__.values()))
        else:
            return {}


def _build(model: BaseChatModel, spec: StructuredSpec, method: str) -> tuple[dict[str, Any], str]:
    """What ``model.with_structured_output`` binds for ``method``, and any warning it gave."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        built = model.with_structured_output(spec.schema, method=method, strict=spec.strict)
    return _peel(built), "; ".join(str(w.message).split(". ")[0] for w in caught)


def _tier_kwargs(spec: StructuredSpec, model: BaseChatModel) -> tuple[dict[str, Any], str]:
    """Ask the tier's model how it would do ``spec``; fall back to function calling.

    A model may also switch methods itself (``ChatOpenAI`` warns and uses function calling
    for models without structured outputs; the base implementation always calls a tool):
    the method its binding declares is what it will do, and a switch is noted.
    """
    try:
        kwargs, warned = _build(model, spec, spec.method)
    except (ValueError, TypeError, NotImplementedError) as exc:
        kwargs, warned = {}, f"{type(exc).__name__}: {exc}"
    used = ((kwargs.get("ls_structured_output_format") or {}).get("kwargs") or {}).get("method")
    if kwargs and used in (None, spec.method):
        return kwargs, ""
    if kwargs:
        why = warned or f"{type(model).__name__} answers method={spec.method!r} with {used!r}"
        return kwargs, f"{why}; used {used}"
    if spec.method == "function_calling" or spec.schema is None:
        return {}, warned
    try:
        kwargs, _ = _build(model, spec, "function_calling")
    except (ValueError, TypeError, NotImplementedError):
        return {}, warned
    return (
        kwargs,
        f"method={spec.method!r} not available on this tier ({warned}); used function_calling",
    )


def _text(message: BaseMessage) -> str:
    content = message.content
    if isinstance(content, str):
        return content
    return "".join(
        p if isinstance(p, str) else str(p.get("text", ""))
        for p in content
        if isinstance(p, str) or p.get("type") in (None, "text")
    )


def parse(message: BaseMessage, schema: Any) -> Any:
    """The structured answer in ``message``: a tool call's arguments, else its JSON text.

    Raises:
        OutputParserException: No parsable answer, or it does not fit a pydantic schema.
    """
    calls = getattr(message, "tool_calls", None) or []
    if calls:
        data: Any = calls[0]["args"]
    else:
        text = _text(message)
        try:
            data = parse_json_markdown(text)
        except ValueError as exc:
            msg = f"the answer is neither a tool call nor JSON: {text[:200]!r}"
            raise OutputParserException(msg, llm_output=text) from exc
    if isinstance(schema, type) and is_basemodel_subclass(schema):
        try:
            # pydantic v2 classes validate with model_validate, v1 classes with parse_obj
            validate = getattr(schema, "model_validate", None) or getattr(schema, "parse_obj")  # noqa: B009
            return validate(data)
        except ValueError as exc:
            msg = f"the answer does not fit {schema.__name__}: {exc}"
            raise OutputParserException(msg, llm_output=str(data)) from exc
    return data


def structured_runnable(
    bound: Runnable[Any, AIMessage], schema: Any, *, include_raw: bool
) -> Runnable[Any, Any]:
    """``bound`` followed by the parser, with ``include_raw`` as in langchain-core."""
    parser = RunnableLambda(lambda message: parse(message, schema), name="TieredStructuredParser")
    if not include_raw:
        return bound | parser
    parser_assign = RunnablePassthrough.assign(
        parsed=itemgetter("raw") | parser, parsing_error=lambda _: None
    )
    parser_none = RunnablePassthrough.assign(parsed=lambda _: None)
    with_fallback = parser_assign.with_fallbacks([parser_none], exception_key="parsing_error")
    return RunnableMap(raw=bound) | with_fallback


def structured_output(
    model: Runnable[Any, AIMessage],
    schema: Any,
    *,
    include_raw: bool,
    method: str,
    strict: bool | None,
    extra: Mapping[str, Any],
) -> Runnable[Any, Any]:
    """``TieredChatModel.with_structured_output``: validate, bind a spec, add the parser."""
    if extra:
        msg = f"unsupported arguments {sorted(extra)}; pass schema, method, strict only"
        raise ValueError(msg)
    if method not in METHODS:
        msg = f"method={method!r} is not one of {', '.join(METHODS)}"
        raise ValueError(msg)
    if schema is None and method != "json_mode":
        msg = f"method={method!r} needs a schema (only json_mode works without one)"
        raise ValueError(msg)
    spec = StructuredSpec(schema, method, strict)
    structured = {"ls_structured_output_format": spec.ls_format()}
    bound = model.bind(tiered_structured_output=spec, **structured)
    return structured_runnable(bound, schema, include_raw=include_raw)


def tier_binder(rt: Runtime, own: Mapping[str, Any], tools: Any) -> Binder:
    """Per-tier runnables of a call: the structured-output spec's, or the bound tools'."""
    spec = own.get("tiered_structured_output")
    if isinstance(spec, StructuredSpec):
        return spec.binder(rt.models)
    return rt.tools.binder(rt.models, tools, own.get("tool_choice"))


def request_tools(rt: Runtime, own: Mapping[str, Any], tools: Any) -> tuple[dict[str, Any], ...]:
    """The call's tools in OpenAI form (routing, counting): the schema for structured output."""
    spec = own.get("tiered_structured_output")
    if isinstance(spec, StructuredSpec):
        return spec.openai_tools()
    return rt.tools.openai_tools(tools)
