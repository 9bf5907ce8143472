"""Readers of labelled routing data: simple JSONL, RouteLLM CSVs and folders."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from langchain_tiered.routing import RoutingExample, read_jsonl, read_routellm_csv, write_jsonl
from langchain_tiered.routing.datasets import (
    read_arena_hard,
    read_contaminated,
    read_gsm8k,
    read_mmlu,
)
from tests.unit_tests.routing_data import shared_data


def test_jsonl_round_trip(tmp_path: Path) -> None:
    examples = [
        RoutingExample("Wie viele Eier?", {"strong": 1.0, "weak": 0.0}, "math"),
        RoutingExample("Hi", {"gpt-4o": 0.9, "gpt-4o-mini": 0.8}),
    ]
    path = tmp_path / "labels.jsonl"
    write_jsonl(examples, path)
    assert read_jsonl(path) == examples
    assert json.loads(path.read_text(encoding="utf-8").splitlines()[0])["prompt"] == (
        "Wie viele Eier?"  # written as UTF-8, not \\u escapes
    )
    with gzip.open(tmp_path / "labels.jsonl.gz", "wt", encoding="utf-8") as handle:
        handle.write(path.read_text(encoding="utf-8"))
    assert read_jsonl(tmp_path / "labels.jsonl.gz", category="default")[1].category == "default"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "line 2|:2: not JSON"),
        ('{"prompt": "x"}', r":2: expected .*got keys \['prompt'\]"),
        ('{"prompt": "x", "quality": {"strong": "high"}}', ":2: quality values must be numbers"),
    ],
)
def test_bad_jsonl_lines_name_the_line(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"prompt": "ok", "quality": {"strong": 1, "weak": 0}}\n' + line + "\n")
    with pytest.raises(ValueError, match=message):
        read_jsonl(path)


def _csv(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    lines = ["prompt,mistralai/Mixtral-8x7B-Instruct-v0.1,gpt-4-1106-preview"]
    lines += [f'"{p}",{w},{s}' for p, w, s in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_routellm_csv(tmp_path: Path) -> None:
    path = _csv(
        tmp_path / "mmlu_anatomy.csv",
        [("Q1, with a comma", "True", "True"), ("Q2", "False", "True"), ("Q3", "True", "False")],
    )
    examples = read_routellm_csv(path, exclude={"Q3"})
    assert examples == [
        RoutingExample("Q1, with a comma", {"strong": 1.0, "weak": 1.0}, "anatomy"),
        RoutingExample("Q2", {"strong": 1.0, "weak": 0.0}, "anatomy"),
    ]
    with pytest.raises(ValueError, match=r"no column\(s\) \['gpt-5'\]"):
        read_routellm_csv(path, strong="gpt-5")
    bad = _csv(tmp_path / "bad.csv", [("Q", "maybe", "True")])
    with pytest.raises(ValueError, match=r"bad\.csv:2 .*expected True/False, got 'maybe'"):
        read_routellm_csv(bad)


def test_contaminated_prompts_are_dropped_from_folders(tmp_path: Path) -> None:
    folder = tmp_path / "gsm8k"
    folder.mkdir()
    _csv(folder / "gsm8k_responses.csv", [("clean", "True", "True"), ("leaked", "False", "True")])
    (folder / "contaminated_prompts.jsonl").write_text(
        json.dumps({"train_prompt": "similar", "eval_prompt": "leaked"}) + "\n"
    )
    assert read_contaminated(folder / "contaminated_prompts.jsonl") == {"leaked"}
    assert [e.prompt for e in read_gsm8k(folder)] == ["clean"]
    with pytest.raises(ValueError, match="no MMLU rows"):
        read_mmlu(folder)


def test_shared_routellm_sets_read_fully_without_contaminated_prompts() -> None:
    data = shared_data()
    gsm8k = read_gsm8k(data / "gsm8k")
    assert len(gsm8k) == 1319 - 12
    assert {e.category for e in gsm8k} == {"gsm8k"}
    mmlu = read_mmlu(data / "mmlu", subjects=["anatomy", "formal_logic"])
    assert {e.category for e in mmlu} == {"mmlu:anatomy", "mmlu:formal_logic"}
    arena = read_arena_hard(data / "arena-hard" / "arena-bench-v1_mixtral-8x7b_vs_gpt-4-0314.jsonl")
    assert len(arena) == 296
    assert all(0.0 <= e.quality["weak"] <= 1.0 for e in arena)
