"""``TieredChatModel``: a LangChain chat model that routes, budgets and falls back across tiers."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator, Sequence
from typing import Any, Literal, cast

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.language_models.base import LangSmithParams
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable, RunnableConfig, ensure_config
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import ConfigDict, Field, InstanceOf, PrivateAttr, model_validator
from typing_extensions import Self

from langchain_tiered._call import entry
from langchain_tiered._call.decide import preview
from langchain_tiered._call.fallback_runnable import fallback_runnable
from langchain_tiered._call.request import MetadataOnly, build_request
from langchain_tiered._call.run_context import (
    StreamRun,
    current_run,
    plain_generate,
    publish,
    stamp_ids,
    stream_run,
)
from langchain_tiered._call.runtime import build_runtime
from langchain_tiered._call.state import Runtime
from langchain_tiered._call.structured import structured_output
from langchain_tiered._clock import Clock, SystemClock
from langchain_tiered.agents.threads import ThreadStore
from langchain_tiered.budget import Budget
from langchain_tiered.cascade import Cascade
from langchain_tiered.fallbacks import RetryPolicy
from langchain_tiered.ledger import Ledger
from langchain_tiered.preflight import CallPlan
from langchain_tiered.pricing import PriceBook
from langchain_tiered.routing import RouteDecision, RouteRequest
from langchain_tiered.tiers import Tier

__all__ = ["TieredChatModel"]


class TieredChatModel(BaseChatModel):
    """A chat model over several tiers that picks one per call and never overspends.

    Each call is routed to a tier (override, then the router), checked before any
    network call (context window, ``max_cost_per_call``, budgets, reserved atomically),
    sent with retries and fallbacks, and settled with its real cost. The answer carries
    ``response_metadata["tiered"]`` with ``tier``, ``model_name``, ``reason``,
    ``estimated_cost_usd``, ``cost_usd``, ``fallback_triggered`` and ``attempts``.

    Example:
        ```python
        model = TieredChatModel(
            tiers=[
                Tier(name="critical", model=ChatOpenAI(model="gpt-4.1")),
                Tier(name="budget", model=ChatOpenAI(model="gpt-4.1-nano")),
            ],
            max_cost_per_call=0.05,
        )
        model.invoke("Liste die Hauptstädte Europas auf")  # routed to "budget"
        model.invoke("...", tier="critical")              # per-call override
        ```
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    tiers: list[Tier]
    """Tiers from most capable (and expensive) to cheapest."""
    router: Callable[[RouteRequest], RouteDecision] | None = Field(default=None, exclude=True)
    """Any callable ``RouteRequest -> RouteDecision``; default ``ComplexityRouter()``."""
    price_book: PriceBook | None = Field(default=None, exclude=True)
    """``PriceBook`` used for tiers without ``price=``; default ``PriceBook.default()``."""
    max_cost_per_call: float | None = Field(default=None, gt=0)
    """Largest worst-case cost in USD a single call may have, checked before sending."""
    budget: Budget | Sequence[Budget] | None = Field(default=None, exclude=True)
    """A ``Budget`` or a list of them (global, per ``budget_key``, per period)."""
    on_budget_exceeded: Literal["downgrade", "raise"] = "downgrade"
    """Over a cap or budget: try cheaper tiers, or raise ``BudgetExceededError`` at once."""
    cap_output_to_budget: bool = False
    """Over a cap or budget: first lower ``max_tokens`` to what fits (not below the floor)."""
    min_output_tokens: int = Field(default=256, gt=0)
    """Floor for ``cap_output_to_budget``: never cap the output below this."""
    ledger: Ledger | None = Field(default=None, exclude=True)
    """Where spend records go when no budget names a ledger (e.g. ``SQLiteLedger(path)``)."""
    retry: RetryPolicy | None = Field(default=None, exclude=True)
    """``RetryPolicy`` for retryable errors on one tier, before falling back."""
    fallback_on: frozenset[str] | None = None
    """Error kinds that fall back (``retryable``, ``context_overflow``, ``refusal``)."""
    refusal_tier: str | None = None
    """Tier to ask when a tier refuses (content policy); ``None`` re-raises refusals."""
    allow_upgrade: bool = True
    """Whether fallbacks may go to more capable tiers after the cheaper ones."""
    cooldown_failures: int = Field(default=3, gt=0)
    """Consecutive retryable failures after which a tier cools down."""
    cooldown_seconds: float = Field(default=30.0, ge=0)
    """How long a cooling tier is skipped before it is probed again."""
    reservation_ttl_seconds: float = Field(default=600.0, gt=0, allow_inf_nan=False)
    """How long a budget reservation holds before it expires unsettled (a crashed holder);
    keep it above your longest call, streams included."""
    unknown_outcome: Literal["charge", "release"] = "charge"
    """A request that failed after it was sent (client timeout, dropped connection, cut
    stream) may still be billed: ``"charge"`` its reserved worst case at once (marked as an
    estimate, with the error in the spend record), or ``"release"`` the reservation."""
    shared_state: Any = Field(default=None, exclude=True)
    """A :class:`~langchain_tiered.shared.RedisState`: tier rate limits and cooldowns (and
    those of ``Tier(deployments=...)``) counted across every replica instead of per process.
    Budgets are shared through their ledger (``RedisLedger``/``PostgresLedger``)."""
    rate_limit_max_wait: float = Field(default=0.0, ge=0)
    """Seconds a call may wait for a tier's local rate limit before routing elsewhere."""
    seed: int | None = None
    """Seed for retry jitter (tests)."""
    max_tokens: int | None = Field(default=None, gt=0)
    """Default output cap sent with every call (a call's own ``max_tokens`` wins)."""
    temperature: float | None = None
    """Sampling temperature sent with every call when set (not every model accepts one)."""
    stop: list[str] | None = None
    """Default stop sequences sent with every call."""
    timeout: float | None = Field(default=None, gt=0)
    """Total seconds a call may spend on retries and their waits (overrides ``retry``)."""
    max_retries: int | None = Field(default=None, ge=0)
    """Retries per tier before falling back (overrides ``retry.max_attempts - 1``)."""
    streaming: bool = False
    """Stream from the tier even on ``invoke`` (LangChain's standard flag)."""
    clock: Clock = Field(default_factory=SystemClock, exclude=True)
    """Time source for retries, cooldowns, rate limits and budget periods."""
    cascade: InstanceOf[Cascade] | None = Field(default=None, exclude=True)
    """Answer on a cheap tier first, escalate when a validator rejects (per call: ``cascade=``)."""
    sticky: Literal["priced", "always", "never"] = "priced"
    """Agent threads: stay on a thread's tier while its prompt cache pays (``"priced"``),
    whenever the pre-flight allows (``"always"``), or route every call afresh (``"never"``)."""
    threads: ThreadStore | None = Field(default=None, exclude=True)
    """Where threads' last tier and usage live (expiring); default in memory."""
    thread_expected_steps: int = Field(default=10, gt=0)
    """Calls a thread is expected to make in all; the saving of a switch counts the rest."""

    _rt: Runtime = PrivateAttr()

    @model_validator(mode="after")
    def _build(self) -> Self:
        self._rt = build_runtime(self)
        # Also in the instance dict: a pydantic private attribute is read through
        # ``BaseModel.__getattr__`` after a failed lookup (~2-5 us a read, several per call);
        # from ``__dict__`` it is a plain attribute read. Both name the same object, and
        # pydantic's dump, iteration and repr skip underscore names.
        self.__dict__["_rt"] = self._rt
        return self

    # -- LangChain metadata ------------------------------------------------------------

    @property
    def _llm_type(self) -> str:
        return "tiered-chat-model"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        # Read on every call (tracing, cache keys); the configuration is fixed, so built once.
        # LangChain copies it (``BaseChatModel.dict``) before adding to it.
        return self._rt.identity  # type: ignore[return-value]

    def _get_invocation_params(
        self, stop: list[str] | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        # BaseChatModel's params (``dict()`` + ``stop`` + kwargs, in that order) without the
        # deprecation shim it wraps ``dict()`` in (~4% of a call), unless a subclass
        # overrides ``dict``/``asdict``.
        cls = type(self)
        if cls.dict is not BaseChatModel.dict or cls.asdict is not BaseChatModel.asdict:
            return super()._get_invocation_params(stop=stop, **kwargs)
        return {**self._rt.identity, "_type": self._llm_type, "stop": stop, **kwargs}

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        # Built directly rather than through the base class, whose attribute probing on a
        # model with this many fields costs more than the rest of the routing.
        params = LangSmithParams(ls_provider="tiered", ls_model_type="chat")
        model = kwargs.get("model")
        tier = kwargs.get("tier")
        rt = self._rt
        known = rt.by_name.get(tier) if isinstance(tier, str) else None
        if isinstance(model, str):
            params["ls_model_name"] = model
        elif known is not None:
            params["ls_model_name"] = known.model_name or known.name
        else:
            # The chosen tier is only known up front with an override; otherwise name the
            # tier set, which no tracer prices (the tier's own child run carries its model).
            params["ls_model_name"] = rt.set_name
        temperature = kwargs.get("temperature", self.temperature)
        if isinstance(temperature, (int, float)):
            params["ls_temperature"] = temperature
        max_tokens = kwargs.get("max_tokens", self.max_tokens)
        if isinstance(max_tokens, int):
            params["ls_max_tokens"] = max_tokens
        if stop:
            params["ls_stop"] = stop
        return params

    # -- tools and structured output ----------------------------------------------------

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | Any],
        *,
        tool_choice: str | dict[str, Any] | bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind tools to every tier; each call still routes, and each tier formats them.

        A tier whose model cannot bind tools is skipped for tool calls (reason recorded).
        """
        for tool in tools:  # fail at bind time on tools no tier could format
            convert_to_openai_tool(tool)
        if "ls_structured_output_format" in kwargs:
            kwargs["tiered_structured_output"] = True
        return self.bind(tools=list(tools), tool_choice=tool_choice, **kwargs)

    def with_structured_output(
        self,
        schema: dict[str, Any] | type | None = None,
        *,
        include_raw: bool = False,
        method: Literal["function_calling", "json_mode", "json_schema"] = "function_calling",
        strict: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, dict[str, Any] | Any]:
        """Answer in ``schema`` (pydantic class, TypedDict or JSON schema), with ``method``.

        The answering tier is asked with ``method`` the way its own model would ask
        (``json_schema``/``json_mode``: a ``response_format``; ``function_calling``: a forced
        tool call), with ``strict`` passed on. A tier whose model cannot build the method
        falls back to function calling, noted in ``response_metadata["tiered"]``
        (``structured_output_note``). ``include_raw=True`` returns ``{"raw", "parsed",
        "parsing_error"}`` as in langchain-core.

        Raises:
            ValueError: An unknown ``method``, extra arguments, or no schema for a method
                that needs one.
        """
        return structured_output(
            self, schema, include_raw=include_raw, method=method, strict=strict, extra=kwargs
        )

    # -- planning without calling -------------------------------------------------------

    def plan(
        self,
        input: LanguageModelInput,
        *,
        tier: str | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> CallPlan:
        """What a call with this input would do, without any network call or spending.

        Routes the input, prices the worst case on every tier and walks the fallback order
        through the context-window and ``max_cost_per_call`` checks. Budgets, cooldowns and
        rate limits are not consulted (they depend on the moment of the call). The
        ``langchain-tiered estimate`` command is built on it.

        Args:
            input: Anything ``invoke`` accepts.
            tier: A per-call tier override.
            metadata: The call's config metadata (``tier``, ``budget_key``).
            **kwargs: Call kwargs such as ``max_tokens``.
        """
        messages = self._convert_input(input).to_messages()
        call_kwargs = dict(kwargs)
        if tier is not None:
            call_kwargs["tier"] = tier
        req = build_request(
            self._rt, messages, None, call_kwargs, MetadataOnly(metadata or {}), stream=False
        )
        return preview(self._rt, req)

    # -- LCEL composition ---------------------------------------------------------------

    def as_fallback_runnable(
        self, primary: str | None = None, *, callbacks: Sequence[Any] | None = None
    ) -> Runnable[LanguageModelInput, BaseMessage]:
        """The tiers as a LangChain ``RunnableWithFallbacks``, for hand-built LCEL.

        ``primary`` (default: the first tier) is tried first, then the same fallback
        order the model uses itself (cheaper tiers, then more capable ones if
        ``allow_upgrade``; per-tier ``fallbacks`` win). Each tier runs with ``callbacks``
        attached (e.g. a ``TieredCostCallbackHandler``) and is tagged ``tier:<name>``.
        It falls back on langchain-core's retryable errors and context overflows.

        Unlike the tiered model itself, the result is not a chat model: it does no
        routing, pre-flight checks, budgets or retries, and ``create_agent`` rejects it.
        """
        return fallback_runnable(self._rt, primary=primary, callbacks=callbacks)

    # -- entry points that publish the run for _stream (see _run_context) --------------

    def _generate_with_cache(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        if plain_generate(self, run_manager, kwargs):  # LangChain would only call _generate
            return stamp_ids(self._generate(messages, stop, run_manager, **kwargs), run_manager)
        with publish(self, run_manager):
            return super()._generate_with_cache(messages, stop, run_manager, **kwargs)

    async def _agenerate_with_cache(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        if plain_generate(self, run_manager, kwargs):
            result = await self._agenerate(messages, stop, run_manager, **kwargs)
            return stamp_ids(result, run_manager)
        with publish(self, run_manager):
            return await super()._agenerate_with_cache(messages, stop, run_manager, **kwargs)

    def stream(
        self,
        input: LanguageModelInput,
        config: RunnableConfig | None = None,
        *,
        stop: list[str] | None = None,
        **kwargs: Any,
    ) -> Iterator[AIMessageChunk]:
        """Stream the routed tier's answer chunk by chunk (see ``BaseChatModel.stream``)."""
        config = ensure_config(config)
        with publish(self, stream_run(self, config, is_async=False)):  # type: ignore[arg-type]
            yield from super().stream(input, config, stop=stop, **kwargs)

    async def astream(
        self,
        input: LanguageModelInput,
        config: RunnableConfig | None = None,
        *,
        stop: list[str] | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[AIMessageChunk]:
        """Async twin of :meth:`stream`."""
        config = ensure_config(config)
        run = stream_run(self, config, is_async=True)  # type: ignore[arg-type]
        with publish(self, run):
            outer = cast(
                "AsyncGenerator[AIMessageChunk, None]",
                super().astream(input, config, stop=stop, **kwargs),
            )
            try:
                async for chunk in outer:
                    yield chunk
            finally:  # abandoned: end LangChain's run, then settle the tier's stream, now
                await outer.aclose()
                for close in run.closers:
                    await close()

    # -- sync and async entry points (bodies in _call/entry.py) ------------------------

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return entry.generate(self._rt, messages, stop, run_manager, kwargs)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return await entry.agenerate(self._rt, messages, stop, run_manager, kwargs)

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        run_manager = run_manager or current_run(self)
        yield from entry.stream(self._rt, messages, stop, run_manager, kwargs)

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        run_manager = run_manager or current_run(self)
        body = entry.astream(self._rt, messages, stop, run_manager, kwargs)
        if isinstance(run_manager, StreamRun):
            run_manager.closers.append(body.aclose)
        async for chunk in body:
            yield chunk
