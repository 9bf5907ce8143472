"""Per-call overhead of TieredChatModel over invoking its tier directly.

Prints, measured side by side in one run (rounds interleaved so machine noise hits both
sides alike), the per-call time of ``TieredChatModel.invoke`` with routing on divided by
the time of invoking the routed tier directly, for three tiers of growing realism:

* ``fixed``: a chat model returning a constant message (the cheapest possible tier);
* ``generic-fake``: langchain-core's ``GenericFakeChatModel``;
* ``chatopenai-emulator``: ``ChatOpenAI`` over HTTP against the bundled emulator.

Target (issue 2): at most 1.3.

    python benchmarks/overhead.py [--calls N] [--rounds R] [--http-calls N]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import time
from collections.abc import Callable
from typing import Any

from langchain_core.language_models import BaseChatModel, GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from langchain_tiered import ModelPrice, Tier, TieredChatModel

PROMPT = "Erkläre den Unterschied zwischen REST und GraphQL in 3 Sätzen"
USAGE = {"input_tokens": 20, "output_tokens": 40, "total_tokens": 60}
REPLY = "REST uses resources; GraphQL one endpoint."
PRICE = ModelPrice(input_per_mtok=1.0, output_per_mtok=2.0)


class FixedReply(BaseChatModel):
    """Returns a constant message: the cheapest possible real chat model."""

    model_name: str = "fake"

    @property
    def _llm_type(self) -> str:
        return "fixed"

    def _generate(
        self, messages: Any, stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> ChatResult:
        msg = AIMessage(content=REPLY, usage_metadata=USAGE)
        return ChatResult(generations=[ChatGeneration(message=msg)])


def generic_fake(name: str) -> BaseChatModel:
    replies = itertools.repeat(AIMessage(content=REPLY, usage_metadata=USAGE))
    return GenericFakeChatModel(messages=replies, name=name)


def build(factory: Callable[[str], BaseChatModel]) -> tuple[BaseChatModel, TieredChatModel]:
    """Three tiers from ``factory``; returns the tier the prompt routes to and the model."""
    models = [factory(f"m{i}") for i in range(3)]
    tiers = [Tier(name=n, model=m, price=PRICE) for n, m in zip("abc", models, strict=True)]
    tiered = TieredChatModel(tiers=tiers)
    routed = tiered.invoke(PROMPT).response_metadata["tiered"]["tier"]
    return models["abc".index(routed)], tiered


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


def compare(
    label: str,
    direct: BaseChatModel,
    tiered: TieredChatModel,
    calls: int,
    rounds: int,
    *,
    with_async: bool = True,
) -> None:
    times: dict[str, list[float]] = {k: [] for k in ("d", "t", "ad", "at")}
    for _ in range(rounds):
        times["d"].append(per_call(lambda: direct.invoke(PROMPT), calls))
        times["t"].append(per_call(lambda: tiered.invoke(PROMPT), calls))
        if with_async:
            times["ad"].append(asyncio.run(aper_call(lambda: direct.ainvoke(PROMPT), calls)))
            times["at"].append(asyncio.run(aper_call(lambda: tiered.ainvoke(PROMPT), calls)))
    for kind, d, t in (("invoke", "d", "t"), ("ainvoke", "ad", "at")):
        if times[d]:
            best_d, best_t = min(times[d]), min(times[t])
            print(
                f"{label:20s} {kind:8s} direct {best_d * 1e6:8.1f} us   tiered "
                f"{best_t * 1e6:8.1f} us   ratio {best_t / best_d:.2f}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--http-calls", type=int, default=200)
    args = parser.parse_args()
    compare("fixed", *build(lambda n: FixedReply(model_name=n)), args.calls, args.rounds)
    compare("generic-fake", *build(generic_fake), args.calls, args.rounds)

    from langchain_openai import ChatOpenAI  # noqa: PLC0415 - only this section needs HTTP

    from langchain_tiered.testing import OpenAICompatibleEmulator  # noqa: PLC0415

    with OpenAICompatibleEmulator() as emu:

        def openai_tier(name: str) -> BaseChatModel:
            return ChatOpenAI(
                model=name, base_url=emu.base_url, api_key="sk-emulator", max_retries=0
            )

        compare(
            "chatopenai-emulator",
            *build(openai_tier),
            args.http_calls,
            args.rounds,
            with_async=False,
        )


if __name__ == "__main__":
    main()
