"""Routing quality: measure the router, calibrate its thresholds, learn from your own outcomes.

1. ``evaluate_router`` on labelled prompts (the 130 EN/DE chat prompts that ship with the
   package; use ``read_jsonl("your_traffic.jsonl")`` for your own): APGR against random.
2. ``calibrate`` the default router so 20% / 30% / 50% of calls land on the three tiers.
3. Record outcomes of real calls (``ledger.record_feedback(run_id, score, prompt=...)``) and
   ``LearnedRouter.fit_from_ledger`` on them: calls go through a TieredChatModel against the
   bundled emulator, and a made-up grader plays the user's thumbs up / down.

Offline: needs numpy (``pip install "langchain-tiered[learned]"``), no API key.

    .venv/bin/python examples/routing_quality.py
"""

from __future__ import annotations

import uuid

from langchain_core.messages import HumanMessage
from langchain_openai import ChatOpenAI

from langchain_tiered import (
    ComplexityRouter,
    InMemoryLedger,
    LearnedRouter,
    Tier,
    TieredChatModel,
    calibrate,
    evaluate_router,
)
from langchain_tiered.routing import HashingEmbeddings, RouteRequest
from langchain_tiered.routing.calibrate import shares_of
from langchain_tiered.routing.summary import bundled_chat_examples
from langchain_tiered.testing import OpenAICompatibleEmulator


def measure() -> None:
    examples = bundled_chat_examples()
    report = evaluate_router(ComplexityRouter(), examples)
    print("1.", report.summary())
    point = report.operating_point
    if point is not None:
        print(f"   at its own threshold it keeps {report.quality(point.share):.0%} mean quality")


def calibrate_shares() -> None:
    prompts = [e.prompt for e in bundled_chat_examples()]
    router = calibrate(ComplexityRouter(), prompts, shares=[0.2, 0.3, 0.5])
    shares = shares_of(router, prompts, 3)
    print(f"2. calibrated thresholds {[round(t, 3) for t in router.thresholds or ()]}:", end=" ")
    print(", ".join(f"{s:.0%}" for s in shares), "of the sample per tier")


def grade(prompt: str, tier: str) -> float:
    """Stand-in for user feedback: the cheap tier fails on math and code."""
    hard = any(w in prompt.lower() for w in ("berechne", "compute", "function", "funktion"))
    return 0.0 if hard and tier == "budget" else 1.0


def learn_from_feedback() -> None:
    prompts = [
        f"{verb} {thing} number {i}"
        for i in range(12)
        for verb, thing in (
            ("Berechne", "die Zinsen für Konto"),
            ("Write a Python function for task", "parsing"),
            ("Write a poem about", "spring"),
            ("Übersetze den Satz", "Hallo Welt"),
        )
    ]
    ledger = InMemoryLedger()
    with OpenAICompatibleEmulator() as emu:
        model = TieredChatModel(
            tiers=[
                Tier(name=name, model=ChatOpenAI(model=m, base_url=emu.base_url, api_key="sk-x"))
                for name, m in (("critical", "gpt-4.1"), ("budget", "gpt-4.1-nano"))
            ],
            ledger=ledger,
        )
        for prompt in prompts:
            run_id = uuid.uuid4()  # pass your own run id, keep it to attach the outcome later
            message = model.invoke(prompt, tier="budget", config={"run_id": run_id})
            tier = message.response_metadata["tiered"]["tier"]
            ledger.record_feedback(str(run_id), grade(prompt, tier), prompt=prompt)
    router = LearnedRouter.fit_from_ledger(
        ledger, embeddings=HashingEmbeddings(), strong_tier="critical"
    )
    print(f"3. {router!r} learned from {len(ledger.feedback())} outcomes:")
    for text in ("Berechne die Zinsen für Konto 99", "Write a poem about autumn"):
        request = RouteRequest(messages=(HumanMessage(text),), tiers=("critical", "budget"))
        print(f"   {text!r} -> {router(request).reason}")


def main() -> None:
    measure()
    calibrate_shares()
    learn_from_feedback()


if __name__ == "__main__":
    main()
