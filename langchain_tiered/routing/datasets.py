"""Readers for labelled routing data: a simple JSONL and RouteLLM's evaluation files.

* Simple JSONL, one object a line: ``{"prompt": ..., "quality": {"strong": 1, "weak": 0},
  "category": ...}`` -- what you write from your own traffic (:func:`write_jsonl`). The
  arena-hard files in RouteLLM-style shared data use this form too.
* RouteLLM CSVs (GSM8K, MMLU per subject): a ``prompt`` column, then per model a
  ``True``/``False`` correctness column (and, for GSM8K, the model's response). Read with
  :func:`read_routellm_csv`, or a whole folder with :func:`read_gsm8k` / :func:`read_mmlu`,
  which drop the prompts listed in ``contaminated_prompts.jsonl`` (they overlap RouteLLM's
  training data; reported numbers must leave them out).
"""

from __future__ import annotations

import csv
import gzip
import json
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

from langchain_tiered.routing.evaluate import RoutingExample

__all__ = [
    "ROUTELLM_STRONG",
    "ROUTELLM_WEAK",
    "read_arena_hard",
    "read_contaminated",
    "read_gsm8k",
    "read_jsonl",
    "read_mmlu",
    "read_routellm_csv",
    "write_jsonl",
]

ROUTELLM_STRONG = "gpt-4-1106-preview"
"""Strong model column in RouteLLM's GSM8K and MMLU files."""
ROUTELLM_WEAK = "mistralai/Mixtral-8x7B-Instruct-v0.1"
"""Weak model column in RouteLLM's GSM8K and MMLU files."""

_TRUTH = {"true": 1.0, "false": 0.0, "1": 1.0, "0": 0.0}


def _open(path: Path) -> TextIO:
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return path.open(encoding="utf-8")


def _json_lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with _open(path) as handle:
        for number, line in enumerate(handle, 1):
            if line.strip():
                try:
                    yield number, json.loads(line)
                except json.JSONDecodeError as exc:
                    msg = f"{path}:{number}: not JSON ({exc.msg}); write one object per line"
                    raise ValueError(msg) from None


def read_jsonl(path: str | Path, *, category: str | None = None) -> list[RoutingExample]:
    """Read ``{"prompt", "quality", "category"?}`` lines (``.gz`` is fine).

    Args:
        path: The file.
        category: Category for lines that have none.

    Raises:
        ValueError: A line is not JSON, has no ``prompt`` string or no ``quality`` mapping of
            numbers; the message names the line.
    """
    path = Path(path)
    out = []
    for number, row in _json_lines(path):
        prompt, quality = row.get("prompt"), row.get("quality")
        if not isinstance(prompt, str) or not isinstance(quality, dict):
            msg = (
                f'{path}:{number}: expected {{"prompt": str, "quality": {{tier: score}}}}, '
                f"got keys {sorted(row)}"
            )
            raise ValueError(msg)
        try:
            scores = {str(k): float(v) for k, v in quality.items()}
        except (TypeError, ValueError):
            msg = f"{path}:{number}: quality values must be numbers, got {quality!r}"
            raise ValueError(msg) from None
        out.append(RoutingExample(prompt, scores, row.get("category") or category))
    return out


def write_jsonl(examples: Iterable[RoutingExample], path: str | Path) -> None:
    """Write ``examples`` in the form :func:`read_jsonl` reads."""
    with Path(path).open("w", encoding="utf-8") as handle:
        for example in examples:
            handle.write(json.dumps(example.to_dict(), ensure_ascii=False) + "\n")


def read_contaminated(path: str | Path) -> frozenset[str]:
    """Prompts listed in a RouteLLM ``contaminated_prompts.jsonl`` (its ``eval_prompt``)."""
    return frozenset(str(row["eval_prompt"]) for _, row in _json_lines(Path(path)))


def _truth(value: str, where: str) -> float:
    try:
        return _TRUTH[value.strip().lower()]
    except KeyError:
        msg = f"{where}: expected True/False, got {value!r}"
        raise ValueError(msg) from None


def read_routellm_csv(
    path: str | Path,
    *,
    strong: str = ROUTELLM_STRONG,
    weak: str = ROUTELLM_WEAK,
    category: str | None = None,
    exclude: Iterable[str] = (),
) -> list[RoutingExample]:
    """Read one RouteLLM CSV; qualities come out as ``{"strong": 0/1, "weak": 0/1}``.

    Args:
        path: The CSV file.
        strong: Column of the strong model.
        weak: Column of the weak model.
        category: Category for every row (default: the file name without ``mmlu_``).
        exclude: Prompts to drop (e.g. :func:`read_contaminated`).

    Raises:
        ValueError: A column is missing (the message lists those present) or a cell is not
            True/False.
    """
    path = Path(path)
    skip = frozenset(exclude)
    category = category or path.stem.removeprefix("mmlu_")
    # GSM8K rows carry whole model responses; the default field limit (128 KiB) is too small.
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {"prompt", strong, weak} - set(reader.fieldnames or ())
        if missing:
            msg = f"{path}: no column(s) {sorted(missing)}; columns are {reader.fieldnames}"
            raise ValueError(msg)
        return [
            RoutingExample(
                row["prompt"],
                {
                    "strong": _truth(row[strong], f"{path}:{i} {strong}"),
                    "weak": _truth(row[weak], f"{path}:{i} {weak}"),
                },
                category,
            )
            for i, row in enumerate(reader, 2)
            if row["prompt"] not in skip
        ]


def _contaminated(folder: Path) -> frozenset[str]:
    path = folder / "contaminated_prompts.jsonl"
    return read_contaminated(path) if path.exists() else frozenset()


def read_gsm8k(folder: str | Path) -> list[RoutingExample]:
    """GSM8K from a RouteLLM ``gsm8k`` folder, contaminated prompts dropped."""
    folder = Path(folder)
    return read_routellm_csv(
        folder / "gsm8k_responses.csv", category="gsm8k", exclude=_contaminated(folder)
    )


def read_mmlu(folder: str | Path, subjects: Iterable[str] | None = None) -> list[RoutingExample]:
    """MMLU from a RouteLLM ``mmlu`` folder (``responses/mmlu_<subject>.csv``).

    Args:
        folder: The ``mmlu`` folder.
        subjects: Only these subjects (default: all); the category is ``mmlu:<subject>``.
    """
    folder = Path(folder)
    skip = _contaminated(folder)
    wanted = None if subjects is None else set(subjects)
    out: list[RoutingExample] = []
    for path in sorted((folder / "responses").glob("mmlu_*.csv")):
        subject = path.stem.removeprefix("mmlu_")
        if wanted is None or subject in wanted:
            out += read_routellm_csv(path, category=f"mmlu:{subject}", exclude=skip)
    if not out:
        msg = f"{folder}: no MMLU rows found under responses/mmlu_*.csv (subjects={subjects})"
        raise ValueError(msg)
    return out


def read_arena_hard(path: str | Path) -> list[RoutingExample]:
    """Arena-hard judge labels (the simple JSONL form with ``quality.strong``/``weak``)."""
    return read_jsonl(path, category="arena-hard")
