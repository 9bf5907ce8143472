"""Every row of issue 13's speed table, measured side by side in one run.

Each row compares ``TieredChatModel`` with the plain model it wraps, in interleaved rounds
(so machine noise hits both sides alike), as the median over rounds of CPU time per call
(``time.process_time``: on a shared 2-core machine wall time mostly measures the wait for
a core). Prints the ratio next to the issue's target; the LiteLLM Router row appears only
when ``litellm`` is importable.

    python benchmarks/run_all.py [--calls 2000] [--rounds 5] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from langchain_tiered import (
    Budget,
    InMemoryLedger,
    ModelPrice,
    SQLiteLedger,
    Tier,
    TieredChatModel,
    TieredCostCallbackHandler,
    get_tiered_cost_callback,
)

sys.path.insert(0, str(Path(__file__).parent))
from batch_throughput import emulator_process

PROMPT = "List the capitals of Europe"
USAGE = {"input_tokens": 20, "output_tokens": 40, "total_tokens": 60}
PRICE = ModelPrice(input_per_mtok=1.0, output_per_mtok=2.0)
ROWS: list[tuple[str, str, str, str]] = []


class Fake(BaseChatModel):
    """A fake chat model answering a constant message (no sleep, no I/O)."""

    model_name: str = "fake"

    @property
    def _llm_type(self) -> str:
        return "fake"

    def _generate(
        self, messages: Any, stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> ChatResult:
        message = AIMessage(content="Paris, Berlin, Rome.", usage_metadata=USAGE)
        return ChatResult(generations=[ChatGeneration(message=message)])


def two_fakes(model_prefix: str = "", **kwargs: Any) -> tuple[Fake, TieredChatModel]:
    tiers = [
        Tier(name=n, model=Fake(model_name=model_prefix + n), price=PRICE)
        for n in ("strong", "weak")
    ]
    model = TieredChatModel(tiers=tiers, **kwargs)
    routed = model.invoke(PROMPT).response_metadata["tiered"]["tier"]
    return tiers[("strong", "weak").index(routed)].model, model  # type: ignore[return-value]


def cpu_per_call(fn: Callable[[], Any], calls: int) -> float:
    start = time.process_time()
    for _ in range(calls):
        fn()
    return (time.process_time() - start) / calls


def side_by_side(fns: dict[str, Callable[[], Any]], calls: int, rounds: int) -> dict[str, float]:
    """Median CPU seconds per call of each function, rounds interleaved."""
    samples: dict[str, list[float]] = {k: [] for k in fns}
    for fn in fns.values():  # warm-up: first-call costs (signal patterns, memos) not counted
        cpu_per_call(fn, max(1, calls // 20))
    for _ in range(rounds):
        for name, fn in fns.items():
            samples[name].append(cpu_per_call(fn, calls))
    return {k: statistics.median(v) for k, v in samples.items()}


def row(measure: str, value: str, target: str, detail: str) -> None:
    ROWS.append((measure, value, target, detail))
    print(f"  {measure:58s} {value:>9s}  (target {target}) {detail}", flush=True)


def us(seconds: float) -> str:
    return f"{seconds * 1e6:.0f} us"


def fake_rows(calls: int, rounds: int) -> None:
    direct, plain = two_fakes()
    _, budgeted = two_fakes(budget=Budget(limit_usd=1e9, ledger=InMemoryLedger()))
    path = Path(f"/tmp/run_all_{time.time_ns()}.db")
    _, sqlite = two_fakes(budget=Budget(limit_usd=1e9, ledger=SQLiteLedger(path)))
    cb = TieredCostCallbackHandler()
    with_cb: Any = {"callbacks": [cb]}
    t = side_by_side(
        {
            "direct": lambda: direct.invoke(PROMPT),
            "tiered": lambda: plain.invoke(PROMPT),
            "memory": lambda: budgeted.invoke(PROMPT),
            "sqlite": lambda: sqlite.invoke(PROMPT),
            "direct_cb": lambda: direct.invoke(PROMPT, config=with_cb),
            "tiered_cb": lambda: plain.invoke(PROMPT, config=with_cb),
        },
        calls,
        rounds,
    )
    base = f"direct {us(t['direct'])}"
    row("invoke, two fake tiers, vs direct fake invoke (sync)", f"{t['tiered'] / t['direct']:.2f}x",
        "<= 1.6x", f"{us(t['tiered'])} vs {base}")  # fmt: skip
    row("same with an InMemoryLedger budget", f"{t['memory'] / t['direct']:.2f}x", "<= 1.8x",
        f"{us(t['memory'])} vs {base}")  # fmt: skip
    row("same with a SQLiteLedger budget", f"{t['sqlite'] / t['direct']:.2f}x", "-",
        f"{us(t['sqlite'])} vs {base}")  # fmt: skip
    row("with the cost callback, vs direct + callback", f"{t['tiered_cb'] / t['direct_cb']:.2f}x",
        "<= 2.0x", f"{us(t['tiered_cb'])} vs {us(t['direct_cb'])}")  # fmt: skip
    path.unlink(missing_ok=True)
    fresh_row(direct, plain, calls, rounds)


def fresh_row(direct: Fake, plain: TieredChatModel, calls: int, rounds: int) -> None:
    """The first row again with a prompt never seen before on every call (no target).

    The rows above resend one prompt, as an agent's tool rounds resend the last human turn,
    so the router's memo of the last turn and the token memo hit on every call. Here each
    call pays the signal scans and the tokenizer, on both sides the same new strings.
    """
    seq = itertools.count()
    t = side_by_side(
        {
            "direct": lambda: direct.invoke(f"{PROMPT} and their rivers, case {next(seq)}"),
            "tiered": lambda: plain.invoke(f"{PROMPT} and their rivers, case {next(seq)}"),
        },
        calls,
        rounds,
    )
    row("same, a prompt never seen before on every call", f"{t['tiered'] / t['direct']:.2f}x",
        "-", f"{us(t['tiered'])} vs direct {us(t['direct'])}")  # fmt: skip


def history(turns: int) -> list[BaseMessage]:
    messages: list[BaseMessage] = []
    for i in range(turns - 1):
        messages.append(HumanMessage(f"Question {i}: what about the capital of country {i}?"))
        messages.append(AIMessage(f"Answer {i}: it is a city with a long history and a river."))
    messages.append(HumanMessage(PROMPT))
    return messages


def history_row(calls: int, rounds: int) -> None:
    """The issue's row, then the same with a budget (no target).

    Without a budget, cap or rate limit, resent messages are compared by identity; with
    one, every resent message's content is also checked (an in-place edit changes what
    the call reserves), which is the second row's added cost.
    """
    direct, model = two_fakes()
    _, guarded = two_fakes(budget=Budget(limit_usd=1e9, ledger=InMemoryLedger()))
    # Claude model names: every call also looks for cache_control breakpoints in the history.
    _, claude = two_fakes("claude-sonnet-4-5-")
    short, long = history(1), history(200)
    # Every call the same list: the token memo is per message, as in an agent loop.
    t = side_by_side(
        {
            "d1": lambda: direct.invoke(short),
            "t1": lambda: model.invoke(short),
            "g1": lambda: guarded.invoke(short),
            "d200": lambda: direct.invoke(long),
            "t200": lambda: model.invoke(long),
            "g200": lambda: guarded.invoke(long),
            "c1": lambda: claude.invoke(short),
            "c200": lambda: claude.invoke(long),
        },
        max(1, calls // 4),
        rounds,
    )
    added1, added200 = t["t1"] - t["d1"], t["t200"] - t["d200"]
    row("added cost per call at 200 turns of history vs 1 message", f"{added200 / added1:.2f}x",
        "<= 1.1x", f"+{us(added200)} vs +{us(added1)}")  # fmt: skip
    added1, added200 = t["g1"] - t["d1"], t["g200"] - t["d200"]
    row("same with an InMemoryLedger budget (contents checked)", f"{added200 / added1:.2f}x",
        "-", f"+{us(added200)} vs +{us(added1)}")  # fmt: skip
    added1, added200 = t["c1"] - t["d1"], t["c200"] - t["d200"]
    row("same on Claude-named tiers (cache breakpoints looked for)", f"{added200 / added1:.2f}x",
        "-", f"+{us(added200)} vs +{us(added1)}")  # fmt: skip


def hook_row(blocks: int) -> None:
    _, model = two_fakes()
    window = max(5, blocks // 20)
    sample = [HumanMessage(f"{PROMPT} {i}") for i in range(50)]

    def timed_blocks(n: int) -> float:
        start = time.process_time()
        for _ in range(n):
            with get_tiered_cost_callback():
                model.invoke(PROMPT)
        return (time.process_time() - start) / n

    def machine() -> float:
        # A fixed Python workload that no hook touches: how fast the machine runs right now.
        start = time.process_time()
        for _ in range(20):
            [m.model_dump() for m in sample]
        return time.process_time() - start

    def normalised(n: int) -> tuple[float, float]:
        # Five slices interleaved with the fixed workload; medians of both. Growth shows as
        # blocks slowing against the workload; the machine speeding up or slowing down as
        # other processes come and go moves both alike.
        parts, speed = [], []
        for _ in range(5):
            speed.append(machine())
            parts.append(timed_blocks(n // 5))
        return statistics.median(parts), statistics.median(speed)

    (first, first_speed) = normalised(window)
    timed_blocks(blocks - 2 * window)
    (last, last_speed) = normalised(window)
    ratio = (last / last_speed) / (first / first_speed)
    drift = f"the fixed workload {last_speed / first_speed:.2f}x"
    row(f"{blocks:,} get_tiered_cost_callback blocks: last vs first {window:,}",
        f"{ratio:.2f}x", "<= 1.1x", f"{us(last)} vs {us(first)}; {drift}")  # fmt: skip


@contextmanager
def http_models(tiers: int = 2) -> Iterator[tuple[Any, TieredChatModel]]:
    from langchain_openai import ChatOpenAI  # noqa: PLC0415 - only these rows need HTTP

    with emulator_process() as emu:

        def chat(name: str) -> ChatOpenAI:
            return ChatOpenAI(
                model=name, base_url=emu.base_url, api_key="sk-emu", max_retries=0, max_tokens=32
            )

        names = ("gpt-4.1-mini", "gpt-4.1-nano")[-tiers:]
        model = TieredChatModel(tiers=[Tier(name=n, model=chat(n), price=PRICE) for n in names])
        routed = model.invoke(PROMPT).response_metadata["tiered"]["tier"]
        yield chat(routed), model


def http_row(calls: int, rounds: int) -> None:
    with http_models() as (direct, model):
        t = side_by_side(
            {"direct": lambda: direct.invoke(PROMPT), "tiered": lambda: model.invoke(PROMPT)},
            calls,
            rounds,
        )
    ratio = f"{t['tiered'] / t['direct']:.2f}x"
    row("HTTP to the emulator, sequential, vs direct ChatOpenAI", ratio, "<= 1.05x",
        f"{us(t['tiered'])} vs {us(t['direct'])} CPU")  # fmt: skip


async def _batch_cells(
    direct: Any, model: TieredChatModel, requests: int, rounds: int
) -> list[tuple[int, Any, Any]]:
    """Per concurrency: (level, ours, engine) ratios against ``direct.abatch``.

    ``ours`` is ``arun_batch(model)``; ``engine`` is ``asyncio.gather`` of ``model.ainvoke``
    under a semaphore, the tiered call without the batch runner, so ``ours`` against
    ``engine`` shows what the runner itself costs. Same prompts for all three in a round,
    order rotated from round to round, one warm-up round, medians of within-round ratios
    (``batch_throughput.compare_async``).
    """
    from batch_throughput import async_variants, compare_async  # noqa: PLC0415

    cells = []
    for conc in (1, 16, 64, 128):
        # Every worker sends at least two prompts; sequential calls vary least, so fewer do.
        n = max(2 * conc, requests if conc > 1 else max(25, requests // 4))
        variants = async_variants(direct, model, conc)
        got = await compare_async({k: variants[k] for k in ("plain", "engine", "ours")}, n, rounds)
        cells.append((conc, got["ours"], got["engine"]))
    return cells


def batch_row(requests: int, rounds: int) -> None:
    with http_models(tiers=1) as (direct, model):
        # One event loop for every round: the async HTTP clients belong to the loop they opened on.
        # At least 4 rounds: one round's ratio on a shared 2-core machine varies by +-30%.
        cells = asyncio.run(_batch_cells(direct, model, requests, max(rounds, 4)))
    # The value is client CPU per request (the emulator runs in its own process): steady
    # where wall time mostly measures other processes, and a lower bound of the throughput
    # ratio (a client-bound batch runs at CPU speed; a server-bound one closer to 1).
    worst = min(ours.cpu for _, ours, _ in cells)
    detail = " ".join(
        f"c{c}={ours.cpu:.2f} (wall {ours.wall:.2f}; engine alone {engine.cpu:.2f})"
        for c, ours, engine in cells
    )
    row("arun_batch vs ChatOpenAI.abatch, client CPU/request, concurrency 1/16/64/128",
        f"{worst:.2f}", ">= 0.97", detail)  # fmt: skip


def litellm_row(calls: int, rounds: int) -> None:
    try:
        from litellm import Router  # noqa: PLC0415
    except ImportError:
        print("  (LiteLLM Router row skipped: litellm is not installed)")
        return
    direct, _ = two_fakes()
    router = Router(
        model_list=[
            {"model_name": "m", "litellm_params": {"model": "openai/gpt-4o-mini",
                                                   "mock_response": "Paris"}}
        ]
    )  # fmt: skip
    messages = [{"role": "user", "content": PROMPT}]
    t = side_by_side(
        {
            "direct": lambda: direct.invoke(PROMPT),
            "router": lambda: router.completion(model="m", messages=messages),
        },
        max(1, calls // 10),
        rounds,
    )
    row("LiteLLM Router (mock_response) vs direct fake invoke", f"{t['router'] / t['direct']:.2f}x",
        "-", f"+{us(t['router'] - t['direct'])} per call")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--http-calls", type=int, default=300)
    parser.add_argument("--blocks", type=int, default=20_000)
    parser.add_argument("--batch-requests", type=int, default=1000)
    parser.add_argument("--quick", action="store_true", help="a tenth of every count")
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    print("issue 13 speed table (CPU time per call, medians of interleaved rounds)")
    fake_rows(args.calls // scale, args.rounds)
    history_row(args.calls // scale, args.rounds)
    hook_row(args.blocks // scale)
    http_row(args.http_calls // scale, args.rounds)
    batch_row(args.batch_requests // scale, max(1, args.rounds // 2))
    litellm_row(args.calls // scale, args.rounds)
    print("\n| measure | measured | target |\n| --- | --- | --- |")
    for measure, value, target, detail in ROWS:
        print(f"| {measure} | {value} ({detail}) | {target} |")


if __name__ == "__main__":
    main()
