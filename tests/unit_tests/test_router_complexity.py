"""The rebuilt ComplexityRouter: continuous scores, math/reasoning signals, no noun firing.

The quality floors below guard against regressions. The bundled chat prompts were used to
tune the router (in-sample); the RouteLLM sets were used to choose the length weight. Held-out
numbers are in README "Routing quality" and benchmarks/routing_quality.py.
"""

from __future__ import annotations

from collections import Counter

import pytest
from langchain_core.messages import HumanMessage

from langchain_tiered.routing import ComplexityRouter, RouteRequest, evaluate_router
from langchain_tiered.routing.datasets import read_gsm8k, read_mmlu
from langchain_tiered.routing.summary import bundled_chat_examples, routing_quality_summary
from tests.unit_tests.routing_data import shared_data

FOUR = ("t0", "t1", "t2", "t3")


def route(text: str, tiers: tuple[str, ...] = FOUR) -> tuple[str, float, tuple[str, ...]]:
    decision = ComplexityRouter()(RouteRequest(messages=(HumanMessage(text),), tiers=tiers))
    assert decision.score is not None
    return decision.tier, decision.score, decision.signals


@pytest.mark.parametrize(
    "text",
    [
        "Janet has 16 eggs. She eats 3 and bakes with 4. How many eggs does she sell?",
        "Berechne, wie viel Zinsen 5000 Euro in 6 Jahren bei 3,5 % Zinseszins bringen und wie "
        "hoch das Endkapital dann ist.",
        "If all bloops are razzies and some razzies are lazzies, does it follow that some "
        "bloops are lazzies?",
        "Wenn gestern morgen gewesen wäre, wäre heute Freitag. Welcher Tag ist heute?",
    ],
)
def test_math_and_reasoning_go_up_at_least_two_tiers(text: str) -> None:
    tier, _, signals = route(text)
    assert tier in {"t0", "t1"}
    assert {"math", "reasoning"} & set(signals)


def test_how_many_is_math_not_a_lookup() -> None:
    _, _, signals = route("How many apples are left if Tom eats 3 of his 12 apples?")
    assert "lookup" not in signals
    assert "math" in signals


def test_type_hints_and_nouns_do_not_fire_task_words() -> None:
    code = "Why does `def mean(xs: List[int]) -> float` crash on an empty list?"
    assert "list" not in route(code)[2]
    assert "list" in route("List the planets")[2]
    assert "list" in route("Please list the planets")[2]
    assert "list" in route("Hi. List the planets")[2]
    for noun in (
        "What is our plan for Monday?",
        "The design of the logo is blue.",
        "Which strategies did Napoleon use?",
    ):
        assert "complex" not in route(noun)[2], noun
    assert "complex" in route("Design a database schema for a library")[2]


def test_scores_are_continuous() -> None:
    examples = bundled_chat_examples()
    scores = [route(e.prompt)[1] for e in examples]
    assert len(set(scores)) >= 0.85 * len(scores)


def test_gsm8k_scores_rarely_tie() -> None:
    # Before the rebuild 79% of GSM8K prompts shared one score, so no threshold could hit a
    # target share.
    examples = read_gsm8k(shared_data() / "gsm8k")
    counts = Counter(route(e.prompt)[1] for e in examples)
    assert counts.most_common(1)[0][1] < 0.02 * len(examples)


def test_half_of_math_reasoning_coding_chat_prompts_go_up_two_tiers() -> None:
    hard = [e for e in bundled_chat_examples() if e.category in {"math", "reasoning", "coding"}]
    up = sum(route(e.prompt)[0] in {"t0", "t1"} for e in hard)
    assert up >= 0.5 * len(hard)
    cheap = [e for e in bundled_chat_examples() if e.category in {"writing", "roleplay"}]
    assert sum(route(e.prompt)[0] == "t3" for e in cheap) >= 0.8 * len(cheap)


@pytest.mark.parametrize("language", ["en", "de"])
def test_bundled_chat_prompts_quality_floor(language: str) -> None:
    examples = [e for e in bundled_chat_examples() if _is_lang(e.prompt, language)]
    assert evaluate_router(ComplexityRouter(), examples).apgr >= 0.65  # in-sample: 0.71 / 0.72


def _is_lang(text: str, language: str) -> bool:
    german = any(w in text.lower().split() for w in ("der", "die", "das", "und", "ein", "eine"))
    return german == (language == "de")


def test_routellm_pooled_quality_floor() -> None:
    data = shared_data()
    examples = read_gsm8k(data / "gsm8k") + read_mmlu(data / "mmlu")
    report = evaluate_router(ComplexityRouter(), examples)
    assert report.apgr >= 0.57  # before the rebuild: 0.54; now 0.58


def test_routing_quality_summary_is_one_honest_line() -> None:
    quality = routing_quality_summary(tiers=FOUR)
    assert quality.n == 130
    assert 0.65 <= quality.apgr <= 1.0
    line = str(quality)
    assert line.startswith("routing quality on 130 labelled EN/DE chat prompts")
    assert "tuning set" in line
    assert f"send {quality.share_up:.0%} above the cheapest tier" in line
