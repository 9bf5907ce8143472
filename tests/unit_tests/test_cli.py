"""The ``langchain-tiered`` command line: estimate, config validation, prompt files, report."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from langchain_tiered import count_tokens
from langchain_tiered.cli import cli, parse_windows
from langchain_tiered.ledger import SpendRecord, SQLiteLedger

SIMPLE_DE = "Liste die Hauptstädte Europas auf"
COMPLEX_DE = (
    "Analysiere und bewerte mehrstufig die Strategie unseres Unternehmens für den "
    "Markteintritt in Asien, begründe jede Annahme"
)
TWO_TIERS = """
[[tiers]]
name = "big"
model = "openai:gpt-4.1"
price = { input_per_mtok = 10.0, output_per_mtok = 20.0 }

[[tiers]]
name = "small"
model = "gpt-4.1-mini"
price = { input_per_mtok = 1.0, output_per_mtok = 2.0 }
"""


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def one_prompt(tmp_path: Path) -> Path:
    return jsonl(tmp_path, {"prompt": SIMPLE_DE})


def jsonl(tmp_path: Path, *lines: Any, name: str = "prompts.jsonl") -> Path:
    text = "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines)
    return write(tmp_path, name, text + "\n")


def assert_usage_error(result: Result, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


# -- estimate ------------------------------------------------------------------------------


def test_estimate_exact_tokens_and_costs(tmp_path: Path) -> None:
    config = write(tmp_path, "tiers.toml", TWO_TIERS)
    prompts = jsonl(tmp_path, {"id": "p1", "prompt": SIMPLE_DE, "max_tokens": 100})
    assert count_tokens(SIMPLE_DE, model="gpt-4.1-mini") == 15
    result = run("estimate", prompts, "--config", config, "--per-month", "1000")
    assert result.exit_code == 0, result.output
    row = next(line for line in result.stdout.splitlines() if " p1 " in line).split()
    # 15 prompt tokens x $1/Mtok + 100 output tokens x $2/Mtok on the routed "small" tier
    assert row[-6:] == ["small", "small", "15", "100", "$0.000215", "$0.000215"]
    # all on big: 15 x $10 + 100 x $20 per Mtok = $0.00215 per call, x 1000 a month
    tco = next(line for line in result.stdout.splitlines() if "all on big" in line).split()
    assert tco[-5:] == ["$0.002150", "$2.150000", "$0.002150", "$2.150000", "10.00x"]
    routed = next(line for line in result.stdout.splitlines() if line.startswith("routed "))
    assert routed.split()[1:3] == ["$0.000215", "$0.215000"]
    assert "no API calls were made" in result.stdout


def test_estimate_mirrors_max_cost_per_call_downgrade(tmp_path: Path) -> None:
    config = write(tmp_path, "tiers.toml", "max_cost_per_call = 0.001\n" + TWO_TIERS)
    prompts = jsonl(tmp_path, {"id": "hard", "prompt": COMPLEX_DE, "max_tokens": 100})
    result = run("estimate", prompts, "--config", config)
    assert result.exit_code == 0, result.output
    row = next(line for line in result.stdout.splitlines() if " hard " in line).split()
    assert row[-6:-4] == ["big", "small"]  # routed to big, whose worst case is over the cap


def test_estimate_sends_nothing_and_needs_no_api_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    config = write(
        tmp_path,
        "tiers.toml",
        TWO_TIERS.replace(
            'model = "openai:gpt-4.1"', 'model = "openai:gpt-4.1"\napi_key_env = "OPENAI_API_KEY"'
        )
        + '\n[ledger]\npath = "spend.db"\n',
    )
    result = run("estimate", one_prompt(tmp_path), "--config", config)
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "spend.db").exists()  # a plan never opens the ledger


# -- prompt files --------------------------------------------------------------------------


def test_malformed_lines_are_reported_skipped_and_counted(tmp_path: Path) -> None:
    config = write(tmp_path, "tiers.toml", TWO_TIERS)
    prompts = jsonl(
        tmp_path,
        json.dumps(SIMPLE_DE),
        "{not json",
        {"id": "x"},
        "[1, 2]",
        {"messages": [{"role": "user", "content": "Explain recursion"}]},
    )
    result = run("estimate", prompts, "--config", config)
    assert result.exit_code == 0, result.output
    assert "prompts.jsonl:2: skipped: invalid JSON" in result.stderr
    assert "prompts.jsonl:3: skipped: needs a non-empty 'prompt'" in result.stderr
    assert "prompts.jsonl:4: skipped: expected a JSON string or object" in result.stderr
    assert "2 prompts planned, 3 malformed line(s) skipped" in result.stdout


def test_file_without_usable_lines_is_a_usage_error(tmp_path: Path) -> None:
    config = write(tmp_path, "tiers.toml", TWO_TIERS)
    result = run("estimate", jsonl(tmp_path, "{bad"), "--config", config)
    assert result.exit_code == 2
    assert "no usable prompt lines (1 malformed)" in result.stderr


def test_missing_prompt_file(tmp_path: Path) -> None:
    config = write(tmp_path, "tiers.toml", TWO_TIERS)
    assert_usage_error(
        run("estimate", tmp_path / "nope.jsonl", "--config", config), "cannot read", "nope.jsonl"
    )


def test_unknown_tier_in_a_prompt_line(tmp_path: Path) -> None:
    config = write(tmp_path, "tiers.toml", TWO_TIERS)
    prompts = jsonl(tmp_path, {"prompt": SIMPLE_DE, "tier": "gold"})
    assert_usage_error(
        run("estimate", prompts, "--config", config), "prompts.jsonl:1:", "unknown tier 'gold'"
    )


# -- config validation ---------------------------------------------------------------------

_TIER = '[[tiers]]\nname = "a"\nmodel = "gpt-4.1"\n'


@pytest.mark.parametrize(
    ("toml", "fragments"),
    [
        (
            _TIER + '[[tiers]]\nname = "b"\nmodel = "gpt-4.1-mini"\n'
            "price = { input_per_mtok = -1.0, output_per_mtok = 1.0 }\n",
            ["tiers.toml: tiers[1].price.input_per_mtok: must be >= 0"],
        ),
        ('[[tiers]]\nname = "a"\nmodle = "gpt-4.1"\n', ["tiers.toml: tiers[0].modle: unknown key"]),
        ('[[tiers]]\nname = "a"\n', ["tiers.toml: tiers[0].model: is required"]),
        (
            _TIER + 'fallbacks = ["nope"]\n',
            ["tiers.toml: tiers[0].fallbacks[0]: unknown tier 'nope'; tiers are: a"],
        ),
        ('refusal_tier = "gold"\n' + _TIER, ["tiers.toml: refusal_tier: unknown tier 'gold'"]),
        (_TIER + _TIER, ["tiers.toml: tiers[1].name: duplicate tier name 'a'"]),
        (
            _TIER + "[router]\nthresholds = [0.5]\n",
            ["tiers.toml: router.thresholds: needs 0 values"],
        ),
        (
            _TIER + '[budget]\nlimit_usd = 1.0\nperiod = "week"\n',
            ["tiers.toml: budget.period: must be 'day', 'month' or 'none'"],
        ),
        (_TIER + '[budget]\nperiod = "day"\n', ["tiers.toml: budget.limit_usd: is required"]),
        ("max_cost_per_call = 0\n" + _TIER, ["tiers.toml: max_cost_per_call: must be > 0"]),
        ('on_budget_exceeded = "panic"\n' + _TIER, ["tiers.toml: on_budget_exceeded: must be"]),
        ("[[tiers]\n", ["tiers.toml: invalid TOML"]),
        ("", ["tiers.toml: tiers: at least one [[tiers]] entry is required"]),
        (
            '[[tiers]]\nname = "a"\nmodel = "my-private-model"\n',
            ["tiers.toml: tiers:", "No price known for model 'my-private-model'"],
        ),
        (
            '[[tiers]]\nname = "a"\nmodel = "x"\nprovider = "no_such_pkg.Chat"\n',
            ["tiers.toml: tiers[0].provider: cannot import 'no_such_pkg.Chat'"],
        ),
    ],
)
def test_config_errors_name_file_and_key(tmp_path: Path, toml: str, fragments: list[str]) -> None:
    config = write(tmp_path, "tiers.toml", toml)
    assert_usage_error(run("estimate", one_prompt(tmp_path), "--config", config), *fragments)


def test_missing_config_file(tmp_path: Path) -> None:
    result = run("estimate", one_prompt(tmp_path), "--config", tmp_path / "x.toml")
    assert_usage_error(result, "cannot read config", "x.toml")


def test_provider_class_path_builds_the_tier(tmp_path: Path) -> None:
    config = write(
        tmp_path,
        "tiers.toml",
        TWO_TIERS.replace(
            'model = "gpt-4.1-mini"',
            'model = "gpt-4.1-mini"\nprovider = "langchain_openai.ChatOpenAI"',
        ),
    )
    assert run("estimate", one_prompt(tmp_path), "--config", config).exit_code == 0


def test_missing_api_key_names_the_variable_and_never_prints_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-very-secret-value")
    monkeypatch.delenv("DEEPSEEK_API_KEY", raising=False)
    config = write(
        tmp_path,
        "tiers.toml",
        TWO_TIERS.replace(
            'model = "openai:gpt-4.1"', 'model = "openai:gpt-4.1"\napi_key_env = "OPENAI_API_KEY"'
        ).replace(
            'model = "gpt-4.1-mini"', 'model = "gpt-4.1-mini"\napi_key_env = "DEEPSEEK_API_KEY"'
        ),
    )
    result = run("batch", one_prompt(tmp_path), "--config", config, "--out", tmp_path / "out.jsonl")
    assert_usage_error(
        result, "tiers.toml: tiers[1].api_key_env: environment variable DEEPSEEK_API_KEY is not set"
    )
    assert "sk-very-secret-value" not in result.output
    assert not (tmp_path / "out.jsonl").exists()


# -- report --------------------------------------------------------------------------------

T0 = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def ledger_path(tmp_path: Path) -> Path:
    path = tmp_path / "spend.db"
    records = [
        SpendRecord(
            time=T0,
            tier="big",
            model="gpt-4.1",
            input_tokens=100,
            output_tokens=50,
            cost_usd=0.002,
            baseline_cost_usd=0.002,
            budget_keys=("budget:global",),
        ),
        SpendRecord(
            time=T0 + timedelta(hours=1),
            tier="small",
            model="gpt-4.1-mini",
            input_tokens=100,
            output_tokens=50,
            cost_usd=0.0002,
            baseline_cost_usd=0.002,
        ),
        SpendRecord(
            time=T0 + timedelta(days=1),
            tier="small",
            model="gpt-4.1-mini",
            input_tokens=10,
            output_tokens=5,
            cost_usd=0.0001,
            baseline_cost_usd=0.001,
        ),
    ]
    with SQLiteLedger(path) as ledger:
        for record in records:
            ledger.record(record)
    return path


def test_report_json(ledger_path: Path) -> None:
    result = run("report", "--ledger", ledger_path, "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["calls"] == 3
    assert data["total_cost_usd"] == pytest.approx(0.0023)
    assert data["baseline_cost_usd"] == pytest.approx(0.005)
    assert {row["group"]: row["calls"] for row in data["rows"]} == {"big": 1, "small": 2}


def test_report_csv_by_day_since(ledger_path: Path) -> None:
    result = run(
        "report", "--ledger", ledger_path, "--format", "csv", "--by", "day", "--since", "2026-11-29"
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith("day,")
    assert len(lines) == 2
    assert lines[1].startswith("2026-11-29,1,")


def test_report_table(ledger_path: Path) -> None:
    result = run("report", "--ledger", ledger_path, "--by", "model")
    assert result.exit_code == 0, result.output
    assert "gpt-4.1-mini" in result.stdout
    assert "$0.002300" in result.stdout  # total cost
    assert "$0.002700" in result.stdout  # savings against the top tier


def test_report_errors(tmp_path: Path, ledger_path: Path) -> None:
    assert_usage_error(run("report", "--ledger", tmp_path / "missing.db"), "does not exist")
    assert not (tmp_path / "missing.db").exists()
    assert_usage_error(
        run("report", "--ledger", ledger_path, "--since", "last tuesday"),
        "--since: expected an ISO date/time",
    )


def test_parse_since_durations() -> None:
    from langchain_tiered.cli.report import parse_since

    assert parse_since("7d", now=T0) == T0 - timedelta(days=7)
    assert parse_since("12h", now=T0) == T0 - timedelta(hours=12)
    assert parse_since("2026-11-28") == datetime(2026, 11, 28, tzinfo=timezone.utc)
    assert parse_since(None) is None


# -- emulator, entry points, import weight ------------------------------------------------


def test_emulator_options_reach_serve(monkeypatch: pytest.MonkeyPatch) -> None:
    import langchain_tiered.testing

    calls: list[tuple[Any, ...]] = []
    monkeypatch.setattr(
        langchain_tiered.testing, "serve", lambda *args, **kwargs: calls.append((args, kwargs))
    )
    result = run(
        "emulator",
        "--port",
        "0",
        "--host",
        "127.0.0.2",
        "--context-window",
        "gpt-4o=1000",
        "--context-window",
        "a=b=5",
    )
    assert result.exit_code == 0, result.output
    assert calls == [((0, "127.0.0.2"), {"context_windows": {"gpt-4o": 1000, "a=b": 5}})]


def test_emulator_rejects_bad_options() -> None:
    assert run("emulator", "--port", "70000").exit_code == 2
    result = run("emulator", "--context-window", "gpt-4o")
    assert result.exit_code == 2
    assert "expected MODEL=TOKENS" in result.stderr
    with pytest.raises(Exception, match="MODEL=TOKENS"):
        parse_windows(["m=0"])


def test_python_dash_m_help() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "langchain_tiered", "--help"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    for command in ("demo", "estimate", "batch", "report", "emulator"):
        assert command in out


def test_cli_imports_stay_light() -> None:
    code = (
        "import sys, langchain_tiered, langchain_tiered.cli\n"
        "heavy = [m for m in ('rich', 'langchain_openai', 'tiktoken', 'aiohttp',"
        " 'langchain_tiered.chat_models') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert out.strip() == ""


def test_report_plot(ledger_path: Path, tmp_path: Path) -> None:
    chart = tmp_path / "daily.png"
    result = run("report", "--ledger", ledger_path, "--plot", chart)
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert_usage_error(result, "matplotlib")
    else:
        assert result.exit_code == 0, result.output
        assert chart.stat().st_size > 0


def test_group_help_names_only_real_commands() -> None:
    import re

    result = run("--help")
    assert result.exit_code == 0
    description = result.stdout.split("Options:")[0]
    named = set(re.findall(r"`([a-z-]+)`", description))
    assert named, description
    assert named <= set(cli.commands), named - set(cli.commands)  # type: ignore[attr-defined]
    assert {"demo", "estimate", "batch", "report"} <= named


@pytest.mark.parametrize(
    "args",
    [
        ["estimate", "x.jsonl"],  # --config missing
        ["estimate", "x.jsonl", "--config", "c.toml", "--per-month", "0"],
        ["estimate", "x.jsonl", "--config", "c.toml", "--format", "xml"],
        ["report", "--ledger", "x.db", "--by", "week"],
        ["report"],
        ["no-such-command"],
    ],
)
def test_usage_errors_are_one_line(args: list[str]) -> None:
    assert_usage_error(run(*args), "Error: ", "--help")
