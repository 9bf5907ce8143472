"""Agent threads against the caching emulator: what stickiness and run budgets do to cost.

50 threads x 12 steps. Each thread starts from a ~1,500-token system prompt (tool docs) and
a user task; every step the model answers (~200 tokens of notes plus a tool call, or with
``--no-notes`` the tool call alone) and a tool result of 300-900 tokens (times ``--scale``)
is appended, so the history grows to ~8,000 tokens (~30,000 at ``--scale 4``). The emulator
caches prompt prefixes per model as OpenAI does (from 1,024 tokens, in 128-token steps) and
every request is priced from the emulator's own request log with the built-in list prices
(gpt-5: $1.25 / $0.125 cached / $10 out per million tokens; gpt-5-mini: $0.25 / $0.025 / $2;
gpt-4.1-mini: $0.40 / $0.10 / $1.60).

The router is per call and deliberately simple: the first step and steps after a "hard" tool
result (``--hard``, seeded) go to the top tier, the rest to the cheap one. Configurations:

(a) top only            every call on the top tier
(b) per-call routing    the router's choice on every call (sticky="never")
(c) priced stickiness   sticky="priced" (the default), thread_expected_steps=12
(d) run budget          (c) plus Budget(scope="run") per thread at 40% of (a)'s mean thread
                        cost: tiers step down as the run's money runs low; a run that cannot
                        pay for its next step ends (counted, not an error)
(e) always              sticky="always", for reference: a thread never leaves its first tier

    python benchmarks/agent_threads.py [--threads 50] [--steps 12] [--hard 0.3] [--seed 7]
        [--top gpt-5] [--cheap gpt-5-mini] [--scale 1] [--no-notes] [--budget-share 0.4]
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_openai import ChatOpenAI

from langchain_tiered import Budget, InMemoryLedger, Tier, TieredChatModel
from langchain_tiered.agents import RunBudgetExceededError
from langchain_tiered.pricing import PriceBook
from langchain_tiered.routing import RouteDecision, RouteRequest
from langchain_tiered.testing import OpenAICompatibleEmulator, Reply, ToolCall

PAIR = ["gpt-5", "gpt-5-mini"]  # --top / --cheap change it
SYSTEM = "You are a research agent with these tools. " + " ".join(
    f"Tool t{i}: looks up record {i} and returns its fields; call it with an id." for i in range(90)
)
NOTES = "Plan: " + " ".join(f"check item {i} against the source," for i in range(24))


def replier(notes: bool) -> Callable[[Any], Reply]:
    """Every step: (some notes and) one tool call - the agent keeps working."""
    call = [ToolCall(name="t1", arguments={"id": 7})]
    return lambda request: Reply(content=NOTES if notes else None, tool_calls=call)


def router(request: RouteRequest) -> RouteDecision:
    last = request.messages[-1]
    hard = not isinstance(last, ToolMessage) or str(last.content).startswith("[hard]")
    return RouteDecision(tier="top" if hard else "mini", reason="hard" if hard else "easy")


def top_only(request: RouteRequest) -> RouteDecision:
    return RouteDecision(tier="top", reason="top only")


@dataclass
class Outcome:
    name: str
    cost: float = 0.0
    prompt: int = 0
    cached: int = 0
    calls: dict[str, int] = field(default_factory=dict)
    switches: int = 0
    stopped: int = 0
    steps: int = 0
    seconds: float = 0.0
    max_run: float = 0.0


def tool_result(rng: random.Random, hard_share: float, scale: float) -> str:
    kind = "[hard]" if rng.random() < hard_share else "[easy]"
    rows = round(rng.randint(60, 180) * scale)
    return kind + " " + " ".join(f"field-{i}={rng.randint(0, 9999)}" for i in range(rows))


def run_thread(
    model: TieredChatModel, name: str, rng: random.Random, args: argparse.Namespace, out: Outcome
) -> None:
    history: list[BaseMessage] = [SystemMessage(SYSTEM), HumanMessage(f"Task {name}: audit.")]
    previous = None
    spent = 0.0
    config: Any = {"metadata": {"tiered_thread": name, "tiered_run": name}}
    for _ in range(args.steps):
        try:
            answer = model.invoke(history, config=config)
        except RunBudgetExceededError:
            out.stopped += 1
            return
        assert isinstance(answer, AIMessage)
        tier = answer.response_metadata["tiered"]["tier"]
        spent += answer.response_metadata["tiered"]["cost_usd"]
        out.max_run = max(out.max_run, spent)
        out.switches += previous is not None and tier != previous
        previous = tier
        out.steps += 1
        call_id = answer.tool_calls[0]["id"] if answer.tool_calls else "c"
        history += [
            answer,
            ToolMessage(tool_result(rng, args.hard, args.scale), tool_call_id=call_id),
        ]


def price_log(emu: OpenAICompatibleEmulator, out: Outcome) -> None:
    """Cost and cache hits from the emulator's own log, priced with list prices."""
    book = PriceBook.default()
    for r in emu.requests:
        out.cost += book.price_for(r.model).cost(r.usage_metadata)
        out.prompt += r.prompt_tokens
        out.cached += r.cached_tokens
        out.calls[r.model] = out.calls.get(r.model, 0) + 1


def measure(
    emu: OpenAICompatibleEmulator,
    name: str,
    make: Callable[[], TieredChatModel],
    args: argparse.Namespace,
) -> Outcome:
    emu.reset()
    emu.respond_with(replier(args.notes))
    model = make()
    out = Outcome(name)
    rng = random.Random(args.seed)  # the same tool results for every configuration
    start = time.perf_counter()
    for i in range(args.threads):
        run_thread(model, f"thread-{i}", rng, args, out)
    out.seconds = time.perf_counter() - start
    price_log(emu, out)
    return out


def build(
    emu: OpenAICompatibleEmulator, route: Callable[[RouteRequest], RouteDecision], **kwargs: Any
) -> Callable[[], TieredChatModel]:
    def chat(model: str) -> ChatOpenAI:
        return ChatOpenAI(model=model, base_url=emu.base_url, api_key="sk-emulator", max_retries=0)

    def make() -> TieredChatModel:
        return TieredChatModel(
            tiers=[Tier(name="top", model=chat(PAIR[0])), Tier(name="mini", model=chat(PAIR[1]))],
            router=route,
            max_tokens=1024,
            thread_expected_steps=12,
            **kwargs,
        )

    return make


def table(rows: list[Outcome], base: Outcome, routed: Outcome) -> str:
    lines = [
        "| configuration | total cost | vs top only | vs per-call | cache-hit rate"
        " | calls top / cheap | tier switches | steps done | runs stopped |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r.name} | ${r.cost:.4f} | {r.cost / base.cost:.2f} | {r.cost / routed.cost:.2f} "
            f"| {r.cached / max(r.prompt, 1):.1%} "
            f"| {r.calls.get(PAIR[0], 0)} / {r.calls.get(PAIR[1], 0)} "
            f"| {r.switches} | {r.steps} | {r.stopped} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=50)
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--hard", type=float, default=0.3, help="share of hard tool results")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--top", default=PAIR[0], help="the capable tier's model")
    parser.add_argument("--cheap", default=PAIR[1], help="the cheap tier's model")
    parser.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="tool result size factor (1: 300-900 tokens per result)",
    )
    parser.add_argument(
        "--no-notes",
        dest="notes",
        action="store_false",
        help="answer with the tool call only (~20 output tokens, not ~200)",
    )
    parser.add_argument(
        "--budget-share",
        type=float,
        default=0.4,
        help="(d)'s run budget as a share of (a)'s mean thread cost",
    )
    args = parser.parse_args()
    PAIR[:] = [args.top, args.cheap]
    with OpenAICompatibleEmulator(prompt_cache=True) as emu:
        base = measure(emu, "(a) top only", build(emu, top_only, sticky="never"), args)
        routed = measure(emu, "(b) per-call routing", build(emu, router, sticky="never"), args)
        sticky = measure(emu, "(c) priced stickiness", build(emu, router), args)
        always = measure(emu, "(e) sticky='always'", build(emu, router, sticky="always"), args)
        limit = base.cost / args.threads * args.budget_share
        ledger = InMemoryLedger()
        budget = Budget(scope="run", limit_usd=limit, ledger=ledger)
        run = measure(
            emu, f"(d) (c) + run budget ${limit:.4f}", build(emu, router, budget=budget), args
        )
    output = "notes + tool call (~200 output tokens)" if args.notes else "tool call only (~20)"
    print(
        f"{args.top} / {args.cheap}: {args.threads} threads x {args.steps} steps, "
        f"hard tool results {args.hard:.0%}, "
        f"tool results x{args.scale:g}, {output}, seed {args.seed}; prompt cache on"
    )
    print(table([base, routed, sticky, run, always], base, routed))
    print(f"(d): the most expensive run spent ${run.max_run:.5f} of its ${limit:.5f}")


if __name__ == "__main__":
    main()
