"""Several deployments of one model inside one tier (two keys, two regions, Azure + OpenAI).

:class:`Deployments` is itself a chat model, so a :class:`~langchain_tiered.Tier` holds it like
any other and the call engine does not change: per call a *policy* orders the deployments
that are not cooling down, the first one whose rate limit admits the call answers, and a
retryable failure moves on to its sibling. That is not a tier fallback: the tier, its price
(keyed off the one shared model name) and its budget stay the same. Only when every
deployment failed or is limited does the tier fail, with the last error, so the engine then
falls back to the next tier as usual.

Rate limits and cooldowns are per deployment: in this process by default, or across every
replica when ``shared_state=RedisState(url)`` is given.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from contextlib import aclosing
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from langchain_tiered._clock import Clock, SystemClock
from langchain_tiered.deployments._calls import (
    child_config,
    chunk,
    exhausted,
    limited,
    usage,
    wait_for,
)
from langchain_tiered.deployments.policies import (
    DeploymentStats,
    Policy,
    StatsBook,
    least_in_flight,
)
from langchain_tiered.tiers import model_name_of

__all__ = ["Deployment", "Deployments"]


class Deployment(BaseModel):
    """One deployment: a chat model plus its own limits."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True, extra="forbid")

    name: str = Field(min_length=1)
    """Unique within the tier; names its rate limit and cooldown (shared by name)."""
    model: BaseChatModel
    """The chat model of this deployment (its own key, region or provider)."""
    requests_per_minute: float | None = Field(default=None, gt=0)
    """This deployment's request limit."""
    tokens_per_minute: float | None = Field(default=None, gt=0)
    """This deployment's token limit (weighted by prompt tokens plus the output cap)."""


class Deployments(BaseChatModel):
    """A chat model spreading calls over several deployments of the same model.

    Example:
        .. code-block:: python

            fast = Deployments(
                deployments=[
                    Deployment(name="eu", model=AzureChatOpenAI(...), tokens_per_minute=90_000),
                    Deployment(name="us", model=ChatOpenAI(model="gpt-4.1-mini")),
                ],
                model_name="gpt-4.1-mini",  # what pricing looks up
                policy=least_tpm_used,
                shared_state=RedisState("redis://redis:6379/0"),  # limits across replicas
            )
            Tier(name="fast", model=fast)
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    deployments: list[Deployment] = Field(min_length=1)
    """The deployments; bare chat models are accepted and named ``d0``, ``d1``, ..."""
    model_name: str | None = None
    """The model all deployments serve, used for pricing; defaults to their common name."""
    policy: Policy = Field(default=least_in_flight, exclude=True)
    """Orders the available deployments per call (see :func:`least_in_flight`)."""
    shared_state: Any = Field(default=None, exclude=True)
    """A :class:`~langchain_tiered.shared.RedisState` to share limits and cooldowns."""
    cooldown_failures: int = Field(default=1, gt=0)
    """Consecutive retryable failures that take a deployment out of rotation."""
    cooldown_seconds: float = Field(default=30.0, ge=0)
    """How long a failing deployment is skipped."""
    max_wait: float = Field(default=0.0, ge=0)
    """Seconds a call may wait for a deployment's rate limit (invoke/ainvoke) before the
    tier gives up and the engine falls back; 0 routes elsewhere at once."""
    max_tokens: int | None = Field(default=None, gt=0)
    """Output cap sent to the deployments (the tier engine also passes its own per call)."""
    clock: Clock = Field(default_factory=SystemClock, exclude=True)
    """Time source for latencies, local limits and cooldowns."""

    _book: StatsBook = PrivateAttr()
    _limiters: dict[str, Any] = PrivateAttr(default_factory=dict)
    _breaker: Any = PrivateAttr()

    @model_validator(mode="before")
    @classmethod
    def _wrap_models(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("deployments"), list | tuple):
            data = dict(data)
            data["deployments"] = [
                Deployment(name=f"d{i}", model=d) if isinstance(d, BaseChatModel) else d
                for i, d in enumerate(data["deployments"])
            ]
        return data

    @model_validator(mode="after")
    def _check(self) -> Deployments:
        names = [d.name for d in self.deployments]
        if len(set(names)) != len(names):
            msg = f"deployment names must be unique within a tier, got {names}"
            raise ValueError(msg)
        if self.model_name is None:
            served = {model_name_of(d.model) for d in self.deployments}
            if len(served) != 1 or None in served:
                msg = (
                    f"deployments serve different or unknown models {sorted(map(str, served))}; "
                    "a tier's deployments must be one model (its price is looked up by name): "
                    "pass model_name='...' to say which"
                )
                raise ValueError(msg)
            self.model_name = served.pop()
        if self.profile is None:
            self.profile = getattr(self.deployments[0].model, "profile", None)
        self._setup()
        return self

    def _setup(self) -> None:
        from langchain_tiered.fallbacks import CircuitBreaker  # noqa: PLC0415
        from langchain_tiered.ratelimit import TierRateLimiter  # noqa: PLC0415

        self._book = StatsBook(self.clock)
        shared = self.shared_state
        if shared is not None:
            self._breaker = shared.breaker(
                failure_threshold=self.cooldown_failures, cooldown_seconds=self.cooldown_seconds
            )
        else:
            self._breaker = CircuitBreaker(
                failure_threshold=self.cooldown_failures,
                cooldown_seconds=self.cooldown_seconds,
                clock=self.clock,
            )
        for d in self.deployments:
            if d.requests_per_minute is None and d.tokens_per_minute is None:
                continue
            limits = {
                "requests_per_minute": d.requests_per_minute,
                "tokens_per_minute": d.tokens_per_minute,
            }
            self._limiters[d.name] = (
                shared.limiter(f"{self.model_name}/{d.name}", **limits)
                if shared is not None
                else TierRateLimiter(**limits, clock=self.clock)
            )

    def with_shared_state(self, state: Any) -> Deployments:
        """A copy whose limits and cooldowns live in ``state`` (a ``RedisState``).

        ``TieredChatModel(shared_state=...)`` applies it to every tier built with
        ``Tier(deployments=[...])`` that has no state of its own.
        """
        return type(self)(
            deployments=self.deployments,
            model_name=self.model_name,
            policy=self.policy,
            shared_state=state,
            cooldown_failures=self.cooldown_failures,
            cooldown_seconds=self.cooldown_seconds,
            max_wait=self.max_wait,
            max_tokens=self.max_tokens,
            clock=self.clock,
        )

    @property
    def _llm_type(self) -> str:
        return "tiered-deployments"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_name": self.model_name, "deployments": [d.name for d in self.deployments]}

    @property
    def stats(self) -> list[DeploymentStats]:
        """This replica's view of each deployment, in list order."""
        return self._book.stats(self.deployments)

    # -- calls -----------------------------------------------------------------------

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        config = child_config(run_manager)
        waited = 0.0
        while True:
            errors: list[BaseException] = []
            for dep in self._candidates(messages, kwargs, errors):
                started = self._book.start(dep.name)
                try:
                    message = dep.model.invoke(messages, config, stop=stop, **kwargs)
                except Exception as exc:
                    self._failed(dep, started, exc, errors)
                    continue
                return self._answered(dep, started, message)
            wait = self._wait_or_raise(errors, waited)
            self.clock.sleep(wait)
            waited += wait

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        config = child_config(run_manager)
        waited = 0.0
        while True:
            errors: list[BaseException] = []
            for dep in self._candidates(messages, kwargs, errors):
                started = self._book.start(dep.name)
                try:
                    message = await dep.model.ainvoke(messages, config, stop=stop, **kwargs)
                except Exception as exc:
                    self._failed(dep, started, exc, errors)
                    continue
                return self._answered(dep, started, message)
            wait = self._wait_or_raise(errors, waited)
            await self.clock.asleep(wait)
            waited += wait

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        # A sibling may take over only before the first chunk: two answers are never spliced.
        config = child_config(run_manager)
        errors: list[BaseException] = []
        for dep in self._candidates(messages, kwargs, errors):
            started = self._book.start(dep.name)
            stream = dep.model.stream(messages, config, stop=stop, **kwargs)
            try:
                first = next(stream, None)
            except Exception as exc:
                self._failed(dep, started, exc, errors)
                continue
            yield from self._relay(dep, started, first, stream)
            return
        raise self._exhausted(errors)

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        config = child_config(run_manager)
        errors: list[BaseException] = []
        for dep in self._candidates(messages, kwargs, errors):
            started = self._book.start(dep.name)
            stream = dep.model.astream(messages, config, stop=stop, **kwargs)
            try:
                first = await anext(stream, None)
            except Exception as exc:
                self._failed(dep, started, exc, errors)
                continue
            # aclosing: a caller abandoning this stream ends the deployment's run at once.
            async with aclosing(self._arelay(dep, started, first, stream)) as parts:
                async for part in parts:
                    yield part
            return
        raise self._exhausted(errors)

    # -- shared pure-ish helpers (sync and async paths call the same ones) -------------

    def _candidates(
        self, messages: list[BaseMessage], kwargs: dict[str, Any], errors: list[BaseException]
    ) -> Iterator[Deployment]:
        """Deployments in policy order that are not cooling down and whose limit admits."""
        stats = [s for s in self.stats if not self._breaker.is_open(s.name)]
        by_name = {d.name: d for d in self.deployments}
        weight: int | None = None
        for s in self.policy(stats):
            limiter = self._limiters.get(s.name)
            if limiter is not None:
                weight = weight if weight is not None else self._weight(messages, kwargs)
                if not limiter.try_acquire(weight):
                    errors.append(limited(s.name, limiter.wait_time(weight)))
                    continue
            yield by_name[s.name]

    def _weight(self, messages: list[BaseMessage], kwargs: dict[str, Any]) -> int:
        from langchain_tiered.preflight import call_max_tokens  # noqa: PLC0415
        from langchain_tiered.tokens import count_tokens  # noqa: PLC0415

        cap = call_max_tokens(kwargs) or self.max_tokens or 0
        return count_tokens(messages, model=self.model_name) + cap

    def _failed(
        self, dep: Deployment, started: float, exc: Exception, errors: list[BaseException]
    ) -> None:
        """Count a failure against the deployment; re-raise unless a sibling may help.

        A request that failed after it was sent (timeout, dropped connection) may have been
        billed: it is re-raised after counting, so the tier engine charges that unknown
        outcome and retries (on a sibling, this one cooling down) under a new reservation.
        Trying the sibling here would answer under the one reservation and lose the charge.
        """
        from langchain_tiered.fallbacks import ErrorCause, ErrorKind, classify_error  # noqa: PLC0415

        self._book.end(dep.name, started, None)
        info = classify_error(exc)
        if info.kind is not ErrorKind.RETRYABLE:
            raise exc
        if info.retry_after:
            self._breaker.hold(dep.name, info.retry_after)
        self._breaker.record_failure(dep.name, info)
        if info.cause in (ErrorCause.TIMEOUT, ErrorCause.CONNECTION):
            raise exc
        errors.append(exc)

    def _answered(self, dep: Deployment, started: float, message: BaseMessage) -> ChatResult:
        self._book.end(dep.name, started, usage(message))
        self._breaker.record_success(dep.name)
        if isinstance(message, AIMessage):
            message.response_metadata["deployment"] = dep.name
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _relay(
        self, dep: Deployment, started: float, first: Any, stream: Iterator[Any]
    ) -> Iterator[ChatGenerationChunk]:
        tokens = 0
        try:
            if first is not None:
                tokens += usage(first)
                yield chunk(first, dep.name)
            for part in stream:
                tokens += usage(part)
                yield chunk(part, dep.name)
        finally:
            self._book.end(dep.name, started, tokens)
        self._breaker.record_success(dep.name)

    async def _arelay(
        self, dep: Deployment, started: float, first: Any, stream: AsyncIterator[Any]
    ) -> AsyncGenerator[ChatGenerationChunk, None]:
        tokens = 0
        try:
            if first is not None:
                tokens += usage(first)
                yield chunk(first, dep.name)
            async for part in stream:
                tokens += usage(part)
                yield chunk(part, dep.name)
        finally:
            self._book.end(dep.name, started, tokens)
        self._breaker.record_success(dep.name)

    def _wait_or_raise(self, errors: list[BaseException], waited: float) -> float:
        """Seconds to wait for a rate limit before trying again, or raise the tier's error."""
        wait = wait_for(errors, waited, self.max_wait)
        if wait is None:
            raise self._exhausted(errors)
        return wait

    def _exhausted(self, errors: list[BaseException]) -> BaseException:
        return exhausted(errors, self.model_name, [d.name for d in self.deployments])
