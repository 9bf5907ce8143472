"""Shared TPM: 4 replicas, one tier limited to 10,000 tokens per window, never exceeded.

Both ways a limit is shared: the tier's own ``tokens_per_minute`` under
``TieredChatModel(shared_state=RedisState(...))``, and a deployment's inside the tier.

Measured where the provider would measure it: the emulator's request log (arrival time,
billed prompt + completion tokens). The window is scaled from a minute to 2 s so the test
is fast; the emulator bills exactly ``max_tokens`` of completion so the limiter's estimate
(prompt + output cap) is the billed amount and the limit is really exercised.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from langchain_openai import ChatOpenAI

from langchain_tiered import ModelPrice, Tier, TieredChatModel
from langchain_tiered.fallbacks import RetryPolicy
from langchain_tiered.testing import OpenAICompatibleEmulator
from langchain_tiered.testing._replies import Reply
from tests.integration_tests import _services
from tests.integration_tests._replicas import Fleet
from tests.integration_tests._services import REDIS_URL

pytestmark = [pytest.mark.integration, pytest.mark.slow]
redis_prefix = _services.redis_prefix

LIMIT = 10_000
WINDOW = 2.0
# Arrival at the emulator lags admission by a variable amount (up to a few hundred ms on a
# loaded 2-core machine); the limiter counts admissions this much longer to absorb it.
GUARD = 0.4
OUTPUT = 460
PRICE = ModelPrice(input_per_mtok=1.0, output_per_mtok=1.0)


def _bill_max_tokens(request: Any) -> Reply:
    return Reply(content="ok", completion_tokens=int(request.get("max_tokens") or OUTPUT))


def _replica(base_url: str, prefix: str, calls: int, mode: str) -> dict[str, Any]:
    from langchain_tiered.deployments import Deployment, Deployments
    from langchain_tiered.shared import RedisState

    state = RedisState(REDIS_URL, prefix=prefix, window_seconds=WINDOW, guard_seconds=GUARD)
    chat = ChatOpenAI(
        model="gpt-4.1-mini", base_url=base_url, api_key="sk-emulator", max_retries=0,
        max_tokens=OUTPUT,
    )  # fmt: skip
    # Warm the client up outside the limiter (another model name, left out of the measure):
    # a cold first request reaches the server a second after it was admitted.
    chat.invoke("warm up", model="gpt-4.1-nano")
    if mode == "tier":  # the tier's own limit, shared through TieredChatModel(shared_state=)
        tier = Tier(name="main", model=chat, price=PRICE, tokens_per_minute=LIMIT)
    else:  # a deployment's limit inside the tier
        tier = Tier(
            name="main",
            model=Deployments(
                deployments=[Deployment(name="only", model=chat, tokens_per_minute=LIMIT)],
                shared_state=state,
                max_wait=30,
                max_tokens=OUTPUT,
            ),
            price=PRICE,
        )
    model = TieredChatModel(
        tiers=[tier],
        retry=RetryPolicy(max_attempts=1),
        shared_state=state,
        rate_limit_max_wait=30,
    )
    prompts = [f"call {i}" for i in range(calls)]
    results = model.batch(prompts, {"max_concurrency": calls}, return_exceptions=True)
    errors = [repr(r) for r in results if isinstance(r, BaseException)]
    return {"ok": calls - len(errors), "errors": errors[:3]}


@pytest.fixture
def fleet() -> Iterator[Fleet]:
    f = Fleet()
    yield f
    f.stop()


def _worst_window(log: list[tuple[float, int]], length: float) -> int:
    return max(sum(n for u, n in log if t <= u < t + length) for t, _ in log)


@pytest.mark.parametrize("mode", ["tier", "deployment"])
def test_four_replicas_never_exceed_a_shared_tpm_limit(
    fleet: Fleet, redis_prefix: str, mode: str
) -> None:
    with OpenAICompatibleEmulator() as emu:
        emu.respond_with(_bill_max_tokens)
        procs = [
            fleet._ctx.Process(
                target=_run_and_report, args=(emu.base_url, redis_prefix, 14, mode, fleet.queue)
            )
            for _ in range(4)
        ]
        for p in procs:
            p.start()
            fleet.procs.append(p)
        reports = fleet.reports(4)
        log = [
            (r.time, r.prompt_tokens + r.completion_tokens)
            for r in emu.requests
            if r.model == "gpt-4.1-mini"
        ]
    assert [r["errors"] for r in reports] == [[]] * 4
    assert len(log) == 56
    total = sum(n for _, n in log)
    assert total > 2.5 * LIMIT  # demand far above one window's limit
    worst = _worst_window(log, WINDOW)  # every full window of arrivals
    assert worst <= LIMIT
    assert worst >= 0.7 * LIMIT  # the limiter, not idleness, kept the windows under it


def _run_and_report(base_url: str, prefix: str, calls: int, mode: str, queue: Any) -> None:
    try:
        queue.put(_replica(base_url, prefix, calls, mode))
    except BaseException as exc:
        queue.put({"crash": repr(exc)})
