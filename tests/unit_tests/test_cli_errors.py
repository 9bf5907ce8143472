"""Bad input to the batch command and its config ends in one line and exit 2 (issue 10)."""

from __future__ import annotations

import importlib
import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from langchain_tiered.cli import cli
from langchain_tiered.cli.common import CliError
from langchain_tiered.cli.config import load_config

CONFIG = """
[[tiers]]
name = "small"
model = "gpt-4.1-mini"
api_key_env = "H6_TEST_KEY"
price = { input_per_mtok = 1.0, output_per_mtok = 2.0 }
"""
LEAK = "sk-" + "LEAKCANARY" + "123456"  # built at runtime: no key-shaped literal in the repo


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def usage_error(result: Result, *fragments: str) -> str:
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0]
    return lines[0]


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("H6_TEST_KEY", "sk-h6-test-not-a-real-key")
    path = tmp_path / "tiers.toml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


@pytest.fixture
def prompts(tmp_path: Path) -> Path:
    path = tmp_path / "prompts.jsonl"
    path.write_text(json.dumps({"prompt": "hello"}) + "\n", encoding="utf-8")
    return path


def _batch(prompts: Path, config: Path, out: Path | str) -> Result:
    return run("batch", prompts, "--config", config, "--out", out, "--no-progress")


@pytest.mark.parametrize("value", ["inf", "-inf", "+inf"])
def test_an_infinite_budget_limit_is_refused(
    tmp_path: Path, prompts: Path, config: Path, value: str
) -> None:
    config.write_text(CONFIG + f"\n[budget]\nlimit_usd = {value}\n", encoding="utf-8")
    usage_error(_batch(prompts, config, tmp_path / "out.jsonl"), "budget.limit_usd", "finite")
    assert not (tmp_path / "out.jsonl").exists()


def test_infinite_numbers_are_refused_everywhere(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("max_cost_per_call = inf\n" + CONFIG, encoding="utf-8")
    with pytest.raises(CliError, match="max_cost_per_call: must be a finite number"):
        load_config(path)


def test_a_non_utf8_prompt_file_is_one_line(tmp_path: Path, config: Path) -> None:
    bad = tmp_path / "latin1.jsonl"
    bad.write_bytes(
        json.dumps({"prompt": "Gr\u00fc\u00dfe"}).encode("utf-8").replace(b"\\u00fc", b"\xfc")
        + b"\n"
    )
    line = usage_error(_batch(bad, config, tmp_path / "out.jsonl"), "not UTF-8", "0xfc")
    assert "latin1.jsonl" in line


def test_a_non_utf8_config_is_one_line(tmp_path: Path, prompts: Path) -> None:
    bad = tmp_path / "tiers.toml"
    bad.write_bytes(CONFIG.encode("utf-8") + b"# caf\xe9\n")
    usage_error(_batch(prompts, bad, tmp_path / "out.jsonl"), "config", "not UTF-8")


def test_a_missing_out_directory_is_one_line(tmp_path: Path, prompts: Path, config: Path) -> None:
    usage_error(_batch(prompts, config, tmp_path / "nope" / "out.jsonl"), "does not exist")
    assert not (tmp_path / "nope").exists()


def test_a_read_only_out_directory_is_one_line(
    tmp_path: Path, prompts: Path, config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    # chmod alone does not stop root (CI containers), so the access check is what is tested.
    real_access = os.access
    monkeypatch.setattr(
        importlib.import_module("langchain_tiered.cli.batch").os,
        "access",
        lambda p, mode: False if Path(p) == folder else real_access(p, mode),
    )
    usage_error(_batch(prompts, config, folder / "out.jsonl"), "not writable")


def test_dev_full_is_refused_before_anything_is_read(prompts: Path, config: Path) -> None:
    usage_error(_batch(prompts, config, "/dev/full"), "not a regular file")


@pytest.mark.parametrize(
    "snippet",
    [
        f'api_key = "{LEAK}"',
        'openai_api_key = "plain-looking-value"',
        f'options = {{ api_key = "{LEAK}" }}',
        'options = { default_headers = { Authorization = "Bearer abcdefghijklmnop" } }',
        f'base_url = "https://proxy.example/v1?api_key={LEAK}"',
    ],
)
def test_a_key_written_inline_is_refused_pointing_to_api_key_env(
    tmp_path: Path, prompts: Path, config: Path, snippet: str
) -> None:
    config.write_text(CONFIG.replace('name = "small"', f'name = "small"\n{snippet}'))
    line = usage_error(
        _batch(prompts, config, tmp_path / "out.jsonl"), "looks like an API key", "api_key_env"
    )
    assert LEAK not in line
    assert "abcdefghijklmnop" not in line
    assert "plain-looking-value" not in line


def test_token_counts_are_not_mistaken_for_tokens(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    tier = CONFIG.replace('name = "small"', 'name = "small"\nmax_output_tokens = 100')
    path.write_text("max_tokens = 200\n" + tier, encoding="utf-8")
    cfg = load_config(path)
    assert cfg.max_tokens == 200
    assert cfg.tiers[0].max_output_tokens == 100


def test_directories_as_files_are_one_line(tmp_path: Path, prompts: Path, config: Path) -> None:
    usage_error(_batch(prompts, config, tmp_path), "not a regular file")
    usage_error(_batch(tmp_path, config, tmp_path / "out.jsonl"), "cannot read prompt file")
    usage_error(_batch(prompts, tmp_path, tmp_path / "out.jsonl"), "cannot read config")
