"""One routing-quality figure to print next to savings (the demo, reports).

Savings alone say nothing: sending everything to the cheapest tier saves the most. The figure
here says what the routing costs in quality, measured on labelled prompts that ship with the
package (130 English and German chat prompts in eight categories, ``data/chat_*.jsonl``) or on
your own (:func:`~langchain_tiered.routing.read_jsonl`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources

from langchain_tiered.routing.base import Router
from langchain_tiered.routing.evaluate import RoutingExample, evaluate_router

__all__ = ["RoutingQuality", "bundled_chat_examples", "routing_quality_summary"]

_BUNDLED = ("chat_en.jsonl", "chat_de.jsonl")


@dataclass(frozen=True)
class RoutingQuality:
    """The routing quality of one router at its own thresholds, in one line (``str()``)."""

    apgr: float
    """Area under the quality-recovered curve (random 0.5, higher is better)."""
    cpt50: float
    """Share of calls above the cheapest tier needed to recover half the quality gap."""
    share_up: float
    """Share of the labelled prompts the router sends above the cheapest tier."""
    quality_kept: float
    """Fraction of the cheapest-vs-best quality gap recovered at the router's own thresholds."""
    n: int
    """Number of labelled prompts."""
    dataset: str
    """What was measured on."""

    def __str__(self) -> str:
        return (
            f"routing quality on {self.n} {self.dataset}: APGR {self.apgr:.2f} (random 0.50); "
            f"these thresholds send {self.share_up:.0%} above the cheapest tier and recover "
            f"{self.quality_kept:.0%} of the quality gap (random routing: {self.share_up:.0%})"
        )


def bundled_chat_examples() -> list[RoutingExample]:
    """The 130 labelled English and German chat prompts that ship with the package."""
    from langchain_tiered.routing.datasets import read_jsonl  # noqa: PLC0415

    folder = resources.files("langchain_tiered.routing") / "data"
    out: list[RoutingExample] = []
    for name in _BUNDLED:
        with resources.as_file(folder / name) as path:
            out += read_jsonl(path)
    return out


def routing_quality_summary(
    router: Router | None = None,
    tiers: Sequence[str] = ("strong", "weak"),
    examples: Sequence[RoutingExample] | None = None,
    *,
    dataset: str | None = None,
) -> RoutingQuality:
    """Measure ``router`` over ``tiers`` on labelled prompts; ``str()`` of it is one line.

    Args:
        router: The router (default: ``ComplexityRouter()``).
        tiers: Tier names, most capable first (the cheapest counts as the weak model, all
            others as the strong one).
        examples: Labelled prompts (default: the bundled EN/DE chat prompts).
        dataset: How to name ``examples`` in the line.
    """
    if router is None:
        from langchain_tiered.routing.complexity import ComplexityRouter  # noqa: PLC0415

        router = ComplexityRouter()
    if examples is None:
        examples = bundled_chat_examples()
        dataset = dataset or "labelled EN/DE chat prompts (the default router's tuning set)"
    report = evaluate_router(router, examples, tiers=tiers, strong_tiers=tuple(tiers[:-1]))
    point = report.operating_point
    assert point is not None  # evaluate_router always routes
    return RoutingQuality(
        apgr=report.apgr,
        cpt50=report.cpt(0.5),
        share_up=point.share,
        quality_kept=point.pgr,
        n=report.n,
        dataset=dataset or "labelled prompts",
    )
