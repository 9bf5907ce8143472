"""Run a resumable batch through a three-tier model against the bundled emulator.

    python examples/batch_run.py [results.jsonl]

Runs 200 questions with 20% injected faults, appends every finished answer to the JSONL file
(default: ``examples/out/batch_results.jsonl``, git-ignored) and prints the statistics. Run it
twice: the second run skips what the first one answered and retries only the dead letters.
While it runs the file is locked, so a second run on the same file refuses to start; if it is
killed, the next run reports the questions that were in flight instead of paying for them
twice (pass ``resend_unknown=True`` to send them again).
"""

from __future__ import annotations

import sys
from pathlib import Path

from langchain_openai import ChatOpenAI

from langchain_tiered import Budget, InMemoryLedger, ModelPrice, Tier, TieredChatModel
from langchain_tiered.batch import run_batch
from langchain_tiered.fallbacks import RetryPolicy
from langchain_tiered.testing import Fault, OpenAICompatibleEmulator

TIERS = {
    "critical": ("gpt-4.1", ModelPrice(input_per_mtok=2.0, output_per_mtok=8.0)),
    "standard": ("gpt-4.1-mini", ModelPrice(input_per_mtok=0.4, output_per_mtok=1.6)),
    "budget": ("gpt-4.1-nano", ModelPrice(input_per_mtok=0.1, output_per_mtok=0.4)),
}


def main(output: str) -> None:
    faults = [
        Fault("server_error", probability=0.1, seed=7),
        Fault("rate_limit", probability=0.1, seed=8, retry_after=0),
    ]
    with OpenAICompatibleEmulator(faults=faults) as emu:
        model = TieredChatModel(
            tiers=[
                Tier(
                    name=name,
                    price=price,
                    model=ChatOpenAI(
                        model=model, base_url=emu.base_url, api_key="sk-emulator", max_retries=0
                    ),
                )
                for name, (model, price) in TIERS.items()
            ],
            retry=RetryPolicy(max_attempts=2, base_delay=0.05, jitter=True),
            budget=Budget(limit_usd=1.0, ledger=InMemoryLedger()),
        )
        inputs = [
            {
                "id": f"q{i}",
                "input": f"Frage {i}: nenne eine Hauptstadt Europas",
                "metadata": {"budget_key": f"team-{i % 3}"},
            }
            for i in range(200)
        ]
        result = run_batch(model, inputs, max_concurrency=16, output=output, progress=True)
    s = result.stats
    print(
        f"ok {s.successes} (resumed {s.resumed}), dead letters {s.failures}, "
        f"retries {s.retries}, fallbacks {s.fallbacks}, spent ${s.total_cost_usd:.6f}"
    )
    for tier, t in s.by_tier.items():
        cost = t.cost_usd or 0.0
        print(f"  {tier:<9} {t.calls:>4} answers  ${cost:.6f}  ({t.attempts} attempts)")
    print(
        f"latency p50 {s.latency_p50_s * 1000:.0f} ms, p95 {s.latency_p95_s * 1000:.0f} ms, "
        f"{s.requests_per_s:.0f} req/s; answers in {output}"
    )
    if s.unknown:
        print(f"  {s.unknown} question(s) were in flight when an earlier run was killed")
    for dead in result.dead_letters[:5]:
        print(f"  dead letter {dead.id}: {dead.error_type}: {dead.error}")


DEFAULT_OUTPUT = Path(__file__).resolve().parent / "out" / "batch_results.jsonl"

if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else str(DEFAULT_OUTPUT))
