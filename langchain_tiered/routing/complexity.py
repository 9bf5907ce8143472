"""The default router: an explainable complexity score cut into tiers by thresholds."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import ClassVar

from langchain_tiered.routing.base import (
    DEFAULT_TASK_OUTPUT_CAPS,
    RouteDecision,
    RouteRequest,
    _memo,
    check_thresholds,
    default_thresholds,
)
from langchain_tiered.routing.signals import DEFAULT_SIGNALS, SignalMatcher, SignalSet

__all__ = ["ComplexityRouter"]


@dataclass(frozen=True)
class ComplexityRouter:
    """Route by an explainable complexity score.

    The score is the sum of the contributions of every signal that fired (see
    :class:`SignalSet` for the weights), clamped to ``[0, 1]``: 0 means a trivial lookup, about
    0.4 a plain explanation, 0.7 and above multi-step analysis or code generation. Tier ``i`` is
    chosen for the first threshold ``thresholds[i]`` the score reaches; below all, the cheapest.
    With 2 tiers (default cut-off 0.5) explanations stay on the cheap tier and a single
    analysis/code signal already reaches the capable one.

    Example:
        ``ComplexityRouter(signals=DEFAULT_SIGNALS.extend(complex=["durchleuchte"]))``
    """

    signals: SignalSet = DEFAULT_SIGNALS
    """Word groups and structural weights."""
    thresholds: tuple[float, ...] | None = None
    """Descending score cut-offs, one fewer than the tiers; ``None`` spreads them evenly."""
    task_output_caps: Mapping[str, int] = field(default_factory=lambda: DEFAULT_TASK_OUTPUT_CAPS)
    """Output-token cap per task kind, used for ``RouteDecision.max_output_tokens``."""
    needs_token_count: ClassVar[bool] = False
    """The length signal works from characters, so the model need not count tokens to route
    (any router without this attribute gets ``RouteRequest.token_count`` filled in)."""
    max_scan_chars: int | None = 1000
    """Scan at most this many characters of a long request: the first two thirds and the last
    third, where instructions sit ("Summarize: <document>", "<document> Translate this").
    Keeps routing cost flat for pasted documents, whose own words are noise anyway.
    ``None`` scans everything."""

    def __post_init__(self) -> None:
        if self.max_scan_chars is not None and self.max_scan_chars < 1:
            msg = f"max_scan_chars must be positive or None, got {self.max_scan_chars}"
            raise ValueError(msg)
        if self.thresholds is not None:
            thresholds = tuple(float(t) for t in self.thresholds)
            check_thresholds(thresholds)
            object.__setattr__(self, "thresholds", thresholds)
        bad = {k: v for k, v in self.task_output_caps.items() if v <= 0}
        if bad:
            msg = f"task_output_caps must be positive token counts, got {bad}"
            raise ValueError(msg)
        object.__setattr__(self, "task_output_caps", MappingProxyType(dict(self.task_output_caps)))

    @_memo
    def _matcher(self) -> SignalMatcher:
        # Compiled once per router instance, on first use; routing then never compiles.
        return SignalMatcher(self.signals)

    def validate_tiers(self, tiers: Sequence[str]) -> None:
        """Check the thresholds fit ``tiers``.

        Raises:
            ValueError: No tiers, thresholds not strictly descending, or not exactly one fewer
                threshold than tiers.
        """
        if not tiers:
            msg = "ComplexityRouter needs at least one tier"
            raise ValueError(msg)
        if self.thresholds is None:
            return
        check_thresholds(self.thresholds)
        if len(self.thresholds) != len(tiers) - 1:
            msg = (
                f"ComplexityRouter has {len(self.thresholds)} threshold(s) {self.thresholds} but "
                f"{len(tiers)} tiers {list(tiers)} need {len(tiers) - 1}: one cut-off between "
                "each pair of neighbouring tiers (or thresholds=None for even defaults)"
            )
            raise ValueError(msg)

    def __call__(self, request: RouteRequest) -> RouteDecision:
        """Score ``request`` and pick its tier."""
        tiers = request.tiers
        cuts = default_thresholds(len(tiers)) if self.thresholds is None else self.thresholds
        if len(cuts) != len(tiers) - 1:
            self.validate_tiers(tiers)
        matcher = self._matcher
        text = _window(request.text, self.max_scan_chars).lower()  # patterns are lower-case
        hits = matcher.find(text)
        parts = matcher.words(hits) + matcher.structure(
            text,
            n_tools=len(request.tools),
            structured_output=request.structured_output,
            tokens=request.approx_tokens,
        )
        score = min(1.0, max(0.0, sum(p.value for p in parts)))
        index = sum(1 for cut in cuts if score < cut)  # cuts descend: those above are a prefix
        fired = sorted((p for p in parts if p.value), key=lambda p: -abs(p.value))
        labels = [p.label for p in fired]
        if not any(p.name == "length" for p in fired):  # always show the length for context
            labels.append(f"length {request.approx_tokens} tok")
        task = matcher.task(hits)
        return RouteDecision(
            tier=tiers[index],
            reason=(
                f"score {score:.2f} -> tier {tiers[index]!r} ({_bound(cuts, index)}): "
                + ", ".join(labels)
            ),
            score=score,
            max_output_tokens=self.task_output_caps.get(task) if task else None,
            signals=tuple(p.name for p in fired),
        )


def _window(text: str, limit: int | None) -> str:
    if limit is None or len(text) <= limit:
        return text
    head = limit * 2 // 3
    return f"{text[:head]}\n{text[len(text) - (limit - head) :]}"


def _bound(cuts: tuple[float, ...], index: int) -> str:
    if index < len(cuts):
        return f">= {cuts[index]:.2f}"
    return f"< {cuts[-1]:.2f}" if cuts else "only tier"
