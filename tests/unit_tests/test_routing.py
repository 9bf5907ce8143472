"""Tests for langchain_tiered.routing (pure: no models, no sockets).

Route latency is measured by ``benchmarks/routing_latency.py`` (not a timed test).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage

import langchain_tiered
from langchain_tiered.routing import (
    DEFAULT_SIGNALS,
    DEFAULT_TASK_OUTPUT_CAPS,
    ComplexityRouter,
    RouteDecision,
    RouteRequest,
    Rule,
    RuleRouter,
    SignalGroup,
    default_thresholds,
)

TIERS = {
    2: ("strong", "cheap"),
    3: ("critical", "standard", "budget"),
    4: ("critical", "strong", "standard", "budget"),
}

DE_LIST = "Liste die Hauptstädte Europas auf"
DE_EXPLAIN = "Erkläre den Unterschied zwischen REST und GraphQL in 3 Sätzen"
DE_COMPLEX = (
    "Analysiere und bewerte mehrstufig die Strategie unseres Unternehmens für den Markteintritt "
    "in Asien, begründe jede Annahme"
)
EN_LIST = "List the capitals of Europe"
EN_EXPLAIN = "Explain the difference between REST and GraphQL in 3 sentences"
EN_COMPLEX = (
    "Analyze and evaluate step by step our company's strategy for entering the Asian market, "
    "justify every assumption"
)
EN_MULTI = (
    "Please answer:\n1. What is Kubernetes?\n2. How does a pod work?\n"
    "3. Why do we need services?\n4. What are the alternatives?"
)
DE_MULTI = (
    "Bitte beantworte folgende Fragen:\n1. Was ist Kubernetes?\n2. Wie funktioniert ein Pod?\n"
    "3. Warum braucht man Services?\n4. Welche Alternativen gibt es?"
)
CODE_BLOCK = "Refactor this code:\n```python\ndef f(x):\n    return x * 2\n```"


def req(text: str, tiers: tuple[str, ...] = TIERS[3], **kwargs: Any) -> RouteRequest:
    return RouteRequest(messages=(HumanMessage(text),), tiers=tiers, **kwargs)


def index_of(text: str, n: int, router: ComplexityRouter | None = None, **kwargs: Any) -> int:
    tiers = TIERS[n]
    decision = (router or ComplexityRouter())(req(text, tiers, **kwargs))
    return tiers.index(decision.tier)


# --- ComplexityRouter: sanity cases ------------------------------------------------------------


@pytest.mark.parametrize("n", [2, 3, 4])
@pytest.mark.parametrize("text", [DE_LIST, EN_LIST])
def test_list_goes_to_cheapest(n: int, text: str) -> None:
    assert index_of(text, n) == n - 1


@pytest.mark.parametrize("n", [2, 3, 4])
@pytest.mark.parametrize("text", [DE_COMPLEX, EN_COMPLEX])
def test_multi_step_analysis_goes_to_most_capable(n: int, text: str) -> None:
    assert index_of(text, n) == 0


@pytest.mark.parametrize(
    ("cheap", "explain", "hard"),
    [(DE_LIST, DE_EXPLAIN, DE_COMPLEX), (EN_LIST, EN_EXPLAIN, EN_COMPLEX)],
)
def test_explanation_scores_between_a_list_and_an_analysis(
    cheap: str, explain: str, hard: str
) -> None:
    router = ComplexityRouter()
    scores = [router(req(text)).score for text in (cheap, explain, hard)]
    assert scores == sorted(scores)
    assert len(set(scores)) == 3
    # A three-sentence explanation is not worth the capable tier (documented default).
    assert index_of(explain, 2) == 1


@pytest.mark.parametrize("n", [2, 3, 4])
@pytest.mark.parametrize(
    "text",
    [
        "Hallo, wie geht's?",
        "Hello, how are you?",
        "Translate 'good morning' into French",
        "Übersetze 'Guten Morgen' ins Englische",
        "Classify this review as positive or negative: 'Great product, fast delivery.'",
        "Klassifiziere die folgende Bewertung: 'Super Produkt'",
        "What is the capital of France?",
        "Wie heißt die Hauptstadt von Frankreich?",
    ],
)
def test_cheap_tasks_go_to_cheapest(n: int, text: str) -> None:
    assert index_of(text, n) == n - 1


def test_a_list_of_math_terms_stays_in_the_cheaper_half() -> None:
    # "primzahl" is a math word, "nenne" a list imperative: they nearly cancel out.
    assert index_of("Nenne drei Primzahlen", 3) == 2
    assert index_of("Nenne drei Primzahlen", 4) >= 2


@pytest.mark.parametrize(
    "text",
    [
        "Write a Python function that parses ISO 8601 dates and returns a datetime",
        "Schreibe eine Python-Funktion, die ISO-8601-Daten parst",
        "Schreiben Sie eine Funktion, die Primzahlen findet",
        "Implementiere einen LRU-Cache in Rust",
    ],
)
def test_code_generation_is_never_cheapest(text: str) -> None:
    assert index_of(text, 3) in {0, 1}
    assert index_of(text, 4) in {0, 1, 2}
    assert ComplexityRouter()(req(text)).max_output_tokens == DEFAULT_TASK_OUTPUT_CAPS["code"]


@pytest.mark.parametrize("text", [EN_MULTI, DE_MULTI, CODE_BLOCK])
def test_multi_part_and_code_block_prompts_go_to_most_capable(text: str) -> None:
    assert index_of(text, 3) == 0


def test_complex_words_do_not_match_inside_other_words() -> None:
    # "plan$" must not match "planets"; "bewerte" must not match the noun "Bewertung".
    decision = ComplexityRouter()(req("List the planets of the solar system"))
    assert decision.signals == ("list", "length")
    assert "complex" not in ComplexityRouter()(req("Bewertung: fünf Sterne")).signals


# --- reason, signals, score, caps --------------------------------------------------------------


def test_reason_names_the_deciding_signals() -> None:
    decision = ComplexityRouter()(req(DE_COMPLEX))
    assert decision.tier == "critical"
    assert decision.score == pytest.approx(0.9097, abs=1e-4)
    assert decision.reason.startswith(
        "score 0.91 (raw +1.46) -> tier 'critical' (>= 0.67): reasoning[begründe] (+0.80), "
        "complex[analysier, bewerte, mehrstufig] (+0.69), length 30 tok (-0.03)"
    )
    assert decision.signals == ("reasoning", "complex", "length")


def test_reason_for_cheapest_tier_shows_lower_bound() -> None:
    decision = ComplexityRouter()(req(DE_LIST))
    expected = (
        "score 0.07 (raw -0.60) -> tier 'budget' (< 0.33): "
        "list[liste] (-0.35), length 8 tok (-0.25)"
    )
    assert decision.reason == expected


def test_signals_lists_every_fired_signal_strongest_first() -> None:
    tools = ({"type": "function", "function": {"name": "f", "parameters": {}}},)
    decision = ComplexityRouter()(
        req(EN_EXPLAIN, tools=tools, structured_output=True, token_count=1024)
    )
    assert decision.signals == ("length", "explain", "tools", "brevity", "structured_output")
    assert "tools[1] (+0.30)" in decision.reason
    assert "length 1024 tok (+0.96)" in decision.reason


@pytest.mark.parametrize(
    ("text", "task"),
    [
        (DE_LIST, "list"),
        (EN_EXPLAIN, "explain"),
        (DE_COMPLEX, "analysis"),
        ("Translate 'good morning' into French", "translate"),
        ("Is this spam? Answer yes or no.", "classify"),
        ("Wie heißt die Hauptstadt von Frankreich?", "lookup"),
        ("Fasse den folgenden Text kurz zusammen: ...", "summarize"),
        ("List the trade-offs and analyze each", "analysis"),  # strongest group wins
    ],
)
def test_task_output_caps(text: str, task: str) -> None:
    assert ComplexityRouter()(req(text)).max_output_tokens == DEFAULT_TASK_OUTPUT_CAPS[task]


def test_no_task_means_no_output_cap() -> None:
    assert ComplexityRouter()(req("Hallo, wie geht's?")).max_output_tokens is None


def test_task_output_caps_are_configurable() -> None:
    router = ComplexityRouter(task_output_caps={"list": 100})
    assert router(req(DE_LIST)).max_output_tokens == 100
    assert router(req(EN_EXPLAIN)).max_output_tokens is None
    with pytest.raises(ValueError, match="positive"):
        ComplexityRouter(task_output_caps={"list": 0})


def test_length_is_continuous_log_scaled_and_bounded() -> None:
    router = ComplexityRouter()
    raw = [router.contributions(req("Hallo", token_count=n))[0][-1] for n in (8, 16, 32, 64, 10**6)]
    assert [c.name for c in raw] == ["length"] * 5
    # 0.4 per doubling around 32 tokens, saturating smoothly at -0.25 and +1.0.
    expected = [0.25 * math.tanh(-0.8 / 0.25), 0.25 * math.tanh(-0.4 / 0.25), 0.0]
    expected += [math.tanh(0.4), math.tanh(0.4 * math.log2(10**6 / 32))]
    assert [c.value for c in raw] == pytest.approx(expected)
    assert -0.25 < raw[0].value < raw[1].value < 0 < raw[3].value < raw[4].value < 1.0
    scores = [router(req("Hallo", token_count=n)).score for n in range(4, 4000, 37)]
    assert scores == sorted(scores)
    assert len(set(scores)) == len(scores)  # continuous: no two lengths tie


def test_length_falls_back_to_characters_of_full_text() -> None:
    request = RouteRequest(
        messages=(SystemMessage("x" * 400), HumanMessage("y" * 399)), tiers=TIERS[3]
    )
    assert request.approx_tokens == 200


def test_long_requests_are_scanned_at_head_and_tail_only() -> None:
    filler = "Lorem ipsum dolor sit amet. " * 100
    assert "complex" not in ComplexityRouter()(req(filler + "analyze" + filler)).signals
    assert "complex" in ComplexityRouter()(req(filler + "analyze this")).signals
    assert "complex" in ComplexityRouter()(req("Analyze this: " + filler)).signals
    unlimited = ComplexityRouter(max_scan_chars=None)
    assert "complex" in unlimited(req(filler + "analyze" + filler)).signals
    with pytest.raises(ValueError, match="max_scan_chars"):
        ComplexityRouter(max_scan_chars=0)


def test_single_tier_always_wins() -> None:
    decision = ComplexityRouter()(req(DE_COMPLEX, tiers=("only",)))
    assert decision.tier == "only"
    assert "(only tier)" in decision.reason


# --- signal sets -------------------------------------------------------------------------------


def test_extending_signals_flips_a_decision() -> None:
    text = "Durchleuchte unser Geschäftsmodell"
    cuts = (0.6, 0.2)
    assert index_of(text, 3, ComplexityRouter(thresholds=cuts)) == 2
    router = ComplexityRouter(
        signals=DEFAULT_SIGNALS.extend(complex=["durchleucht"]), thresholds=cuts
    )
    assert index_of(text, 3, router) == 1
    assert "complex[durchleucht] (+0.45)" in router(req(text)).reason


def test_replacing_terms_and_groups() -> None:
    signals = DEFAULT_SIGNALS.replace_terms(list=["aufzählen"])
    assert index_of(EN_LIST, 3, ComplexityRouter(signals=signals)) == 2  # now unscored, still 0
    assert "list" not in ComplexityRouter(signals=signals)(req(EN_LIST)).signals
    heavy = SignalGroup(terms=("legal",), weight=2.0, task="analysis")
    router = ComplexityRouter(signals=DEFAULT_SIGNALS.with_group("legal", heavy))
    assert router(req("A legal question")).tier == "critical"
    without = ComplexityRouter(signals=DEFAULT_SIGNALS.without("complex", "reasoning"))
    assert without(req(DE_COMPLEX)).tier == "budget"


def test_weights_are_replaceable_data() -> None:
    signals = dataclasses.replace(DEFAULT_SIGNALS, tools=1.0)
    tools = ({"type": "function", "function": {"name": "f"}},)
    assert ComplexityRouter(signals=signals)(req("hi", tools=tools)).tier == "standard"


def test_unknown_group_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown signal group"):
        DEFAULT_SIGNALS.extend(komplex=["x"])


def test_signal_sets_are_immutable() -> None:
    with pytest.raises(TypeError):
        DEFAULT_SIGNALS.groups["new"] = DEFAULT_SIGNALS.groups["list"]  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        DEFAULT_SIGNALS.tools = 1.0  # type: ignore[misc]


def test_group_contribution_has_diminishing_returns() -> None:
    group = SignalGroup(terms=("a",), weight=0.5, repeat_weight=0.1, max_repeats=2)
    assert [group.contribution(n) for n in range(5)] == pytest.approx([0, 0.5, 0.6, 0.7, 0.7])


# --- thresholds --------------------------------------------------------------------------------


def test_default_thresholds_spread_evenly() -> None:
    assert default_thresholds(1) == ()
    assert default_thresholds(2) == (0.5,)
    assert default_thresholds(3) == (0.6667, 0.3333)
    assert default_thresholds(4) == (0.75, 0.5, 0.25)


def test_explicit_thresholds() -> None:
    router = ComplexityRouter(thresholds=(0.9, 0.3))
    decision = router(req(CODE_BLOCK))  # score 0.80
    assert decision.tier == "standard"
    assert "(>= 0.30)" in decision.reason
    assert ComplexityRouter(thresholds=[0.9, 0.3]).thresholds == (0.9, 0.3)  # type: ignore[arg-type]


def test_a_score_equal_to_a_cut_off_reaches_that_tier() -> None:
    # The reasons say ">= cut": a score exactly on a cut-off goes to the more capable tier.
    score = ComplexityRouter().score(req(CODE_BLOCK))
    decision = ComplexityRouter(thresholds=(score, score / 2))(req(CODE_BLOCK))
    assert decision.tier == "critical"
    assert f"(>= {score:.2f})" in decision.reason
    assert (
        ComplexityRouter(thresholds=(min(1.0, score + 1e-9), score / 2))(req(CODE_BLOCK)).tier
        == "standard"
    )


def test_thresholds_out_of_order_are_rejected() -> None:
    with pytest.raises(ValueError, match="strictly descending"):
        ComplexityRouter(thresholds=(0.3, 0.6))
    with pytest.raises(ValueError, match="strictly descending"):
        ComplexityRouter(thresholds=(0.5, 0.5))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        ComplexityRouter(thresholds=(1.5, 0.5))


def test_validate_tiers_checks_the_threshold_count() -> None:
    router = ComplexityRouter(thresholds=(0.6, 0.3))
    router.validate_tiers(TIERS[3])
    with pytest.raises(ValueError, match=r"2 threshold\(s\).*4 tiers.*need 3"):
        router.validate_tiers(TIERS[4])
    with pytest.raises(ValueError, match="need 3"):
        router(req("hi", tiers=TIERS[4]))
    with pytest.raises(ValueError, match="at least one tier"):
        ComplexityRouter().validate_tiers([])
    ComplexityRouter().validate_tiers(TIERS[4])  # defaults fit any count


# --- RouteRequest ------------------------------------------------------------------------------


def test_text_is_the_last_human_message() -> None:
    request = RouteRequest(
        messages=(
            SystemMessage("You are terse."),
            HumanMessage("first question"),
            AIMessage("answer", tool_calls=[{"name": "f", "args": {}, "id": "1"}]),
            ToolMessage("result", tool_call_id="1"),
            HumanMessage("second question"),
            AIMessage("thinking"),
        ),
        tiers=TIERS[3],
    )
    assert request.text == "second question"
    assert request.full_text == "You are terse.\nfirst question\nsecond question"


def test_text_handles_list_of_parts_content() -> None:
    message = HumanMessage(
        content=[
            "Describe",
            {"type": "text", "text": "this image"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
        ]
    )
    assert RouteRequest(messages=(message,), tiers=("a",)).text == "Describe\nthis image"


def test_text_is_empty_without_human_message() -> None:
    assert RouteRequest(messages=(SystemMessage("sys"),), tiers=("a",)).text == ""


def test_request_is_immutable() -> None:
    metadata = {"tier": "x"}
    request = RouteRequest(
        messages=[HumanMessage("hi")],  # type: ignore[arg-type]
        tiers=["a", "b"],  # type: ignore[arg-type]
        metadata=metadata,
    )
    metadata["tier"] = "changed"  # the request keeps its own copy
    assert request.metadata == {"tier": "x"}
    assert isinstance(request.messages, tuple)
    assert isinstance(request.tiers, tuple)
    with pytest.raises(TypeError):
        request.metadata["tier"] = "y"  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        request.tiers = ("c",)  # type: ignore[misc]


def test_decision_is_immutable() -> None:
    decision = RouteDecision(tier="a", reason="r")
    with pytest.raises(dataclasses.FrozenInstanceError):
        decision.tier = "b"  # type: ignore[misc]
    assert decision.score is None
    assert decision.max_output_tokens is None
    assert decision.signals == ()


def test_public_names_are_exported_lazily() -> None:
    assert langchain_tiered.ComplexityRouter is ComplexityRouter
    assert langchain_tiered.RuleRouter is RuleRouter
    assert langchain_tiered.Rule is Rule
    assert langchain_tiered.RouteRequest is RouteRequest
    assert langchain_tiered.RouteDecision is RouteDecision


# --- RuleRouter --------------------------------------------------------------------------------


def test_rule_predicate() -> None:
    def is_long(request: RouteRequest) -> bool:
        return len(request.text) > 10

    router = RuleRouter([Rule(tier="critical", when=is_long)], default="budget")
    decision = router(req("a fairly long question"))
    assert decision.tier == "critical"
    assert decision.reason == "rule #0 matched: when[is_long]"
    assert decision.signals == ("rule:0",)
    assert router(req("short")).tier == "budget"


def test_rule_keywords_match_whole_words_case_insensitively() -> None:
    router = RuleRouter(
        [Rule(tier="critical", keywords=("contract", "Vertrag"), name="legal")], default="budget"
    )
    decision = router(req("Please review this CONTRACT."))
    assert decision.tier == "critical"
    assert decision.reason == "rule 'legal' matched: keywords[contract]"
    assert decision.signals == ("rule:legal",)
    assert router(req("Prüfe den Vertrag")).tier == "critical"
    assert router(req("The contractor called")).tier == "budget"
    assert router(req("Vertragsentwurf")).tier == "budget"


def test_rule_keywords_read_only_the_last_human_message() -> None:
    router = RuleRouter([Rule(tier="critical", keywords=("contract",))], default="budget")
    request = RouteRequest(
        messages=(HumanMessage("contract"), AIMessage("ok"), HumanMessage("thanks")),
        tiers=TIERS[3],
    )
    assert router(request).tier == "budget"


def test_rule_metadata_must_all_match() -> None:
    rule = Rule(tier="budget", metadata={"plan": "free", "region": "eu"})
    router = RuleRouter([rule], default="critical")
    decision = router(req("hi", metadata={"plan": "free", "region": "eu", "user": "u1"}))
    assert decision.tier == "budget"
    assert "metadata[plan='free', region='eu']" in decision.reason
    assert router(req("hi", metadata={"plan": "free"})).tier == "critical"
    assert router(req("hi", metadata={"plan": "pro", "region": "eu"})).tier == "critical"


def test_rule_token_bounds() -> None:
    router = RuleRouter(
        [
            Rule(tier="budget", max_tokens=100, name="small"),
            Rule(tier="critical", min_tokens=10_000, name="huge"),
        ],
        default="standard",
    )
    assert router(req("hi", token_count=100)).tier == "budget"
    assert router(req("hi", token_count=101)).tier == "standard"
    decision = router(req("hi", token_count=10_000))
    assert decision.tier == "critical"
    assert decision.reason == "rule 'huge' matched: tokens 10000 in [10000, inf]"
    assert router(req("x" * 300)).tier == "budget"  # no token_count: estimated from text


def test_rule_has_tools() -> None:
    tools = ({"type": "function", "function": {"name": "f"}},)
    router = RuleRouter(
        [Rule(tier="critical", has_tools=True), Rule(tier="budget", has_tools=False)],
        default="standard",
    )
    assert router(req("hi", tools=tools)).tier == "critical"
    assert router(req("hi")).tier == "budget"


def test_rule_conditions_combine_with_and() -> None:
    rule = Rule(tier="critical", keywords=("urgent",), metadata={"plan": "pro"}, name="vip")
    router = RuleRouter([rule], default="budget")
    decision = router(req("urgent: fix it", metadata={"plan": "pro"}))
    assert decision.reason == "rule 'vip' matched: metadata[plan='pro'], keywords[urgent]"
    assert router(req("urgent: fix it")).tier == "budget"
    assert router(req("fix it", metadata={"plan": "pro"})).tier == "budget"


def test_first_matching_rule_wins() -> None:
    router = RuleRouter(
        [Rule(tier="standard", keywords=("sql",)), Rule(tier="critical", keywords=("sql",))],
        default="budget",
    )
    assert router(req("write sql")).tier == "standard"


def test_rule_passes_its_output_cap_on() -> None:
    router = RuleRouter([Rule(tier="budget", keywords=("tag",), max_output_tokens=16)], "critical")
    assert router(req("tag this")).max_output_tokens == 16


def test_default_tier_name() -> None:
    decision = RuleRouter([Rule(tier="critical", keywords=("x",))], default="budget")(req("hi"))
    assert decision == RouteDecision(
        tier="budget", reason="no rule matched -> default tier 'budget'", signals=("default",)
    )


def test_default_router() -> None:
    router = RuleRouter([Rule(tier="budget", metadata={"plan": "free"})], ComplexityRouter())
    decision = router(req(DE_COMPLEX))
    assert decision.tier == "critical"
    assert decision.reason.startswith("no rule matched; score 0.91 (raw +1.46) -> tier 'critical'")
    assert decision.signals == ("reasoning", "complex", "length")
    assert decision.max_output_tokens == DEFAULT_TASK_OUTPUT_CAPS["analysis"]
    assert router(req(DE_COMPLEX, metadata={"plan": "free"})).tier == "budget"


def test_any_callable_is_a_default_router() -> None:
    router = RuleRouter([], default=lambda r: RouteDecision(tier=r.tiers[-1], reason="cheap"))
    assert router(req("hi")).tier == "budget"


def test_rule_router_validate_tiers_lists_unknown_names() -> None:
    router = RuleRouter(
        [Rule(tier="critical", has_tools=True), Rule(tier="premium", keywords=("x",))],
        default="free",
    )
    router.validate_tiers(("critical", "premium", "free"))
    with pytest.raises(ValueError, match="unknown tier") as info:
        router.validate_tiers(TIERS[3])
    assert "'premium', 'free'" in str(info.value)
    assert "valid tier names: 'critical', 'standard', 'budget'" in str(info.value)


def test_rule_router_validates_its_default_router() -> None:
    router = RuleRouter([], default=ComplexityRouter(thresholds=(0.5,)))
    with pytest.raises(ValueError, match="need 2"):
        router.validate_tiers(TIERS[3])


def test_bad_rules_are_rejected() -> None:
    with pytest.raises(ValueError, match="no condition"):
        Rule(tier="critical")
    with pytest.raises(ValueError, match="min_tokens=10 exceeds max_tokens=5"):
        Rule(tier="critical", min_tokens=10, max_tokens=5)
    with pytest.raises(TypeError, match="tier name or a router"):
        RuleRouter([], default="")
    with pytest.raises(TypeError, match="Rule instances"):
        RuleRouter(["critical"], default="budget")  # type: ignore[list-item]


def test_rules_are_immutable() -> None:
    rule = Rule(tier="a", metadata={"k": 1})
    with pytest.raises(dataclasses.FrozenInstanceError):
        rule.tier = "b"  # type: ignore[misc]
    with pytest.raises(TypeError):
        rule.metadata["k"] = 2  # type: ignore[index]
