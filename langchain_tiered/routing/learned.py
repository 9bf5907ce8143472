"""A router learned from labelled prompts: any LangChain ``Embeddings`` plus a small model.

:class:`LearnedRouter` embeds the request text and predicts the *gain* of the strong model
over the weak one on it (``quality[strong] - quality[weak]``) with ridge regression or
k-nearest neighbours, fitted with numpy in closed form. The prediction becomes a score in
``(0, 1)`` through a logistic centred on the median training prediction (so with the default
cut-off of two tiers about half of prompts like the training ones go up; :func:`calibrate` sets
other shares). Models are saved as plain data, JSON or ``.npz`` (loaded with
``allow_pickle=False``), never pickle. Embeddings are memoized per text.

numpy is imported by this module only (extra ``langchain-tiered[learned]``).
"""

from __future__ import annotations

import json
import math
import threading
from collections import OrderedDict, defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from langchain_tiered.routing._fit import KINDS, fit_arrays, predict, predict_many, score_mapping
from langchain_tiered.routing.base import (
    RouteDecision,
    RouteRequest,
    bound_label,
    check_thresholds,
    default_thresholds,
    tier_index,
)
from langchain_tiered.routing.evaluate import RouterReport, RoutingExample, evaluate_scores

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings

    from langchain_tiered.ledger.base import FeedbackStore, Ledger

__all__ = ["LearnedRouter"]

_FORMAT = "langchain-tiered/learned-router/1"


def _np() -> Any:
    try:
        import numpy  # noqa: PLC0415 -- optional dependency, loaded on first use
    except ImportError as exc:
        msg = 'LearnedRouter needs numpy: pip install "langchain-tiered[learned]"'
        raise ImportError(msg) from exc
    return numpy


class LearnedRouter:
    """Route by a fitted prediction of how much the strong model gains on a prompt.

    Build with :meth:`fit` (labelled examples), :meth:`fit_from_ledger` (outcomes recorded
    with past calls) or :meth:`load`; route like any router: ``TieredChatModel(router=...)``.
    """

    needs_token_count: ClassVar[bool] = False
    """Scores from the text alone; the chat model need not count tokens to route."""

    def __init__(
        self,
        embeddings: Embeddings,
        params: Mapping[str, Any],
        *,
        thresholds: Sequence[float] | None = None,
        cache_size: int = 4096,
    ) -> None:
        """Wrap fitted ``params`` (use :meth:`fit` or :meth:`load` rather than this).

        Args:
            embeddings: The embeddings the model was fitted with.
            params: ``kind`` ("ridge"/"knn"), arrays and the score mapping, as :meth:`fit` makes.
            thresholds: Descending score cut-offs, one fewer than tiers; ``None`` = even.
            cache_size: How many prompt embeddings to keep (per text, least recently used out).
        """
        if params.get("kind") not in KINDS:
            msg = f"unknown LearnedRouter kind {params.get('kind')!r}; expected one of {KINDS}"
            raise ValueError(msg)
        self.embeddings = embeddings
        self.params = dict(params)
        self.thresholds = None if thresholds is None else tuple(float(t) for t in thresholds)
        if self.thresholds is not None:
            check_thresholds(self.thresholds)
        self.cache_size = cache_size
        self._cache: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        n = self.params.get("n_train")
        return f"LearnedRouter(kind={self.params['kind']!r}, n_train={n}, {self.embeddings!r})"

    # -- fitting ------------------------------------------------------------------------------

    @classmethod
    def fit(
        cls,
        examples: Sequence[RoutingExample],
        *,
        embeddings: Embeddings,
        strong: str = "strong",
        weak: str = "weak",
        kind: str = "ridge",
        alpha: float = 1.0,
        k: int = 25,
        thresholds: Sequence[float] | None = None,
    ) -> LearnedRouter:
        """Fit on labelled examples.

        Args:
            examples: Prompts with a quality for ``strong`` and ``weak``.
            embeddings: Any LangChain ``Embeddings``.
            strong: Quality key of the strong model.
            weak: Quality key of the weak model.
            kind: ``"ridge"`` (linear, small file) or ``"knn"`` (keeps the training vectors).
            alpha: Ridge penalty.
            k: Neighbours for ``"knn"``.
            thresholds: Cut-offs to route with (``None`` = even; see :func:`calibrate`).

        Raises:
            ValueError: Fewer than two examples, a missing label or an unknown ``kind``.
        """
        if len(examples) < 2:  # noqa: PLR2004 -- a fit needs a spread
            msg = f"LearnedRouter.fit needs at least 2 labelled examples, got {len(examples)}"
            raise ValueError(msg)
        xp = _np()
        gains = xp.array([_gain(e, strong, weak) for e in examples], dtype=xp.float64)
        x = xp.array(embeddings.embed_documents([e.prompt for e in examples]), dtype=xp.float64)
        params = fit_arrays(xp, x, gains, kind=kind, alpha=alpha, k=k)
        params |= score_mapping(xp, params, x)
        return cls(embeddings, params, thresholds=thresholds)

    @classmethod
    def fit_from_ledger(
        cls,
        ledger: Ledger | FeedbackStore,
        *,
        embeddings: Embeddings,
        strong_tier: str,
        assume_strong: float = 1.0,
        **fit_kwargs: Any,
    ) -> LearnedRouter:
        """Fit on outcomes recorded with past calls (``ledger.record_feedback``).

        Each feedback that carries its prompt is joined to its spend record by run id, which
        says which tier answered. A prompt answered by a cheaper tier teaches the router
        ``gain = quality[strong_tier] - quality[cheaper]``, with ``assume_strong`` where the
        strong tier's outcome on that prompt is unknown; prompts only the strong tier answered
        say nothing about the cheaper ones and are skipped.

        Args:
            ledger: An :class:`~langchain_tiered.InMemoryLedger` or
                :class:`~langchain_tiered.SQLiteLedger` with feedback.
            embeddings: Any LangChain ``Embeddings``.
            strong_tier: Name of the tier that counts as the strong model.
            assume_strong: Quality assumed for the strong tier where it was not tried.
            **fit_kwargs: Passed on to :meth:`fit` (``kind``, ``alpha``, ``k``, ...).

        Raises:
            TypeError: The ledger keeps no feedback.
            ValueError: Fewer than two usable prompts (the message says what is missing).
        """
        examples = examples_from_ledger(
            ledger, strong_tier=strong_tier, assume_strong=assume_strong
        )
        return cls.fit(examples, embeddings=embeddings, **fit_kwargs)

    @staticmethod
    def cross_validate(
        examples: Sequence[RoutingExample],
        *,
        embeddings: Embeddings,
        folds: int = 5,
        seed: int = 0,
        strong: str = "strong",
        weak: str = "weak",
        kind: str = "ridge",
        alpha: float = 1.0,
        k: int = 25,
        name: str | None = None,
    ) -> RouterReport:
        """k-fold cross-validation: every prompt scored by a model that never saw it.

        Each prompt is embedded once; the out-of-fold predictions of all folds together make
        one :class:`RouterReport` (APGR, CPT, curve) comparable with :func:`evaluate_router`.

        Raises:
            ValueError: Fewer examples than folds, or fewer than two folds.
        """
        if folds < 2 or len(examples) < folds:  # noqa: PLR2004 -- a fold needs a rest to fit on
            msg = f"need folds >= 2 and at least that many examples, got {folds}, {len(examples)}"
            raise ValueError(msg)
        xp = _np()
        gains = xp.array([_gain(e, strong, weak) for e in examples], dtype=xp.float64)
        x = xp.array(embeddings.embed_documents([e.prompt for e in examples]), dtype=xp.float64)
        fold_of = xp.random.default_rng(seed).permutation(len(examples)) % folds
        predicted = xp.zeros(len(examples))
        for fold in range(folds):
            test = fold_of == fold
            params = fit_arrays(xp, x[~test], gains[~test], kind=kind, alpha=alpha, k=k)
            predicted[test] = predict_many(xp, params, x[test])
        return evaluate_scores(
            predicted.tolist(),
            examples,
            strong=strong,
            weak=weak,
            name=name or f"LearnedRouter[{kind}] ({folds}-fold)",
        )

    # -- routing ------------------------------------------------------------------------------

    def _embed(self, text: str) -> Any:
        with self._lock:
            vector = self._cache.get(text)
            if vector is not None:
                self._cache.move_to_end(text)
                return vector
        xp = _np()
        vector = xp.asarray(self.embeddings.embed_query(text), dtype=xp.float64)
        with self._lock:
            self._cache[text] = vector
            if len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return vector

    def predict_gain(self, text: str) -> float:
        """Predicted ``quality[strong] - quality[weak]`` for ``text``."""
        return predict(_np(), self.params, self._embed(text))

    def score(self, request: RouteRequest) -> float:
        """Score in ``(0, 1)``: the predicted gain through the fitted logistic."""
        return self._squash(self.predict_gain(request.text))

    def _squash(self, gain: float) -> float:
        z = (gain - float(self.params["center"])) / float(self.params["scale"])
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))

    def __call__(self, request: RouteRequest) -> RouteDecision:
        """Score ``request`` and pick its tier."""
        tiers = request.tiers
        cuts = default_thresholds(len(tiers)) if self.thresholds is None else self.thresholds
        if len(cuts) != len(tiers) - 1:
            self.validate_tiers(tiers)
        gain = self.predict_gain(request.text)
        score = self._squash(gain)
        index = tier_index(score, cuts)
        return RouteDecision(
            tier=tiers[index],
            reason=(
                f"learned {self.params['kind']} score {score:.2f} -> tier {tiers[index]!r} "
                f"({bound_label(cuts, index)}): predicted strong-model gain {gain:+.2f}"
            ),
            score=score,
            signals=(f"learned:{self.params['kind']}",),
        )

    def validate_tiers(self, tiers: Sequence[str]) -> None:
        """Check the thresholds fit ``tiers``.

        Raises:
            ValueError: No tiers, or not exactly one threshold fewer than tiers.
        """
        if not tiers:
            msg = "LearnedRouter needs at least one tier"
            raise ValueError(msg)
        if self.thresholds is not None and len(self.thresholds) != len(tiers) - 1:
            msg = (
                f"LearnedRouter has {len(self.thresholds)} threshold(s) but {len(tiers)} tiers "
                f"need {len(tiers) - 1}; calibrate() it for these tiers or pass thresholds=None"
            )
            raise ValueError(msg)

    def with_thresholds(self, thresholds: Sequence[float] | None) -> LearnedRouter:
        """A copy with other cut-offs that shares the fitted model and the embedding cache."""
        other = LearnedRouter(
            self.embeddings, self.params, thresholds=thresholds, cache_size=self.cache_size
        )
        other._cache, other._lock = self._cache, self._lock
        return other

    # -- persistence --------------------------------------------------------------------------

    def save(self, path: str | Path) -> None:
        """Write the fitted model as ``.npz`` (compact) or JSON (any other suffix); no pickle."""
        xp = _np()
        path = Path(path)
        meta = {k: v for k, v in self.params.items() if not isinstance(v, xp.ndarray)}
        meta |= {"format": _FORMAT, "thresholds": self.thresholds}
        arrays = {k: v for k, v in self.params.items() if isinstance(v, xp.ndarray)}
        if path.suffix == ".npz":
            xp.savez_compressed(path, meta=xp.array(json.dumps(meta)), **arrays)
        else:
            data = meta | {k: v.tolist() for k, v in arrays.items()}
            path.write_text(json.dumps(data), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path, *, embeddings: Embeddings) -> LearnedRouter:
        """Read a model written by :meth:`save`; pass the same embeddings it was fitted with.

        Raises:
            ValueError: The file is not a saved LearnedRouter.
        """
        xp = _np()
        path = Path(path)
        if path.suffix == ".npz":
            with xp.load(path, allow_pickle=False) as data:
                params: dict[str, Any] = json.loads(str(data["meta"]))
                params |= {k: data[k] for k in data.files if k != "meta"}
        else:
            params = json.loads(path.read_text(encoding="utf-8"))
            params |= {k: xp.asarray(params[k]) for k in _ARRAY_KEYS if k in params}
        if params.pop("format", None) != _FORMAT:
            msg = f"{path} is not a saved LearnedRouter (format {_FORMAT!r} expected)"
            raise ValueError(msg)
        thresholds = params.pop("thresholds", None)
        return cls(embeddings, params, thresholds=thresholds)


_ARRAY_KEYS = ("weights", "mean", "vectors", "gains")


def _gain(example: RoutingExample, strong: str, weak: str) -> float:
    try:
        return float(example.quality[strong]) - float(example.quality[weak])
    except KeyError as exc:
        msg = (
            f"example {example.prompt[:40]!r} has no quality for {exc.args[0]!r}; "
            "pass strong=/weak= naming keys every example has"
        )
        raise ValueError(msg) from None


def examples_from_ledger(
    ledger: Any, *, strong_tier: str, assume_strong: float = 1.0
) -> list[RoutingExample]:
    """Join feedback to spend records by run id: see :meth:`LearnedRouter.fit_from_ledger`."""
    feedback = getattr(ledger, "feedback", None)
    if not callable(feedback):
        msg = (
            f"{type(ledger).__name__} keeps no feedback; use InMemoryLedger or SQLiteLedger "
            "and ledger.record_feedback(run_id, score, prompt=...)"
        )
        raise TypeError(msg)
    tier_of = {r.run_id: r.tier for r in ledger.records() if r.run_id}
    outcomes: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for item in feedback():
        if item.prompt is not None and item.run_id in tier_of:
            outcomes[item.prompt][tier_of[item.run_id]].append(item.score)
    examples = []
    for prompt, by_tier in outcomes.items():
        cheap = [s for tier, scores in by_tier.items() if tier != strong_tier for s in scores]
        if cheap:
            strong = by_tier.get(strong_tier) or [assume_strong]
            quality = {"strong": sum(strong) / len(strong), "weak": sum(cheap) / len(cheap)}
            examples.append(RoutingExample(prompt, quality, category="ledger"))
    if len(examples) < 2:  # noqa: PLR2004 -- a fit needs a spread
        msg = (
            f"only {len(examples)} usable prompt(s) in the ledger: fit_from_ledger needs feedback "
            "with prompt= on calls answered by a tier other than strong_tier="
            f"{strong_tier!r}, whose run_id matches a spend record"
        )
        raise ValueError(msg)
    return examples
