"""run_batch / arun_batch on fake tiers: order, dead letters, stats, resume, crash, progress."""

from __future__ import annotations

import asyncio
import json
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from langchain_core.exceptions import ModelAuthenticationError, ModelRateLimitError
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.runnables import RunnableConfig, RunnableLambda

from langchain_tiered import (
    AllTiersFailedError,
    Budget,
    BudgetExceededError,
    InMemoryLedger,
    Tier,
    TieredChatModel,
)
from langchain_tiered.batch import BatchResult, OutcomeUnknownError, arun_batch, run_batch
from langchain_tiered.fallbacks import RetryPolicy
from langchain_tiered.testing import FakeClock
from tests.unit_tests.fakes import PRICES, FakeTier, usage

Respond = Callable[[str], "AIMessage | Exception"]
TIERS = ("critical", "standard", "budget")

# Looks like an API key to the redaction, built at runtime so no key-shaped literal sits in
# the repository (the pre-commit secret scan would flag it).
FAKE_KEY = "sk-" + "abcdefghijklmnop" + "1234"


class Abort(BaseException):
    """Stands in for KeyboardInterrupt / a killed process: not an Exception, so not caught."""


def answer(text: str, inp: int = 1000, out: int = 100) -> AIMessage:
    return AIMessage(content=f"answer: {text}", usage_metadata=usage(inp, out))


def tiered(responders: dict[str, Respond] | None = None, **kwargs: Any) -> TieredChatModel:
    """Three fake tiers; each answers via ``responders[tier](prompt text)`` (default: answer)."""
    responders = responders or {}

    def respond_for(name: str) -> Any:
        fn = responders.get(name, answer)
        return lambda messages, _kw: fn(str(messages[-1].content))

    tiers = [
        Tier(name=n, model=FakeTier(model_name=n, respond=respond_for(n)), price=PRICES[n])
        for n in TIERS
    ]
    kwargs.setdefault("retry", RetryPolicy(max_attempts=2, base_delay=0.0, jitter=False))
    kwargs.setdefault("cooldown_failures", 1000)  # keep tiers warm: tests count exact attempts
    return TieredChatModel(tiers=tiers, clock=FakeClock(), seed=0, **kwargs)


def tier_calls(model: TieredChatModel) -> dict[str, int]:
    return {t.name: len(t.model.calls) for t in model.tiers}  # type: ignore[attr-defined]


@pytest.fixture(params=["sync", "async"])
def run(request: pytest.FixtureRequest) -> Callable[..., BatchResult]:
    """run_batch, or arun_batch driven to completion: every behaviour test runs both twins."""
    if request.param == "sync":
        return run_batch
    return lambda *a, **kw: asyncio.run(arun_batch(*a, **kw))


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]


# -- order and outputs ------------------------------------------------------------------------


async def test_async_order_is_input_order_though_completion_order_is_shuffled(
    tmp_path: Path,
) -> None:
    # Each item yields to the loop a different number of times: a deterministic shuffle.
    spins = [(7 * i) % 11 for i in range(40)]

    async def slow_echo(text: str) -> AIMessage:
        for _ in range(spins[int(text)]):
            await asyncio.sleep(0)
        return AIMessage(content=f"echo {text}")

    model = RunnableLambda(lambda t: AIMessage(content=t), afunc=slow_echo)
    out = tmp_path / "out.jsonl"
    result = await arun_batch(model, [str(i) for i in range(40)], max_concurrency=8, output=out)
    assert [r.output.content for r in result.results if r.output] == [
        f"echo {i}" for i in range(40)
    ]
    assert [r.index for r in result.results] == list(range(40))
    finished = [line["id"] for line in lines(out)]
    assert sorted(finished) == list(range(40))
    assert finished != list(range(40))  # they really finished out of order


def test_sync_order_is_input_order_under_threads(run: Callable[..., BatchResult]) -> None:
    gate = threading.Barrier(4)

    def respond(text: str) -> AIMessage:
        if int(text) < 4:  # the first four meet at a barrier: all in flight at once
            gate.wait(timeout=5)
        return answer(text)

    model = tiered(dict.fromkeys(TIERS, respond))
    result = run(model, [str(i) for i in range(20)], max_concurrency=4)
    assert [r.output.content for r in result.results if r.output] == [
        f"answer: {i}" for i in range(20)
    ]
    assert [r.id for r in result.results] == list(range(20))


def test_plain_chat_model_and_string_outputs(run: Callable[..., BatchResult]) -> None:
    result = run(FakeTier(model_name="plain"), ["a", "b"])
    assert [r.output.content for r in result.results if r.output] == ["plain answer"] * 2
    assert all(r.tier is None and r.cost_usd == 0.0 for r in result.results)
    chain = RunnableLambda(lambda t: t.upper())
    assert [r.output.content for r in run(chain, ["x"]).results if r.output] == ["X"]
    odd = run(RunnableLambda(lambda t: {"not": "a message"}), ["x"])
    assert odd.dead_letters[0].error_type == "TypeError"


# -- dead letters -----------------------------------------------------------------------------


# The per-user budget warns that keyless inputs are not limited by it (BudgetKeyWarning).
@pytest.mark.filterwarnings("ignore::langchain_tiered.budget.BudgetKeyWarning")
def test_dead_letters_are_exactly_the_failing_inputs(run: Callable[..., BatchResult]) -> None:
    def respond(text: str) -> AIMessage | Exception:
        if "flaky" in text:
            return ModelRateLimitError("429 slow down")
        if "auth" in text:
            return ModelAuthenticationError(f"401 bad key {FAKE_KEY}")
        return answer(text)

    ledger = InMemoryLedger()
    broke = Budget(limit_usd=0.0, scope="budget_key", ledger=ledger, name="user")
    model = tiered(dict.fromkeys(TIERS, respond), budget=broke)
    inputs: list[Any] = [f"ok {i}" for i in range(6)]
    inputs[1] = "flaky one"
    inputs[3] = "auth one"
    inputs[4] = {"id": "poor", "input": "ok poor", "metadata": {"budget_key": "u-0"}}
    result = run(model, inputs, max_concurrency=3)

    assert [d.index for d in result.dead_letters] == [1, 3, 4]
    flaky, auth, poor = result.dead_letters
    assert isinstance(flaky.error, AllTiersFailedError)
    assert len(flaky.attempts) == 6  # two per tier, all three tiers
    assert {a["tier"] for a in flaky.attempts} == set(TIERS)
    assert isinstance(auth.error, ModelAuthenticationError)  # fatal: raised as is, no fallback
    assert auth.attempts[0]["kind"] == "fatal"
    assert isinstance(poor.error, BudgetExceededError)
    assert poor.id == "poor"
    assert poor.attempts == []
    assert result.stats.successes == 3
    assert result.stats.failures == 3
    assert all(r.output is not None for r in result.results if r.index in (0, 2, 5))


def test_return_exceptions_false_raises_the_first_error(run: Callable[..., BatchResult]) -> None:
    model = tiered({"budget": lambda t: ModelAuthenticationError("401")})
    with pytest.raises(ModelAuthenticationError):
        run(model, ["a", "b", "c"], max_concurrency=1, return_exceptions=False)
    assert tier_calls(model)["budget"] == 1  # stopped handing out inputs after the failure


def test_input_validation() -> None:
    with pytest.raises(ValueError, match=r"duplicate ids in inputs: 'x', 7"):
        run_batch(
            FakeTier(),
            [
                {"id": "x", "input": "a"},
                {"id": 7, "input": "b"},
                {"id": "x", "input": "c"},
                {"id": 7, "input": "d"},
            ],
        )
    # An input without an id is keyed by its content, never by its index: no clash with id 0.
    assert run_batch(FakeTier(), ["a", {"id": 0, "input": "b"}]).stats.successes == 2
    with pytest.raises(ValueError, match="without 'input'"):
        run_batch(FakeTier(), [{"id": 1, "text": "a"}])
    with pytest.raises(ValueError, match="max_concurrency"):
        run_batch(FakeTier(), ["a"], max_concurrency=0)


# -- statistics -------------------------------------------------------------------------------


def test_stats_are_exact_on_known_usage(run: Callable[..., BatchResult]) -> None:
    now = [0.0]
    seen: Counter[str] = Counter()
    delays = {"a": 1.0, "b": 2.0, "retry": 3.0, "fallback": 4.0}

    def budget(text: str) -> AIMessage | Exception:
        seen[text] += 1
        now[0] += delays[text]  # the model "takes" this long on the injected timer
        if text == "fallback" or (text == "retry" and seen[text] == 1):
            return ModelRateLimitError("429")
        return answer(text, inp=1000, out=100)

    model = tiered({"budget": budget, "standard": lambda t: answer(t, inp=2000, out=10)})
    result = run(model, list(delays), max_concurrency=1, timer=lambda: now[0])
    s = result.stats
    assert (s.total, s.successes, s.failures, s.resumed) == (4, 4, 0, 0)
    assert s.retries == 2  # "retry" once on budget; "fallback" once on budget before moving on
    assert s.fallbacks == 1
    budget_cost = 1000 * 0.25e-6 + 100 * 1.0e-6
    standard_cost = 2000 * 3.0e-6 + 10 * 15.0e-6
    assert s.by_tier["budget"].calls == 3
    assert s.by_tier["budget"].cost_usd == pytest.approx(3 * budget_cost, rel=1e-12)
    assert s.by_tier["budget"].attempts == 6
    assert (s.by_tier["standard"].calls, s.by_tier["standard"].attempts) == (1, 1)
    assert s.by_tier["standard"].cost_usd == pytest.approx(standard_cost, rel=1e-12)
    assert s.total_cost_usd == pytest.approx(3 * budget_cost + standard_cost, rel=1e-12)
    # per-item latency on the injected timer: 1, 2, 3+3 (two attempts), 4+4
    assert [r.latency_s for r in result.results] == [1.0, 2.0, 6.0, 8.0]
    assert (s.latency_p50_s, s.latency_p95_s) == (2.0, 8.0)
    assert s.elapsed_s == 17.0
    assert s.requests_per_s == pytest.approx(4 / 17.0)


# -- metadata ---------------------------------------------------------------------------------


def test_item_metadata_merges_over_config_metadata(run: Callable[..., BatchResult]) -> None:
    def show(text: str, config: RunnableConfig) -> AIMessage:
        meta = config.get("metadata") or {}
        return AIMessage(content=json.dumps({k: meta.get(k) for k in ("team", "budget_key")}))

    inputs = ["a", {"input": "b", "metadata": {"budget_key": "u-1", "team": "blue"}}]
    result = run(RunnableLambda(show), inputs, config={"metadata": {"team": "red"}})
    assert [json.loads(str(r.output.content)) for r in result.results if r.output] == [
        {"team": "red", "budget_key": None},
        {"team": "blue", "budget_key": "u-1"},
    ]
    assert result.results[1].id == 1  # no id: its index


def test_budget_key_reaches_the_tiered_model(run: Callable[..., BatchResult]) -> None:
    ledger = InMemoryLedger()
    per_user = Budget(limit_usd=1.0, scope="budget_key", ledger=ledger, name="user")
    model = tiered(budget=per_user)
    inputs = [
        {"id": f"q{i}", "input": f"q {i}", "metadata": {"budget_key": "user-42"}} for i in range(3)
    ]
    result = run(model, inputs)
    keys = {
        k
        for r in result.results
        if r.output
        for k in r.output.response_metadata["tiered"]["budget_keys"]
    }
    assert len(keys) == 1
    (key,) = keys
    assert "user-42" in key
    assert ledger.spent(key) == pytest.approx(result.stats.total_cost_usd)


# -- resumable output -------------------------------------------------------------------------


def test_jsonl_lines_and_resume_skips_only_ok_ids(
    run: Callable[..., BatchResult], tmp_path: Path
) -> None:
    out = tmp_path / "results.jsonl"
    failing = {"flaky": True}

    def respond(text: str) -> AIMessage | Exception:
        if text == "flaky" and failing["flaky"]:
            return ModelRateLimitError(f"429 key {FAKE_KEY}")
        return answer(text)

    model = tiered(dict.fromkeys(TIERS, respond))
    first = run(model, ["a", "flaky", "c"], output=out)
    assert first.stats.failures == 1
    stored = {line["id"]: line for line in lines(out)}
    ok = stored[0]
    assert ok["status"] == "ok"
    assert ok["content"] == "answer: a"
    assert ok["tool_calls"] == []
    assert ok["tier"] == first.results[0].tier
    assert ok["cost_usd"] == first.results[0].cost_usd
    assert ok["attempts"]
    assert "error" not in ok["attempts"][0]
    bad = stored[1]
    assert bad["status"] == "error"
    assert bad["error_type"] == "AllTiersFailedError"
    assert FAKE_KEY not in json.dumps(bad)
    assert len(bad["attempts"]) == 6

    failing["flaky"] = False
    before = sum(tier_calls(model).values())
    second = run(model, ["a", "flaky", "c"], output=out)
    assert sum(tier_calls(model).values()) - before == 1  # only the failed item ran again
    assert [r.skipped_resumed for r in second.results] == [True, False, True]
    assert second.results[0].output is not None
    assert second.results[0].output.content == "answer: a"
    assert second.results[0].output.response_metadata["tiered"]["tier"] == ok["tier"]
    assert second.results[0].cost_usd == ok["cost_usd"]
    assert (second.stats.successes, second.stats.resumed, second.stats.failures) == (3, 2, 0)
    assert second.stats.total_cost_usd == second.results[1].cost_usd  # this run's work only


def test_tool_calls_survive_the_round_trip(tmp_path: Path) -> None:
    call = {"name": "lookup", "args": {"q": "x"}, "id": "call_1", "type": "tool_call"}
    model = FakeTier(script=[AIMessage(content="", tool_calls=[call])])
    out = tmp_path / "out.jsonl"
    run_batch(model, ["x"], output=out)
    again = run_batch(model, ["x"], output=out)
    message = again.results[0].output
    assert isinstance(message, AIMessage)
    assert again.results[0].skipped_resumed
    assert message.tool_calls == [call]
    assert len(model.calls) == 1


def test_truncated_last_line_is_redone_and_whole_one_kept(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    model = FakeTier(model_name="m")
    run_batch(model, ["a", "b", "c"], output=out)
    text = out.read_text(encoding="utf-8")
    body = text.splitlines()
    by_id = {json.loads(x)["id"]: x for x in body}
    # crash mid-write of item 2's line; item 1's line lost only its newline
    out.write_text(by_id[0] + "\n" + by_id[1] + "\n" + by_id[2][:15], encoding="utf-8")
    again = run_batch(model, ["a", "b", "c"], output=out)
    assert [r.skipped_resumed for r in again.results] == [True, True, False]
    assert len(model.calls) == 4
    assert sorted(line["id"] for line in lines(out)) == [0, 1, 2]  # every line parses
    out.write_text(by_id[0] + "\n" + by_id[1], encoding="utf-8")  # whole JSON, no newline
    third = run_batch(model, ["a", "b", "c"], output=out)
    assert [r.skipped_resumed for r in third.results] == [True, True, False]
    assert [line["id"] for line in lines(out)] == [0, 1, 2]


def guarded(model: TieredChatModel, crash: dict[str, Any]) -> Any:
    """``model`` behind a guard that aborts every call once ``crash["after"]`` calls started.

    The abort is raised outside the chat model because langchain-core's async chat-model path
    turns a non-Exception BaseException raised inside ``_generate`` into an AttributeError.
    """
    lock = threading.Lock()

    def gate() -> None:
        with lock:
            if crash["after"] is not None and crash["started"] >= crash["after"]:
                raise Abort
            crash["started"] += 1

    def call(text: str) -> BaseMessage:
        gate()
        return model.invoke(text)

    async def acall(text: str) -> BaseMessage:
        gate()
        return await model.ainvoke(text)

    return RunnableLambda(call, afunc=acall)


@pytest.mark.parametrize("concurrency", [1, 4])
def test_a_crash_mid_batch_loses_nothing_and_bills_nothing_twice(
    run: Callable[..., BatchResult], tmp_path: Path, concurrency: int
) -> None:
    out = tmp_path / "out.jsonl"
    answered: Counter[str] = Counter()

    def respond(text: str) -> AIMessage:
        answered[text] += 1
        return answer(text)

    crash: dict[str, Any] = {"after": 5, "started": 0}
    model = guarded(tiered(dict.fromkeys(TIERS, respond)), crash)
    inputs = [f"item {i}" for i in range(12)]
    with pytest.raises(Abort):
        run(model, inputs, output=out, max_concurrency=concurrency)
    written_first = {line["index"] for line in lines(out)}
    assert written_first
    assert len(written_first) <= 5
    # Sent but never answered: in flight when the process died. The provider may have billed.
    in_flight = {e["index"] for e in lines(Path(f"{out}.inflight"))}
    assert in_flight
    assert not in_flight & written_first
    crash["after"] = None
    before = Counter(answered)
    result = run(model, inputs, output=out, max_concurrency=concurrency)

    # Default: unknown outcomes are reported, not sent again.
    assert result.stats.unknown == len(in_flight)
    assert {d.index for d in result.dead_letters} == in_flight
    assert all(isinstance(d.error, OutcomeUnknownError) for d in result.dead_letters)
    assert result.stats.successes == 12 - len(in_flight)
    rerun = {i for i, text in enumerate(inputs) if answered[text] > before[text]}
    assert rerun == set(range(12)) - written_first - in_flight
    assert {r.index for r in result.results if r.skipped_resumed and r.ok} == written_first
    assert all(answered[inputs[i]] == 1 for i in written_first)

    # The user chooses to resend them: each is sent exactly once more.
    before = Counter(answered)
    final = run(model, inputs, output=out, max_concurrency=concurrency, resend_unknown=True)
    assert final.stats.successes == 12
    assert {i for i, text in enumerate(inputs) if answered[text] > before[text]} == in_flight
    ok_indexes = [line["index"] for line in lines(out) if line["status"] == "ok"]
    assert sorted(ok_indexes) == list(range(12))  # each input answered once in the file
    assert not Path(f"{out}.inflight").exists()  # nothing left in doubt


# -- progress bar -----------------------------------------------------------------------------


def test_progress_bar_on_stderr(
    run: Callable[..., BatchResult], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    model = tiered(
        {
            "budget": lambda t: ModelRateLimitError("429") if t == "b" else answer(t),
            "standard": lambda t: ModelRateLimitError("429"),
            "critical": lambda t: ModelRateLimitError("429"),
        }
    )
    out = tmp_path / "p.jsonl"
    run(model, ["a", "b", "c"], progress=True, output=out)
    err = capsys.readouterr().err
    assert "3/3" in err
    assert "failed=1" in err
    assert "cost=$" in err
    run(model, ["a", "b", "c"], progress=True, output=out)  # resumed items count as done
    assert "3/3" in capsys.readouterr().err


def test_empty_batch(run: Callable[..., BatchResult]) -> None:
    result = run(FakeTier(), [])
    assert result.results == []
    assert result.dead_letters == []
    assert result.stats.total == 0
    assert result.stats.requests_per_s == 0.0


def test_outputs_property(run: Callable[..., BatchResult]) -> None:
    result = run(
        tiered({"budget": lambda t: ModelAuthenticationError("401") if t == "x" else answer(t)}),
        ["x", "y"],
    )
    outputs = result.outputs
    assert outputs[0] is None
    assert isinstance(outputs[1], BaseMessage)
