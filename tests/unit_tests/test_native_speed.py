"""Issue 13: the hot path's shortcuts give the same answers as the long way.

(Speed itself is measured by ``benchmarks/run_all.py``, never asserted in tests.)
"""

from __future__ import annotations

import random

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

from langchain_tiered.routing import ComplexityRouter, RouteRequest


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
