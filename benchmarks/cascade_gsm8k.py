"""A cascade replayed on real GSM8K answers: accuracy and share of strong calls, offline.

The bundled emulator serves the recorded answers of RouteLLM's GSM8K evaluation (1,319
grade-school math problems; weak tier = Mixtral-8x7B's answer, strong tier = GPT-4's,
keyed by prompt; the 12 contaminated prompts dropped) to a ``TieredChatModel`` with a
cascade. The validators see only the question and the answer, never the recorded
correctness; that is used afterwards, to score the answer the cascade returned.

Validators (each justifiable without the truth):

* ``final number``: the answer states a final number (``#### n``, the format asked for);
* ``+ arithmetic``: every calculation the answer writes down (``<<6*7=42>>``, ``6 x 7 = 42``)
  is arithmetically right - a calculator check of the model's own work;
* ``+ whole number``: the final number is a whole number (GSM8K questions are built to have
  whole-number answers; a fraction signals a slip);
* ``judge (scripted)``: the same checks performed by a grading call to the weak tier through
  ``Judge`` (the emulator answers the grading prompt with a calculator script instead of a
  model), to show the judge path with its cost counted.

Compared with: weak only, strong only, ``ComplexityRouter`` sending its highest-scored
prompts to the strong tier at the same share of strong calls as each cascade (ties entered
as a group, RouteLLM's convention), and the perfect verifier (escalate exactly the wrong
weak answers: 0.930 at 36% strong calls).

    python benchmarks/cascade_gsm8k.py [--data ../shared/routing-data/gsm8k] [--limit N]
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langchain_core.messages import HumanMessage

from langchain_tiered import ModelPrice, Tier, TieredChatModel
from langchain_tiered.cascade import Cascade, Judge, Matches, Predicate
from langchain_tiered.routing import ComplexityRouter, RouteRequest
from langchain_tiered.testing import OpenAICompatibleEmulator, Reply

DATA = Path(__file__).resolve().parents[2] / "shared" / "routing-data" / "gsm8k"
WEAK = "mistralai/Mixtral-8x7B-Instruct-v0.1"
STRONG = "gpt-4-1106-preview"
# List prices per million tokens: Mixtral-8x7B on common hosts, GPT-4 Turbo (1106).
PRICES = {
    "weak": ModelPrice(input_per_mtok=0.60, output_per_mtok=0.60),
    "strong": ModelPrice(input_per_mtok=10.0, output_per_mtok=30.0),
}
FINAL = r"####\s*\$?\s*(-?[\d,]*\.?\d+)"
_FINAL = re.compile(FINAL)
_ANNOTATION = re.compile(r"<<([^=<>]+)=([^<>]+)>>")
_TIMES, _DIVIDED = "\u00d7", "\u00f7"  # the signs some answers write
_INLINE = re.compile(
    rf"(\d[\d,.]*(?:\s*[-+*/x{_TIMES}{_DIVIDED}]\s*\$?\d[\d,.]*)+)\s*=\s*\$?(-?\d[\d,]*\.?\d*)"
)
_SAFE = re.compile(r"^[\d\s.+\-*/()]+$")
_GRADER = "You are a strict grader"


@dataclass(frozen=True)
class Row:
    """One GSM8K problem with both recorded answers and their correctness."""

    prompt: str
    weak: str
    strong: str
    weak_ok: bool
    strong_ok: bool


def load(data: Path, limit: int | None = None) -> list[Row]:
    """The recorded answers, contaminated prompts dropped."""
    dropped = {
        json.loads(line)["eval_prompt"]
        for line in (data / "contaminated_prompts.jsonl").read_text().splitlines()
        if line.strip()
    }
    with (data / "gsm8k_responses.csv").open(newline="") as f:
        rows = [
            Row(
                r["prompt"],
                r[f"{WEAK}_response"],
                r[f"{STRONG}_response"],
                r[WEAK] == "True",
                r[STRONG] == "True",
            )
            for r in csv.DictReader(f)
            if r["prompt"] not in dropped
        ]
    return rows[:limit] if limit else rows


# -- checks that need no truth ------------------------------------------------------------------


def _value(expression: str) -> float | None:
    expr = expression.replace(",", "").replace("$", "").replace(_TIMES, "*").replace(_DIVIDED, "/")
    expr = expr.replace("x", "*")
    if not _SAFE.match(expr):
        return None
    try:
        return float(eval(expr, {"__builtins__": {}}))
    except (SyntaxError, ZeroDivisionError, ValueError):
        return None


def arithmetic_ok(text: str) -> bool:
    """Every calculation written in ``text`` computes to the result it states."""
    pairs = _ANNOTATION.findall(text) + _INLINE.findall(text)
    for expression, stated in pairs:
        value = _value(expression)
        try:
            result = float(stated.replace(",", "").replace("$", "").rstrip("."))
        except ValueError:
            continue
        if value is not None and abs(value - result) > max(0.01, abs(value) * 1e-3):
            return False
    return True


def whole_final(text: str) -> bool:
    """The stated final number is a whole number."""
    found = _FINAL.findall(text)
    return bool(found) and float(found[-1].replace(",", "")) % 1 == 0


def scripted_grade(body: dict[str, Any]) -> Reply:
    """The emulator's judge: grades the answer in the grading prompt with the checks above."""
    prompt = body["messages"][-1]["content"]
    answer = prompt.split("ANSWER:\n", 1)[-1].rsplit("\n\nScore", 1)[0]
    ok = bool(_FINAL.search(answer)) and arithmetic_ok(answer) and whole_final(answer)
    return Reply(content="9" if ok else "2")


# -- running ------------------------------------------------------------------------------------


def serve(emu: OpenAICompatibleEmulator, rows: Sequence[Row]) -> None:
    """Answer each prompt with its recorded answer; grading prompts with the scripted judge."""
    weak = {r.prompt: r.weak for r in rows}
    strong = {r.prompt: r.strong for r in rows}

    def weak_reply(body: dict[str, Any]) -> Reply:
        if str(body["messages"][0]["content"]).startswith(_GRADER):
            return scripted_grade(body)
        return Reply(content=weak[body["messages"][-1]["content"]])

    def strong_reply(body: dict[str, Any]) -> Reply:
        return Reply(content=strong[body["messages"][-1]["content"]])

    emu.respond_with(weak_reply, model="weak-model")
    emu.respond_with(strong_reply, model="strong-model")


def tiered(emu: OpenAICompatibleEmulator, cascade: Cascade | None) -> TieredChatModel:
    from langchain_openai import ChatOpenAI  # noqa: PLC0415

    def chat(name: str) -> ChatOpenAI:
        return ChatOpenAI(model=name, base_url=emu.base_url, api_key="sk-emulator", max_retries=0)

    return TieredChatModel(
        tiers=[
            Tier(name="strong", model=chat("strong-model"), price=PRICES["strong"]),
            Tier(name="weak", model=chat("weak-model"), price=PRICES["weak"]),
        ],
        cascade=cascade,
        max_tokens=1024,
    )


@dataclass(frozen=True)
class Outcome:
    """What one strategy achieved over all rows."""

    name: str
    accuracy: float
    strong_share: float
    cost_usd: float | None = None


def run(
    emu: OpenAICompatibleEmulator,
    rows: Sequence[Row],
    name: str,
    cascade: Cascade | None,
    **kw: Any,
) -> tuple[Outcome, list[float]]:
    """Invoke every prompt; score the answering tier with the recorded correctness."""
    model = tiered(emu, cascade)
    answers = model.batch([r.prompt for r in rows], config={"max_concurrency": 8}, **kw)
    metas = [a.response_metadata["tiered"] for a in answers]
    strong = [m["tier"] == "strong" for m in metas]
    right = [r.strong_ok if s else r.weak_ok for r, s in zip(rows, strong, strict=True)]
    costs = [float(m["cost_usd"]) for m in metas]
    n = len(rows)
    return Outcome(name, sum(right) / n, sum(strong) / n, sum(costs)), costs


def router_at(
    rows: Sequence[Row], share: float, scores: Sequence[float], costs: dict[str, list[float]]
) -> Outcome:
    """``ComplexityRouter`` sending its top ``share`` to strong; ties split as a group.

    Accuracy and cost are expectations over random tie-breaking; the cost of each answer is
    what the weak-only and strong-only runs paid for it.
    """
    n = len(rows)
    budget = share * n
    order = sorted(range(n), key=lambda i: -scores[i])
    right, cost, taken, i = 0.0, 0.0, 0.0, 0
    while i < n:
        group = [j for j in order[i:] if scores[j] == scores[order[i]]]
        frac = min(1.0, max(0.0, (budget - taken) / len(group)))
        for j in group:
            right += frac * rows[j].strong_ok + (1 - frac) * rows[j].weak_ok
            cost += frac * costs["strong only"][j] + (1 - frac) * costs["weak only"][j]
        taken += frac * len(group)
        i += len(group)
    return Outcome(f"ComplexityRouter at {share:.0%} strong", right / n, taken / n, cost)


def router_scores(rows: Sequence[Row]) -> list[float]:
    router = ComplexityRouter()
    tiers = ("strong", "weak")
    return [
        float(router(RouteRequest(messages=(HumanMessage(r.prompt),), tiers=tiers)).score or 0.0)
        for r in rows
    ]


def strategies() -> list[tuple[str, Cascade | None, dict[str, Any]]]:
    final = Matches(FINAL, reason="no final number")
    arithmetic = Predicate(arithmetic_ok, reason="a written calculation is wrong")
    whole = Predicate(whole_final, reason="final number is not whole")
    cheap = {"start": "cheapest", "validate_last": False}
    return [
        ("weak only", None, {"tier": "weak"}),
        ("strong only", None, {"tier": "strong"}),
        ("cascade: final number", Cascade([final], **cheap), {}),
        ("cascade: + arithmetic", Cascade([final, arithmetic], **cheap), {}),
        ("cascade: + whole number", Cascade([final, arithmetic, whole], **cheap), {}),
        ("cascade: judge (scripted)", Cascade([Judge(tier="weak")], **cheap), {}),
    ]


def main(argv: Sequence[str] | None = None, out: Callable[[str], Any] = print) -> list[Outcome]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--limit", type=int, default=None, help="first N problems only")
    args = parser.parse_args(argv)
    if not (args.data / "gsm8k_responses.csv").exists():
        sys.exit(f"no GSM8K data at {args.data}; pass --data <dir with gsm8k_responses.csv>")
    rows = load(args.data, args.limit)
    scores = router_scores(rows)
    results: list[Outcome] = []
    costs: dict[str, list[float]] = {}
    with OpenAICompatibleEmulator() as emu:
        serve(emu, rows)
        for name, cascade, kw in strategies():
            outcome, costs[name] = run(emu, rows, name, cascade, **kw)
            results.append(outcome)
            if cascade is not None and name != "cascade: judge (scripted)":
                results.append(router_at(rows, outcome.strong_share, scores, costs))
    oracle = sum(r.weak_ok or r.strong_ok for r in rows) / len(rows)
    share = sum(not r.weak_ok for r in rows) / len(rows)
    results.append(Outcome("perfect verifier (upper bound)", oracle, share))
    out(table(results, len(rows)))
    return results


def table(results: Sequence[Outcome], n: int) -> str:
    strong_cost = next((r.cost_usd for r in results if r.name == "strong only"), None)
    lines = [
        f"GSM8K replay, {n} problems (contaminated dropped)",
        "",
        "| strategy | accuracy | strong calls | cost vs strong only |",
        "| --- | ---: | ---: | ---: |",
    ]
    for r in results:
        rel = f"{r.cost_usd / strong_cost:.1%}" if r.cost_usd and strong_cost else "-"
        lines.append(f"| {r.name} | {r.accuracy:.3f} | {r.strong_share:.1%} | {rel} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
