"""Routing: pick a tier for a request, and measure how well that choice keeps quality.

A router is any callable ``RouteRequest -> RouteDecision``. Built in:

* :class:`ComplexityRouter` -- a continuous, explainable score from signals (math, reasoning,
  code, analysis, cheap tasks; English and German) and prompt length, cut into tiers by
  thresholds (``complexity.py``, word lists in ``signals.py``).
* :class:`RuleRouter` -- explicit :class:`Rule` objects, first match wins (``rules.py``).
* :class:`LearnedRouter` -- embeddings plus a small fitted model, trained on labelled prompts
  or on the outcomes recorded with past calls (``learned.py``; needs numpy).

Quality: :func:`evaluate_router` (``evaluate.py``) scores a router on labelled
:class:`RoutingExample` data read by ``datasets.py``; :func:`calibrate` (``calibrate.py``)
sets thresholds for wanted tier shares or a target cost.

May import: ``tokens``, ``pricing``, ``ledger`` (protocols only), ``errors``. Never the call
engine or the chat model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from langchain_tiered.routing.base import (
    DEFAULT_TASK_OUTPUT_CAPS,
    RouteDecision,
    Router,
    RouteRequest,
    default_thresholds,
)
from langchain_tiered.routing.complexity import ComplexityRouter
from langchain_tiered.routing.evaluate import (
    OperatingPoint,
    RouterReport,
    RoutingExample,
    evaluate_router,
    evaluate_scores,
)
from langchain_tiered.routing.rules import Rule, RuleRouter
from langchain_tiered.routing.signal_words import DEFAULT_SIGNALS
from langchain_tiered.routing.signals import SignalGroup, SignalSet

if TYPE_CHECKING:
    from langchain_tiered.routing.calibrate import calibrate, calibrate_for_cost
    from langchain_tiered.routing.datasets import (
        read_arena_hard,
        read_gsm8k,
        read_jsonl,
        read_mmlu,
        read_routellm_csv,
        write_jsonl,
    )
    from langchain_tiered.routing.embeddings import HashingEmbeddings
    from langchain_tiered.routing.learned import LearnedRouter
    from langchain_tiered.routing.summary import routing_quality_summary

__all__ = [
    "DEFAULT_SIGNALS",
    "DEFAULT_TASK_OUTPUT_CAPS",
    "ComplexityRouter",
    "HashingEmbeddings",
    "LearnedRouter",
    "OperatingPoint",
    "RouteDecision",
    "RouteRequest",
    "Router",
    "RouterReport",
    "RoutingExample",
    "Rule",
    "RuleRouter",
    "SignalGroup",
    "SignalSet",
    "calibrate",
    "calibrate_for_cost",
    "default_thresholds",
    "evaluate_router",
    "evaluate_scores",
    "read_arena_hard",
    "read_gsm8k",
    "read_jsonl",
    "read_mmlu",
    "read_routellm_csv",
    "routing_quality_summary",
    "write_jsonl",
]

# Loaded on first use: the learned router pulls in numpy, the readers csv/gzip.
_LAZY = {
    "calibrate": "calibrate",
    "calibrate_for_cost": "calibrate",
    "read_arena_hard": "datasets",
    "read_gsm8k": "datasets",
    "read_jsonl": "datasets",
    "read_mmlu": "datasets",
    "read_routellm_csv": "datasets",
    "write_jsonl": "datasets",
    "HashingEmbeddings": "embeddings",
    "LearnedRouter": "learned",
    "routing_quality_summary": "summary",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        msg = f"module {__name__!r} has no attribute {name!r}"
        raise AttributeError(msg)
    from importlib import import_module  # noqa: PLC0415

    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
