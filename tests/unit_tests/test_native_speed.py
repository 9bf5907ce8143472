"""Issue 13: the hot path's shortcuts give the same answers as the long way.

(Speed itself is measured by ``benchmarks/run_all.py``, never asserted in tests.)
"""

from __future__ import annotations

import random
import uuid
from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import ConfigDict

from langchain_tiered import (
    Budget,
    BudgetExceededError,
    InMemoryLedger,
    ModelPrice,
    Tier,
    TieredChatModel,
    TieredCostCallbackHandler,
)
from langchain_tiered.pricing import BilledUsage, billed_usage
from langchain_tiered.routing import ComplexityRouter, RouteDecision, RouteRequest


def _random_history(rng: random.Random) -> list[BaseMessage]:
    kinds = [
        lambda: HumanMessage("a" * rng.randint(0, 30)),
        lambda: SystemMessage("s" * rng.randint(0, 5)),
        lambda: AIMessage("x" * rng.randint(0, 5)),
        lambda: HumanMessage(
            [{"type": "text", "text": "hi"}, {"type": "image_url", "image_url": {"url": "u"}}]
        ),
    ]
    return [rng.choice(kinds)() for _ in range(rng.randint(0, 8))]


def test_running_text_length_equals_the_joined_history() -> None:
    rng = random.Random(7)
    for _ in range(200):
        history = _random_history(rng)
        for end in range(len(history) + 1):  # an agent loop: the same objects, one more each turn
            request = RouteRequest(messages=tuple(history[:end]), tiers=("a",))
            assert request.text_length == len(request.full_text)
        if history:
            history[0].content = "edited in place after it was sent"
            request = RouteRequest(messages=tuple(history), tiers=("a",))
            assert request.text_length == len(request.full_text)


def test_router_decision_unchanged_by_the_running_length() -> None:
    router = ComplexityRouter()
    history: list[BaseMessage] = []
    for i in range(60):
        history += [HumanMessage(f"Question {i}: explain step by step"), AIMessage("ok")]
        request = RouteRequest(messages=tuple(history), tiers=("a", "b", "c"))
        running = router(request)  # reuses the previous turn's total
        fresh = RouteRequest(messages=tuple(m.model_copy() for m in history), tiers=("a", "b", "c"))
        assert running == router(fresh)  # new objects: measured from scratch


class _DeepSeekLike(BaseChatModel):
    """Answers with DeepSeek's raw cache-hit usage, which usage_metadata does not map."""

    model_name: str = "deepseek-chat"

    @property
    def _llm_type(self) -> str:
        return "deepseek-like"

    def _generate(self, messages: Any, stop: Any = None, run_manager: Any = None, **kw: Any) -> Any:
        message = AIMessage(
            content="ok",
            usage_metadata={"input_tokens": 1000, "output_tokens": 10, "total_tokens": 1010},
            response_metadata={
                "model_name": self.model_name,
                "token_usage": {"prompt_cache_hit_tokens": 800, "prompt_cache_miss_tokens": 200},
            },
        )
        return ChatResult(generations=[ChatGeneration(message=message)])


def test_usage_read_once_prices_like_the_long_way_and_reaches_the_callback() -> None:
    top = ModelPrice(input_per_mtok=10.0, output_per_mtok=40.0, cached_input_per_mtok=1.0)
    low = ModelPrice(input_per_mtok=1.0, output_per_mtok=2.0, cached_input_per_mtok=0.1)
    model = TieredChatModel(
        tiers=[
            Tier(name="top", model=_DeepSeekLike(), price=top),
            Tier(name="low", model=_DeepSeekLike(), price=low),
        ]
    )
    handler = TieredCostCallbackHandler()
    answer = model.invoke("hi", config={"callbacks": [handler]}, tier="low")
    meta = answer.response_metadata["tiered"]
    # 200 uncached at $1, 800 cache hits at $0.1, 10 output at $2 (per million).
    assert meta["cost_usd"] == pytest.approx((200 * 1.0 + 800 * 0.1 + 10 * 2.0) / 1e6)
    assert meta["baseline_cost_usd"] == pytest.approx((200 * 10.0 + 800 * 1.0 + 10 * 40.0) / 1e6)
    assert meta["cost_usd"] == pytest.approx(
        low.cost(answer.usage_metadata or {}, response_metadata=answer.response_metadata)
    )
    assert meta["billed_tokens"] == {
        "input_tokens": 1000,
        "output_tokens": 10,
        "cached_tokens": 800,
        "reasoning_tokens": 0,
    }
    stats = handler.by_tier["low"]
    assert (stats.input_tokens, stats.cached_tokens) == (1000, 800)
    assert handler.total_cost_usd == pytest.approx(meta["cost_usd"])


@pytest.mark.parametrize(
    "metadata",
    [{}, {"service_tier": "default"}, {"service_tier": ""}, {"token_usage": {}}, {"model": "m"}],
)
def test_billed_usage_shortcut_equals_the_full_reading(metadata: dict[str, Any]) -> None:
    usage = {"input_tokens": 7, "output_tokens": 3, "total_tokens": 10}
    assert billed_usage(usage, metadata) == BilledUsage(input_tokens=7, output_tokens=3)
    # Any detail still takes the full reading.
    flex = billed_usage(usage, {**metadata, "service_tier": "flex"})
    assert flex.service_tier == "flex"
    hits = billed_usage(usage, {**metadata, "token_usage": {"prompt_cache_hit_tokens": 5}})
    assert hits.cache_read == 5


def test_worst_case_equals_the_worst_case_price() -> None:
    flat = ModelPrice(input_per_mtok=2.0, output_per_mtok=8.0, per_request_usd=0.001)
    price = ModelPrice(
        input_per_mtok=1.0,
        output_per_mtok=4.0,
        cached_input_per_mtok=0.1,
        cache_write_per_mtok=1.25,
        cache_write_1h_per_mtok=2.0,
        long_context={1000: flat},
        service_tiers={"priority": flat},
    )
    for tokens in (10, 1000, 1001, 5000):
        for tier in (None, "priority", "flex"):
            for writes in ("none", "5m", "1h", "any"):
                bound = price.worst_case_price(tokens, service_tier=tier, cache_writes=writes)
                expected = bound.worst_case(tokens, 100)
                got = price.worst_case(tokens, 100, service_tier=tier, cache_writes=writes)
                assert got == expected


def test_one_prefix_check_per_call_gives_the_same_lengths_and_counts() -> None:
    """Router and token memo read the chat model's per-call check: same answers, edits seen."""
    from langchain_tiered._conversation import EMPTY, follow
    from langchain_tiered.tokens import TokenCounter

    rng = random.Random(11)
    shared, last = TokenCounter(), EMPTY
    for _ in range(120):
        history = _random_history(rng)
        turns = [history[:end] for end in range(1, len(history) + 1)]
        if history and rng.random() < 0.5:
            turns.append(history)  # the same conversation resent unchanged
        for i, messages in enumerate(turns):
            if i == len(turns) - 1 and history:
                history[0].content = "edited in place after it was sent"
            last = follow(last, messages)
            request = RouteRequest(messages=tuple(messages), tiers=("a",))
            request.__dict__["_conversation"] = last
            assert request.text_length == len(request.full_text)
            for model in ("gpt-4o", "claude-3-5-sonnet"):  # the snapshot changes profile too
                counted = shared.count(messages, model=model, conversation=last)
                assert counted == TokenCounter().count(messages, model=model)
                assert counted == shared.count(messages, model=model, conversation=last)


@pytest.mark.parametrize("guard", ["budget", "max_cost_per_call", "tokens_per_minute", None])
def test_agent_loop_through_the_model_routes_on_the_true_length(guard: str | None) -> None:
    """Every call routes on the true length; an in-place edit is seen when money rests on it.

    Without a budget, cap or rate limit, resent messages are trusted on identity (one C
    comparison per call instead of a content read per message): the edit is then seen by
    the next call that needs exact counts, not by the router.
    """
    seen: list[tuple[int, int]] = []

    def router(request: RouteRequest) -> Any:
        seen.append((request.text_length, len(request.full_text)))
        return ComplexityRouter()(request)

    price = ModelPrice(input_per_mtok=1, output_per_mtok=2)
    tpm = 1e9 if guard == "tokens_per_minute" else None  # a local rate limit weighs the count
    tiers = [
        Tier(name=n, model=_DeepSeekLike(), price=price, tokens_per_minute=tpm)
        for n in ("strong", "weak")
    ]
    guards: dict[str | None, Any] = {
        "budget": {"budget": Budget(limit_usd=100.0, ledger=InMemoryLedger())},
        "max_cost_per_call": {"max_cost_per_call": 10.0},
        "tokens_per_minute": {},
        None: {},
    }
    model = TieredChatModel(tiers=tiers, router=router, **guards[guard])
    history: list[BaseMessage] = [SystemMessage("be brief")]
    for i in range(6):
        history.append(HumanMessage(f"question {i} " * (i + 1)))
        history.append(model.invoke(history))
    history[1].content = "an earlier question, edited in place"
    model.invoke(history)
    assert len(seen) == 7
    assert all(running == joined for running, joined in seen[:6])
    running, joined = seen[6]
    if guard is None:  # the identity shortcut: the old length until a check needs the new
        assert running == joined - len("an earlier question, edited in place") + len("question 0 ")
    else:
        assert running == joined


def _to_small_model(window: int | None = 200, **settings: Any) -> TieredChatModel:
    """Routes every call to ``small`` (a ``window``-token window), ``large`` behind it."""
    price = ModelPrice(input_per_mtok=1, output_per_mtok=2)
    tiers = [
        Tier(name=name, model=_DeepSeekLike(), price=price, context_window=w)
        for name, w in (("large", 100_000), ("small", window))
    ]
    to_small = lambda request: RouteDecision(tier="small", reason="test")  # noqa: E731
    return TieredChatModel(tiers=tiers, router=to_small, **settings)


def test_no_tier_is_skipped_for_its_window_on_a_count_made_before_an_edit() -> None:
    model = _to_small_model()
    history: list[BaseMessage] = [HumanMessage("tell me about rivers " * 100)]
    first = model.invoke(history).response_metadata["tiered"]
    assert first["tier"] == "large"  # ~400 tokens do not fit the small window
    history.append(AIMessage("ok"))
    history.append(HumanMessage("and lakes?"))
    model.invoke(history)  # same objects resent: trusted on identity
    history[0].content = "tell me about rivers"  # trimmed in place: now it fits
    assert model.invoke(history).response_metadata["tiered"]["tier"] == "small"


def test_a_capped_call_counts_a_message_grown_in_place() -> None:
    """With ``max_cost_per_call`` resent messages are checked: a grown one is priced."""
    # The fake takes no output cap: each call is priced at deepseek-chat's 8,192 output
    # tokens ($0.0164), plus the prompt.
    model = _to_small_model(None, max_cost_per_call=0.02, on_budget_exceeded="raise")
    history: list[BaseMessage] = [HumanMessage("a short question")]
    model.invoke(history)
    model.invoke(history)
    history[0].content = "a question grown in place " * 5000  # ~25k more tokens: $0.025
    with pytest.raises(BudgetExceededError):
        model.invoke(history)


def test_follow_without_verify_trusts_identity_and_verified_finds_the_edit() -> None:
    from langchain_tiered._conversation import EMPTY, follow, verified

    history: list[BaseMessage] = [HumanMessage("one"), AIMessage("two"), HumanMessage("three")]
    first = follow(EMPTY, history)
    trusted = follow(first, [*history, AIMessage("four")], verify=False)
    assert (trusted.reused, trusted.verified) == (3, False)
    assert verified(trusted) is trusted  # nothing was edited
    assert trusted.verified
    history[1].content = "edited"
    again = follow(trusted, history, verify=False)
    assert (again.reused, again.verified, again.contents[1]) == (3, False, "two")
    checked = verified(again)
    assert (checked.reused, checked.verified, checked.contents[1]) == (1, True, "edited")
    assert follow(again, history).reused == 1  # a verified follow sees it too
    superseded = follow(checked, history, verify=False)
    follow(superseded, history)  # a later call supersedes it: its previous is dropped
    assert verified(superseded).reused == 0


def test_messages_that_validate_assignment_are_read_through_the_message() -> None:
    from langchain_tiered._conversation import EMPTY, follow

    class Checked(HumanMessage):
        model_config = ConfigDict(validate_assignment=True)

    message = Checked("before")
    first = follow(EMPTY, [message])
    message.content = "after"  # pydantic gives such a model a new __dict__ here
    assert follow(first, [message]).reused == 0


def test_text_signals_memo_equals_the_long_way_and_follows_the_text() -> None:
    from langchain_tiered.routing.signals import matcher_for

    router = ComplexityRouter()
    matcher = matcher_for(router.signals)
    texts = ["prove that 2 + 2 = 4 step by step", "1. list\n2. compare?", "```x```", "hi", ""]
    for text in texts * 2 + texts[::-1]:  # repeats (memo hits) and changes (misses)
        hits, parts = matcher.text_signals(text)
        assert hits == matcher.find(text)
        long_way = matcher.words(hits) + matcher.structure(
            text, n_tools=0, structured_output=False, tokens=1.0
        )
        assert list(parts) == long_way[:-1]  # everything but the length part
        request = RouteRequest(messages=(HumanMessage(text),), tiers=("a", "b"))
        remembered = router(request)
        matcher._last = None  # scored from scratch
        assert remembered == router(request)


def test_router_text_memo_follows_the_text_and_rescores_the_length() -> None:
    """The last turn's memo is reused only for the same text; the length is scored anew."""
    texts = ["prove that 2 + 2 = 4 step by step", "hi", "Übersetze: Haus", "hi", "hi"]
    remembering = ComplexityRouter()
    for i, text in enumerate(texts * 2):
        for tokens in (None, 3, 3000):  # same text, other lengths: other scores
            request = RouteRequest(
                messages=(SystemMessage("x" * 40 * i), HumanMessage(text)),
                tiers=("a", "b", "c"),
                token_count=tokens,
            )
            fresh = ComplexityRouter()  # nothing remembered
            assert remembering(request) == fresh(request)
            assert remembering.contributions(request) == fresh.contributions(request)
            assert remembering.score(request) == fresh.score(request)


def test_router_decision_memo_equals_a_fresh_decision_whatever_changes() -> None:
    """A repeated request gets the remembered decision; any changed input decides anew."""
    remembering = ComplexityRouter()
    tool = {"type": "function", "function": {"name": "f", "parameters": {}}}
    shapes = [
        {"tiers": ("a", "b")},
        {"tiers": ("a", "b", "c")},
        {"tiers": ("a", "b", "c"), "tools": (tool,)},
        {"tiers": ("a", "b", "c"), "structured_output": True},
        {"tiers": ("a", "b", "c"), "token_count": 5000},
    ]
    decisions = []
    for text in ("prove that 2 + 2 = 4 step by step", "hi"):
        for shape in shapes + shapes[::-1]:
            request = RouteRequest(messages=(HumanMessage(text),), **shape)
            decision = remembering(request)
            assert decision == ComplexityRouter()(request)
            decisions.append(decision)
    assert decisions[0] is not decisions[1]  # other tiers: decided anew
    again = remembering(RouteRequest(messages=(HumanMessage("hi"),), tiers=("a", "b")))
    assert again is decisions[-1]  # the same request as the last one: remembered
    assert remembering.with_thresholds((0.9,))(
        RouteRequest(messages=(HumanMessage("hi"),), tiers=("a", "b"))
    ) == ComplexityRouter(thresholds=(0.9,))(
        RouteRequest(messages=(HumanMessage("hi"),), tiers=("a", "b"))
    )


def test_runtime_read_from_the_instance_dict_is_the_private_one() -> None:
    """``_rt`` is also kept in ``__dict__`` for speed: never dumped, shared by copies."""
    price = ModelPrice(input_per_mtok=1.0, output_per_mtok=2.0)
    model = TieredChatModel(tiers=[Tier(name="a", model=_DeepSeekLike(), price=price)])
    assert model.__dict__["_rt"] is model.__pydantic_private__["_rt"]
    assert "_rt" not in model.model_dump()
    assert all(not key.startswith("_") for key, _ in model)
    copy = model.model_copy()
    assert copy._rt is model._rt
    before = dict(model._identifying_params)
    model.asdict()  # LangChain adds "_type" to its own copy
    assert model._identifying_params == before


def test_worst_rates_memo_is_per_price_and_never_read_by_a_copy() -> None:
    price = ModelPrice(
        input_per_mtok=1.0,
        output_per_mtok=2.0,
        cache_write_per_mtok=1.25,
        long_context={1000: ModelPrice(input_per_mtok=2.0, output_per_mtok=3.0)},
        service_tiers={"flex": ModelPrice(input_per_mtok=0.5, output_per_mtok=1.0)},
    )
    cases = [(10, None, "none"), (2000, None, "5m"), (10, "flex", "none"), (2000, "FLEX", "any")]
    first = [price.worst_case(n, 100, service_tier=t, cache_writes=w) for n, t, w in cases]
    again = [price.worst_case(n, 100, service_tier=t, cache_writes=w) for n, t, w in cases]
    assert (
        first
        == again
        == [
            (10 * 1.0 + 100 * 2.0) / 1e6,
            (2000 * 2.0 + 100 * 3.0) / 1e6,  # the long-context tier's rates
            (10 * 0.5 + 100 * 1.0) / 1e6,
            (2000 * 0.5 + 100 * 1.0) / 1e6,
        ]
    )
    dearer = price.model_copy(update={"input_per_mtok": 100.0})  # shares the instance dict
    assert dearer.worst_case(10, 0) == 10 * 100.0 / 1e6
    assert price.worst_case(10, 0) == 10 * 1.0 / 1e6
    assert price == ModelPrice.model_validate(price.model_dump())


def test_fallback_order_memo_follows_allow_upgrade_and_the_message_id_is_langchains() -> None:
    from langchain_tiered._call.decide import initial_order

    price = ModelPrice(input_per_mtok=1.0, output_per_mtok=2.0)
    model = TieredChatModel(
        tiers=[Tier(name=n, model=_DeepSeekLike(), price=price) for n in ("a", "b", "c")]
    )
    assert list(initial_order(model._rt, "b")) == ["b", "c", "a"]
    model.allow_upgrade = False  # a setting changed after construction is honoured
    assert list(initial_order(model._rt, "b")) == ["b", "c"]
    model.allow_upgrade = True
    assert list(initial_order(model._rt, "b")) == ["b", "c", "a"]
    # The id LangChain stamps on an id-less answer: lc_run--<run id>-0.
    run_id = uuid.uuid4()
    answer = model.invoke("hi", config={"run_id": run_id})
    assert answer.id == f"lc_run--{run_id}-0"
    direct = _DeepSeekLike().invoke("hi", config={"run_id": run_id})
    assert direct.id == answer.id


def test_invocation_params_equal_langchains_own() -> None:
    price = ModelPrice(input_per_mtok=1.0, output_per_mtok=2.0)
    model = TieredChatModel(tiers=[Tier(name="a", model=_DeepSeekLike(), price=price)])
    ours = model._get_invocation_params(stop=["x"], temperature=0.5)
    theirs = BaseChatModel._get_invocation_params(model, stop=["x"], temperature=0.5)
    assert ours == theirs
    assert list(ours) == list(theirs)
    assert ours is not model._get_invocation_params(stop=["x"], temperature=0.5)  # fresh dicts
