"""The CLI end to end against the bundled emulator: ``demo`` and ``batch --emulator``."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from langchain_tiered.cli import cli

pytestmark = pytest.mark.integration


def test_demo_runs_offline_and_reports_savings_and_fallbacks() -> None:
    started = time.perf_counter()
    result = CliRunner().invoke(cli, ["demo"], catch_exceptions=False)
    elapsed = time.perf_counter() - started
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert elapsed < 60
    assert "Routing" in out
    assert "Fallbacks, retries and downgrades" in out
    assert "503 OpenAIAPIError" in out  # the tier that is down
    assert "429 OpenAIRateLimitError" in out  # the injected rate limits
    assert "savings" in out
    assert "0 failed" in out
    # the three seed cases are routed to three different tiers
    rows = {line.split("│")[1].strip(): line for line in out.splitlines() if "│" in line}
    assert "opus" in rows["2"]
    assert "v3.2" in rows["0"]
    assert "v4-pro" in rows["1"]


def test_batch_with_emulator_writes_and_resumes(tmp_path: Path) -> None:
    config = tmp_path / "tiers.toml"
    config.write_text(
        '[[tiers]]\nname = "big"\nmodel = "gpt-4.1"\n'
        '[[tiers]]\nname = "small"\nmodel = "gpt-4.1-mini"\n',
        encoding="utf-8",
    )
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text(
        "\n".join(
            [
                json.dumps({"id": "a", "prompt": "Liste die Hauptstädte Europas auf"}),
                "{broken",
                json.dumps(
                    {"id": "b", "prompt": "Analysiere und bewerte mehrstufig die Strategie"}
                ),
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    out = tmp_path / "results.jsonl"
    args = [
        "batch",
        str(prompts),
        "--config",
        str(config),
        "--out",
        str(out),
        "--emulator",
        "--no-progress",
    ]
    first = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert first.exit_code == 0, first.output
    assert "2 items: 2 ok, 0 failed, 0 resumed" in first.stdout
    assert "1 malformed line(s) skipped" in first.stdout
    assert "prompts.jsonl:2: skipped: invalid JSON" in first.stderr
    assert {json.loads(line)["id"] for line in out.read_text().splitlines()} == {"a", "b"}
    second = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert second.exit_code == 0, second.output
    assert "2 items: 2 ok, 0 failed, 2 resumed" in second.stdout


def test_demo_takes_prices_from_config(tmp_path: Path) -> None:
    config = tmp_path / "prices.toml"
    config.write_text(
        '[prices."claude-opus-4-6"]\ninput_per_mtok = 7.5\noutput_per_mtok = 37.5\n',
        encoding="utf-8",
    )
    result = CliRunner().invoke(
        cli, ["demo", "--config", str(config), "--rate-limits", "0"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    opus = next(line for line in result.stdout.splitlines() if "claude-opus-4-6" in line)
    assert "7.5" in opus
    assert "37.5" in opus
