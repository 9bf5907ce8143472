"""Closed-form fitting and prediction for :class:`~langchain_tiered.routing.LearnedRouter`.

Plain functions over numpy arrays (``xp`` is the numpy module, passed in so importing this
module never imports numpy). ``params`` is the router's plain-data model: ``kind``, ``bias``
and either ridge ``weights``/``mean`` or kNN ``vectors``/``gains``/``k``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

__all__ = ["KINDS", "fit_arrays", "predict", "predict_many", "score_mapping"]

KINDS = ("ridge", "knn")


def fit_arrays(
    xp: Any, x: np.ndarray, y: np.ndarray, *, kind: str, alpha: float, k: int
) -> dict[str, Any]:
    base = {"kind": kind, "n_train": len(y), "bias": float(y.mean())}
    if kind == "ridge":
        mean = x.mean(axis=0)
        xc = x - mean
        # Closed form through the smaller Gram matrix (n x n when n < d): w = X'(XX' + aI)^-1 y.
        yc = y - y.mean()
        if len(y) < x.shape[1]:
            weights = xc.T @ xp.linalg.solve(xc @ xc.T + alpha * xp.eye(len(y)), yc)
        else:
            weights = xp.linalg.solve(xc.T @ xc + alpha * xp.eye(x.shape[1]), xc.T @ yc)
        return base | {"weights": weights, "mean": mean}
    if kind == "knn":
        if k < 1:
            msg = f"k must be at least 1, got {k}"
            raise ValueError(msg)
        norms = xp.linalg.norm(x, axis=1, keepdims=True)
        return base | {
            "k": int(k),
            "vectors": (x / xp.maximum(norms, 1e-12)).astype(xp.float32),
            "gains": y,
        }
    msg = f"kind must be one of {KINDS}, got {kind!r}"
    raise ValueError(msg)


def predict(xp: Any, params: Mapping[str, Any], vector: np.ndarray) -> float:
    if params["kind"] == "ridge":
        return float(params["bias"] + (vector - params["mean"]) @ params["weights"])
    vectors, gains = params["vectors"], params["gains"]
    k = min(int(params["k"]), len(gains))
    similarity = vectors @ (vector / max(float(xp.linalg.norm(vector)), 1e-12))
    nearest = xp.argpartition(-similarity, k - 1)[:k]
    return float(gains[nearest].mean())


def predict_many(xp: Any, params: Mapping[str, Any], rows: np.ndarray) -> Any:
    """:func:`_predict` for many rows at once (matrix products, in chunks for kNN)."""
    if params["kind"] == "ridge":
        return params["bias"] + (rows - params["mean"]) @ params["weights"]
    vectors, gains = params["vectors"], params["gains"]
    k = min(int(params["k"]), len(gains))
    norms = xp.maximum(xp.linalg.norm(rows, axis=1, keepdims=True), 1e-12)
    out = xp.empty(len(rows))
    for start in range(0, len(rows), 512):  # bounds the similarity matrix to 512 x n_train
        similarity = (rows[start : start + 512] / norms[start : start + 512]) @ vectors.T
        nearest = xp.argpartition(-similarity, k - 1, axis=1)[:, :k]
        out[start : start + 512] = gains[nearest].mean(axis=1)
    return out


def score_mapping(xp: Any, params: Mapping[str, Any], x: np.ndarray) -> dict[str, float]:
    """Centre the logistic on the median training prediction, scaled by their spread."""
    predictions = predict_many(xp, params, x)
    return {"center": float(xp.median(predictions)), "scale": max(float(predictions.std()), 1e-6)}
