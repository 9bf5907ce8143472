"""The CLI end to end against the bundled emulator: ``demo`` and ``batch --emulator``.

When a change to routing, prices or the engine changes what the demo prints, refresh the
README's sample from a real run with ``python tests/integration_tests/test_cli_demo.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from langchain_tiered.cli import cli

pytestmark = pytest.mark.integration


README = Path(__file__).resolve().parents[2] / "README.md"
MARKER = "<!-- demo-output:"


def readme_sample() -> list[list[str]]:
    """The README's demo sample as blocks of consecutive lines (split where it says ``...``)."""
    text = README.read_text(encoding="utf-8")
    body = text[text.index(MARKER) :].split("```\n", 1)[1].split("```", 1)[0]
    blocks: list[list[str]] = [[]]
    for line in body.splitlines():
        if line == "...":
            blocks.append([])
        else:
            blocks[-1].append(line)
    return [b for b in blocks if b]


def run_demo(*args: str) -> str:
    result = CliRunner().invoke(cli, ["demo", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture(scope="module")
def demo_output() -> str:
    return run_demo()


def test_readme_sample_is_the_demo_output(demo_output: str) -> None:
    out = demo_output.splitlines()
    at = 0
    for block in readme_sample():
        # Each block of the sample appears verbatim, in order; "..." only skips whole lines.
        found = next(
            (i for i in range(at, len(out) - len(block) + 1) if out[i : i + len(block)] == block),
            None,
        )
        assert found is not None, (
            "README demo sample differs from `langchain-tiered demo`; refresh it with "
            "`python tests/integration_tests/test_cli_demo.py`. Block not found:\n"
            + "\n".join(block)
        )
        at = found + len(block)
    assert readme_sample()[0][0] == out[0]  # the sample starts where the output starts
    assert readme_sample()[-1][-1] == out[-1]  # ... and ends where it ends


def test_demo_prints_the_same_text_on_every_run(demo_output: str) -> None:
    assert run_demo() == demo_output
    assert " in 0." not in demo_output  # no timing in the output


def test_demo_shows_retries_fallbacks_downgrades_and_savings(demo_output: str) -> None:
    out = demo_output
    assert "v4-pro 503 -> " in out  # the tier that is down
    assert "v3.2 429 -> v3.2 ok" in out  # the injected rate limits, retried
    assert "cooling down" in out  # the breaker keeps the broken tier out
    assert "opus (budget)" in out  # the trial user's analysis is downgraded
    assert "0 failed" in out
    assert "saved $" in out
    assert "Routing quality on " in out  # what the savings cost, next to them
    rows = {line.split()[0]: line for line in out.splitlines() if line[:2].strip().isdigit()}
    assert " opus " in rows["2"]  # the multi-step strategy analysis goes to the top tier


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


# Routing rows the README leaves out ("..."): the sample stays readable, the rest is verbatim.
_ELIDED_ROWS = (range(7, 23), range(32, 40))


def readme_sample_of(output: str) -> str:
    """The README's demo sample cut from a real run: every line, less the elided rows."""
    lines, out, in_routing = output.splitlines(), [], False
    for line in lines:
        in_routing = in_routing or line.startswith("Routing (")
        if in_routing and not line.strip():
            in_routing = False
        number = line[:2].strip()
        elided = next((r for r in _ELIDED_ROWS if number.isdigit() and int(number) in r), None)
        if in_routing and elided is not None:
            if int(number) == elided.start:
                out.append("...")
            continue
        out.append(line)
    return "\n".join(out) + "\n"


def _update_readme() -> None:
    text = README.read_text(encoding="utf-8")
    start = text.index("```\n", text.index(MARKER)) + len("```\n")
    end = text.index("```", start)
    README.write_text(text[:start] + readme_sample_of(run_demo()) + text[end:], encoding="utf-8")


if __name__ == "__main__":
    _update_readme()
