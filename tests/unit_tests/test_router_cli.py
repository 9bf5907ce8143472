"""``langchain-tiered router eval | calibrate``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

import pytest
from click.testing import CliRunner, Result

from langchain_tiered.cli import cli
from langchain_tiered.cli.router import write_thresholds
from langchain_tiered.routing import RoutingExample, write_jsonl

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def labels(tmp_path: Path) -> Path:
    path = tmp_path / "labels.jsonl"
    write_jsonl(
        [
            RoutingExample(
                "Beweise, dass es unendlich viele Primzahlen gibt.", {"strong": 1, "weak": 0}
            ),
            RoutingExample("Hallo!", {"strong": 1, "weak": 1}),
            RoutingExample("Write a haiku", {"strong": 1, "weak": 1}),
            RoutingExample(
                "Solve 3x^2 - 12x + 7 = 0 step by step and justify each step.",
                {"strong": 1, "weak": 0},
            ),
        ],
        path,
    )
    return path


def test_eval_prints_metrics_against_random_and_oracle(labels: Path) -> None:
    result = run("router", "eval", labels)
    assert result.exit_code == 0, result.output
    assert "Routing quality on labels.jsonl: 4 prompts" in result.output
    rows = {line.split("│")[1].strip(): line for line in result.output.splitlines() if "│" in line}
    assert "0.750" in rows["complexity"]  # both hard prompts score highest: the oracle order
    assert "0.500" in rows["random"]
    assert "0.750" in rows["oracle"]


def test_eval_json_and_plot(labels: Path, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    plot = tmp_path / "curve.png"
    result = run("router", "eval", labels, "--format", "json", "--plot", plot)
    assert result.exit_code == 0, result.output
    [report] = json.loads(result.stdout)
    assert report["name"] == "complexity"
    assert report["apgr"] == report["oracle_apgr"] == 0.75
    assert report["cpt50"] == 0.25
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_eval_learned_router_from_a_saved_model(labels: Path, tmp_path: Path) -> None:
    pytest.importorskip("numpy")
    from langchain_tiered.routing import HashingEmbeddings, LearnedRouter, read_jsonl

    model = tmp_path / "router.json"
    LearnedRouter.fit(read_jsonl(labels), embeddings=HashingEmbeddings()).save(model)
    result = run("router", "eval", labels, "--router", "complexity", "--router", f"learned:{model}")
    assert result.exit_code == 0, result.output
    assert f"learned:{model}" in result.output.replace("\n", "")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.jsonl"], "no such file"),
        (["{labels}", "--router", "magic"], "--router must be 'complexity' or 'learned:PATH'"),
        (["{labels}", "--router", "learned:/nope.json"], "--router learned:/nope.json"),
        (["{labels}", "--strong", "gpt-5"], "no quality for 'gpt-5'"),
    ],
)
def test_eval_errors_exit_2_with_one_line(labels: Path, args: list[str], message: str) -> None:
    result = run("router", "eval", *[a.format(labels=labels) for a in args])
    assert result.exit_code == 2
    assert message in result.output


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "tiers.toml"
    shutil.copy(EXAMPLES / "tiers.toml", path)
    return path


def test_calibrate_writes_thresholds_into_the_config(config: Path) -> None:
    before = config.read_text()
    result = run(
        "router", "calibrate", EXAMPLES / "prompts.jsonl", "--config", config,
        "--shares", "0.1,0.2,0.3,0.4",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    cuts = tomllib.loads(config.read_text())["router"]["thresholds"]
    assert len(cuts) == 3
    assert cuts == sorted(cuts, reverse=True)
    assert f"thresholds {cuts}" in result.output
    # Only the thresholds line changed; comments and every other table are kept.
    changed = [
        (a, b)
        for a, b in zip(before.splitlines(), config.read_text().splitlines(), strict=True)
        if a != b
    ]
    assert [a for a, _ in changed] == ["thresholds = [0.75, 0.5, 0.25]"]


def test_calibrate_for_a_cost_target_dry_run(config: Path) -> None:
    before = config.read_text()
    result = run(
        "router", "calibrate", EXAMPLES / "prompts.jsonl", "--config", config,
        "--usd-per-1k", "2.5", "--dry-run",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "per 1,000 calls" in result.output
    cost = float(result.output.split("expected cost $")[1].split()[0])
    assert cost <= 2.5
    assert config.read_text() == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--shares", "0.5,0.5"], "--shares has 2 values but"),
        ([], "exactly one of --shares or --usd-per-1k"),
        (["--shares", "a,b"], "comma-separated numbers"),
        (["--shares", "0.5,0.5,0.5,0.5"], "sum to 1"),
    ],
)
def test_calibrate_errors(config: Path, args: list[str], message: str) -> None:
    result = run("router", "calibrate", EXAMPLES / "prompts.jsonl", "--config", config, *args)
    assert result.exit_code == 2
    assert message in result.output


def test_write_thresholds_adds_or_replaces_the_router_table(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[[tiers]]\nname = "a"\n')
    write_thresholds(path, (0.5,))
    assert tomllib.loads(path.read_text())["router"] == {"thresholds": [0.5]}
    path.write_text("[router] # cut-offs\n# keep me\n[budget]\nlimit_usd = 1.0\n")
    write_thresholds(path, (0.7, 0.2))
    data = tomllib.loads(path.read_text())
    assert data == {"router": {"thresholds": [0.7, 0.2]}, "budget": {"limit_usd": 1.0}}
    assert "# keep me" in path.read_text()
