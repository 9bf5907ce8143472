"""Statistics of a batch, computed from its items once it has finished.

Cost and tokens per tier are tallied by :class:`langchain_tiered.callbacks.CostStats`, the
one cost tally the cost callback uses too, so a batch and a callback report the same numbers.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_tiered.batch.errors import OutcomeUnknownError
from langchain_tiered.batch.items import BatchItem
from langchain_tiered.callbacks import CostStats
from langchain_tiered.pricing import usage_tokens

__all__ = ["BatchStats", "TierStats", "batch_stats", "count_retries", "percentile"]


@dataclass
class TierStats(CostStats):
    """What one tier did in a batch: the cost callback's tally plus the attempts sent.

    Attributes:
        calls: Answers the tier gave (each settled, i.e. billed, once).
        cost_usd: Settled cost of those answers.
        fallbacks: Answers it gave although the router chose another tier.
        attempts: Attempts sent to the tier, failed ones included.
    """

    attempts: int = 0


@dataclass(frozen=True)
class BatchStats:
    """Counts, cost and speed of a batch.

    ``successes`` and ``failures`` cover every input (so they add up to ``total``), resumed
    items included; everything else describes only the work done in this run, so a resumed
    item's cost, retries and latency are not counted again.

    Attributes:
        total: Number of inputs.
        successes: Inputs with an answer (resumed ones included).
        failures: Inputs that failed (the dead letters, unknown outcomes included).
        resumed: Inputs skipped because a previous run had answered them.
        retries: Attempts that failed with a retryable error and were retried on the same tier.
        fallbacks: Answers given by a tier other than the routed one.
        total_cost_usd: Settled cost of this run's answers.
        by_tier: Calls, cost and attempts per tier.
        latency_p50_s: Median latency of this run's items (nearest rank).
        latency_p95_s: 95th percentile latency of this run's items (nearest rank).
        elapsed_s: Wall time of the run, by the batch's timer.
        requests_per_s: Items run (not resumed) per second of ``elapsed_s``.
    """

    total: int
    successes: int
    failures: int
    resumed: int
    retries: int
    fallbacks: int
    total_cost_usd: float
    by_tier: dict[str, TierStats] = field(default_factory=dict)
    latency_p50_s: float = 0.0
    latency_p95_s: float = 0.0
    elapsed_s: float = 0.0
    requests_per_s: float = 0.0
    unknown: int = 0
    """Inputs an earlier run sent without recording the outcome, not sent again (failures)."""


def count_retries(attempts: Sequence[dict[str, Any]]) -> int:
    """Retryable failures followed by another attempt on the same tier."""
    return sum(
        1
        for a, b in itertools.pairwise(attempts)
        if a.get("kind") == "retryable" and a.get("tier") == b.get("tier")
    )


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (an observed value, exact for tests); 0.0 when empty."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def batch_stats(items: Sequence[BatchItem], elapsed_s: float) -> BatchStats:
    """Statistics over a finished batch's items (in any order)."""
    ran = [i for i in items if not i.skipped_resumed]
    latencies = [i.latency_s for i in ran]
    failures = sum(1 for i in items if not i.ok)
    by_tier = _by_tier(ran)
    return BatchStats(
        total=len(items),
        successes=len(items) - failures,
        failures=failures,
        resumed=sum(1 for i in items if i.skipped_resumed and i.ok),
        retries=sum(count_retries(i.attempts) for i in ran),
        fallbacks=sum(t.fallbacks for t in by_tier.values()),
        total_cost_usd=math.fsum(i.cost_usd for i in ran),
        by_tier=by_tier,
        latency_p50_s=percentile(latencies, 50),
        latency_p95_s=percentile(latencies, 95),
        elapsed_s=elapsed_s,
        requests_per_s=len(ran) / elapsed_s if elapsed_s > 0 else 0.0,
        unknown=sum(1 for i in items if isinstance(i.error, OutcomeUnknownError)),
    )


def _by_tier(items: Sequence[BatchItem]) -> dict[str, TierStats]:
    tiers: dict[str, TierStats] = {}
    for item in items:
        for attempt in item.attempts:
            if attempt.get("tier") is not None:
                tiers.setdefault(attempt["tier"], TierStats()).attempts += 1
        if item.ok and item.tier is not None:
            stats = tiers.setdefault(item.tier, TierStats())
            usage = getattr(item.output, "usage_metadata", None)
            stats.add(usage_tokens(usage), item.cost_usd)
            stats.fallbacks += int(item.fallback_triggered)
    return dict(sorted(tiers.items()))
