"""The default router: an explainable complexity score cut into tiers by thresholds."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, ClassVar, NamedTuple

from langchain_tiered.routing.base import (
    DEFAULT_TASK_OUTPUT_CAPS,
    RouteDecision,
    RouteRequest,
    _memo,
    bound_label,
    check_thresholds,
    default_thresholds,
    tier_index,
)
from langchain_tiered.routing.signal_words import DEFAULT_SIGNALS
from langchain_tiered.routing.signals import Contribution, SignalMatcher, SignalSet, matcher_for

__all__ = ["ComplexityRouter"]

_CHARS_PER_TOKEN = 4  # rough English/German average, only used when token_count is missing


@dataclass(frozen=True)
class ComplexityRouter:
    """Route by an explainable, continuous complexity score.

    Every signal that fires adds a signed amount to a raw sum (see :class:`SignalSet`): math,
    reasoning and code words and code blocks push up most; analysis, explanation, several
    questions and bound tools push up; lookups, translation, classification, extraction, role
    play, short creative writing and "briefly" pull down; and length, on a log scale, adds up
    to ``length_cap`` or takes away up to ``length_floor``. The score is
    ``(1 + tanh(slope * (raw - center))) / 2``, in ``(0, 1)`` and continuous in the length, so
    prompts rarely tie and :func:`~langchain_tiered.routing.calibrate` can hit any tier share.
    Tier ``i`` is chosen for the first threshold ``thresholds[i]`` the score reaches; below
    all, the cheapest. With the even default cut-offs most math, reasoning and code requests
    land in the top two of four tiers, a short explanation in the middle of three, and a
    lookup or translation on the cheapest.

    Example:
        ``ComplexityRouter(signals=DEFAULT_SIGNALS.extend(complex=["durchleucht"]))``
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
        # Compiled once per signal set (shared by copies such as calibrate()'s), on first use.
        return matcher_for(self.signals)

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

    def with_thresholds(self, thresholds: Sequence[float] | None) -> ComplexityRouter:
        """A copy of this router with other cut-offs (what :func:`calibrate` returns)."""
        return dataclasses.replace(
            self, thresholds=None if thresholds is None else tuple(thresholds)
        )

    def _text_part(self, text: str) -> _TextPart:
        """What the last human turn alone contributes (remembered for the last text).

        An agent loop routes the same last human turn again on every tool round, and a
        retried or repeated prompt is the same text: its windowing, lower-casing and scans
        are done once (one tuple, replaced whole: safe across threads).
        """
        last: _TextPart | None = self.__dict__.get("_last_text")
        if last is not None and last.text == text:  # identity first, then content
            return last
        matcher = self._matcher
        lowered = _window(text, self.max_scan_chars).lower()  # patterns are lower-case
        hits, parts = matcher.text_signals(lowered)
        part = _TextPart(text, tuple(parts), matcher.task(hits), sum(p.value for p in parts))
        self.__dict__["_last_text"] = part  # frozen dataclass: not a field, not compared
        return part

    def _tokens(self, request: RouteRequest) -> float:
        if request.token_count is not None:
            return float(request.token_count)
        return request.text_length / _CHARS_PER_TOKEN

    def _structure(self, request: RouteRequest) -> list[Contribution]:
        return self._matcher.request_structure(
            n_tools=len(request.tools),
            structured_output=request.structured_output,
            tokens=self._tokens(request),
        )

    def contributions(self, request: RouteRequest) -> tuple[list[Contribution], str | None]:
        """Every signal's signed share of the raw sum, and the recognised task kind."""
        text = self._text_part(request.text)
        return [*text.parts, *self._structure(request)], text.task

    def score(self, request: RouteRequest) -> float:
        """The complexity score in ``(0, 1)``; higher needs a more capable tier."""
        return self._squash(sum(p.value for p in self.contributions(request)[0]))

    def _squash(self, raw: float) -> float:
        s = self.signals
        return (1.0 + math.tanh(s.slope * (raw - s.center))) / 2.0

    def __call__(self, request: RouteRequest) -> RouteDecision:
        """Score ``request`` and pick its tier."""
        tiers = request.tiers
        cuts = default_thresholds(len(tiers)) if self.thresholds is None else self.thresholds
        if len(cuts) != len(tiers) - 1:
            self.validate_tiers(tiers)
        text = self._text_part(request.text)
        shape = (len(request.tools), request.structured_output, self._tokens(request), tiers, cuts)
        last: tuple[_TextPart, tuple[Any, ...], RouteDecision] | None = self.__dict__.get(
            "_last_decision"
        )
        if last is not None and last[0] is text and last[1] == shape:
            remembered: RouteDecision = last[2]  # same text, size and tiers: same (frozen) one
            return remembered
        structure = self._matcher.request_structure(
            n_tools=shape[0], structured_output=shape[1], tokens=shape[2]
        )
        raw = text.total  # summed in the order of contributions(): the same float
        for part in structure:
            raw += part.value
        score = self._squash(raw)
        index = tier_index(score, cuts)
        parts = [*text.parts, *structure]
        fired = sorted((p for p in parts if p.value), key=_strength)
        labels = [p.label for p in fired] or [p.label for p in structure if p.name == "length"]
        decision = RouteDecision(
            tier=tiers[index],
            reason=(
                f"score {score:.2f} (raw {raw:+.2f}) -> tier {tiers[index]!r} "
                f"({bound_label(cuts, index)}): " + ", ".join(labels)
            ),
            score=score,
            max_output_tokens=self.task_output_caps.get(text.task) if text.task else None,
            signals=tuple(p.name for p in fired),
        )
        # A retried or repeated prompt (same last-turn record, same size) is decided once.
        self.__dict__["_last_decision"] = (text, shape, decision)  # replaced whole: thread-safe
        return decision


class _TextPart(NamedTuple):
    """The contributions of one last-human-turn text, its task kind and their sum."""

    text: str
    parts: tuple[Contribution, ...]
    task: str | None
    total: float


def _strength(part: Contribution) -> float:
    return -abs(part.value)


def _window(text: str, limit: int | None) -> str:
    if limit is None or len(text) <= limit:
        return text
    head = limit * 2 // 3
    return f"{text[:head]}\n{text[len(text) - (limit - head) :]}"
