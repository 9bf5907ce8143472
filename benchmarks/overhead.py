"""Per-call overhead of TieredChatModel over invoking its tier directly.

Prints, measured side by side in one run, the time of ``TieredChatModel.invoke`` over
a fake tier divided by ``fake.invoke`` (routing on), for invoke and ainvoke.
Target (issue 2): at most 1.3.

    python benchmarks/overhead.py [--calls N] [--rounds R]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from langchain_tiered import ModelPrice, Tier, TieredChatModel

PROMPT = "Erkläre den Unterschied zwischen REST und GraphQL in 3 Sätzen"
USAGE = {"input_tokens": 20, "output_tokens": 40, "total_tokens": 60}


class FixedReply(BaseChatModel):
    """Returns a constant message: the cheapest possible real chat model."""

    model_name: str = "fake"

    @property
    def _llm_type(self) -> str:
        return "fixed"

    def _generate(
        self, messages: Any, stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> ChatResult:
        msg = AIMessage(content="REST uses resources; GraphQL one endpoint.", usage_metadata=USAGE)
        return ChatResult(generations=[ChatGeneration(message=msg)])


def build() -> tuple[BaseChatModel, TieredChatModel]:
    price = ModelPrice(input_per_mtok=1.0, output_per_mtok=2.0)
    fakes = [FixedReply(model_name=f"m{i}") for i in range(3)]
    tiered = TieredChatModel(
        tiers=[
            Tier(name=n, model=f, price=price) for n, f in zip(("a", "b", "c"), fakes, strict=True)
        ]
    )
    routed = tiered.invoke(PROMPT).response_metadata["tiered"]["tier"]
    return fakes[[t.name for t in tiered.tiers].index(routed)], tiered


def per_call(fn: Callable[[], Any], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


async def aper_call(fn: Callable[[], Any], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        await fn()
    return (time.perf_counter() - start) / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    direct, tiered = build()
    sync_d, sync_t, async_d, async_t = [], [], [], []
    for _ in range(args.rounds):  # interleaved so machine noise hits both sides alike
        sync_d.append(per_call(lambda: direct.invoke(PROMPT), args.calls))
        sync_t.append(per_call(lambda: tiered.invoke(PROMPT), args.calls))
        async_d.append(asyncio.run(aper_call(lambda: direct.ainvoke(PROMPT), args.calls)))
        async_t.append(asyncio.run(aper_call(lambda: tiered.ainvoke(PROMPT), args.calls)))
    print(
        f"invoke : direct {min(sync_d) * 1e6:8.1f} us  tiered {min(sync_t) * 1e6:8.1f} us  "
        f"ratio {min(sync_t) / min(sync_d):.2f}"
    )
    print(
        f"ainvoke: direct {min(async_d) * 1e6:8.1f} us  tiered {min(async_t) * 1e6:8.1f} us  "
        f"ratio {min(async_t) / min(async_d):.2f}"
    )


if __name__ == "__main__":
    main()
