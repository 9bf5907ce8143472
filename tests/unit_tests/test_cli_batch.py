"""``langchain-tiered batch``: resume by content, locked output, unknown outcomes, masked keys.

The command's model is swapped for fake tiers (no sockets); everything else is the real CLI.
"""

from __future__ import annotations

import importlib
import json
import warnings
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from langchain_core.exceptions import ModelAuthenticationError
from langchain_core.messages import AIMessage, BaseMessage
from pydantic import SecretStr

from langchain_tiered import Budget, InMemoryLedger, Tier, TieredChatModel
from langchain_tiered.batch.items import make_jobs
from langchain_tiered.batch.plan import model_fingerprint
from langchain_tiered.batch.store import JsonlStore
from langchain_tiered.cli import cli
from tests.unit_tests.fakes import PRICES, FakeTier

CONFIG = """
[[tiers]]
name = "budget"
model = "gpt-4.1-mini"
price = { input_per_mtok = 1.0, output_per_mtok = 2.0 }
"""
LEAK = "sk-" + "LEAKCANARY" + "123456"
CUSTOM_SECRET = "custom-token-only-known-from-config-7"


class Echo(FakeTier):
    """Answers with its prompt; prompts starting with "fail" raise an error echoing the key."""

    api_key: SecretStr | None = None

    def _next(self, messages: list[BaseMessage], kwargs: dict[str, Any]) -> AIMessage:
        with self._lock:
            self._calls.append({"messages": messages, "kwargs": dict(kwargs)})
        text = str(messages[-1].content)
        if text.startswith("fail"):
            raise ModelAuthenticationError(f"Incorrect API key provided: {LEAK} {CUSTOM_SECRET}")
        return AIMessage(content=f"echo: {text}")


@pytest.fixture
def echo(monkeypatch: pytest.MonkeyPatch) -> Echo:
    model = Echo(model_name="echo", api_key=SecretStr(CUSTOM_SECRET))

    def build(cfg: Any, **_: Any) -> TieredChatModel:
        return TieredChatModel(tiers=[Tier(name="budget", model=model, price=PRICES["budget"])])

    # The package attribute "batch" is the click command, so patch the module itself.
    monkeypatch.setattr(importlib.import_module("langchain_tiered.cli.batch"), "build_model", build)
    return model


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "tiers.toml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


def _prompts(tmp_path: Path, *lines: Any) -> Path:
    path = tmp_path / "prompts.jsonl"
    path.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    return path


def _batch(prompts: Path, config: Path, out: Path, *extra: str) -> Result:
    args = ["batch", str(prompts), "--config", str(config), "--out", str(out), "--no-progress"]
    return CliRunner().invoke(cli, [*args, *extra], catch_exceptions=False)


def _stored(out: Path) -> dict[str, str]:
    """Answer content by the prompt it answered (the echo shows which prompt that was)."""
    lines = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    return {line["content"].removeprefix("echo: "): line["content"] for line in lines}


def test_inserting_a_line_at_the_top_never_gives_a_prompt_another_answer(
    tmp_path: Path, config: Path, echo: Echo
) -> None:
    out = tmp_path / "out.jsonl"
    assert _batch(_prompts(tmp_path, "p0", "p1"), config, out).exit_code == 0
    result = _batch(_prompts(tmp_path, "inserted", "p0", "p1"), config, out)
    assert result.exit_code == 0, result.output
    assert "3 items: 3 ok, 0 failed, 2 resumed" in result.stdout
    assert len(echo.calls) == 3  # only the inserted prompt was sent
    assert all(prompt == content.removeprefix("echo: ") for prompt, content in _stored(out).items())


def test_a_reused_id_with_another_prompt_warns_on_one_line(
    tmp_path: Path, config: Path, echo: Echo
) -> None:
    out = tmp_path / "out.jsonl"
    _batch(_prompts(tmp_path, {"id": "q1", "prompt": "old"}), config, out)
    result = _batch(_prompts(tmp_path, {"id": "q1", "prompt": "new"}), config, out)
    assert result.exit_code == 0, result.output
    warnings = [x for x in result.stderr.splitlines() if x.startswith("warning:")]
    assert len(warnings) == 1
    assert "'q1'" in warnings[0]
    assert len(echo.calls) == 2


def test_a_second_run_on_the_same_out_refuses_with_exit_2(
    tmp_path: Path, config: Path, echo: Echo
) -> None:
    out = tmp_path / "out.jsonl"
    holder = JsonlStore(out)
    holder.open()
    try:
        result = _batch(_prompts(tmp_path, "p0"), config, out)
    finally:
        holder.close()
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        f"Error: another batch is writing to {out}; wait for it to finish or choose another "
        "output file"
    ]
    assert echo.calls == []


def test_items_in_flight_when_killed_are_reported_and_resent_only_on_request(
    tmp_path: Path, config: Path, echo: Echo
) -> None:
    out = tmp_path / "out.jsonl"
    prompts = _prompts(tmp_path, "p0", "p1")
    assert _batch(prompts, config, out).exit_code == 0
    # What `kill -9` leaves behind: p2 logged as sent, its answer never written.
    _prompts(tmp_path, "p0", "p1", "p2")
    model = TieredChatModel(tiers=[Tier(name="budget", model=echo, price=PRICES["budget"])])
    job = make_jobs(["p0", "p1", "p2"], "id", "input", model_fingerprint(model))[2]
    entry = {"key": job.key, "index": 2, "id": 2, "input_hash": job.input_hash, "send_id": "x"}
    Path(f"{out}.inflight").write_text(json.dumps(entry) + "\n", encoding="utf-8")

    result = _batch(prompts, config, out)
    assert result.exit_code == 1
    assert "1 item(s) were sent by an earlier run" in result.stdout
    assert "--resend-unknown" in result.stdout
    assert len(echo.calls) == 2  # p2 not sent again

    result = _batch(prompts, config, out, "--resend-unknown")
    assert result.exit_code == 0, result.output
    assert len(echo.calls) == 3
    assert not Path(f"{out}.inflight").exists()


def test_keys_are_masked_in_the_summary_and_the_jsonl(
    tmp_path: Path, config: Path, echo: Echo
) -> None:
    out = tmp_path / "out.jsonl"
    result = _batch(_prompts(tmp_path, "fail please", "fine"), config, out)
    assert result.exit_code == 1
    everything = result.output + out.read_text(encoding="utf-8")
    assert "failed line-1: ModelAuthenticationError" in result.stdout
    assert LEAK not in everything
    assert CUSTOM_SECRET not in everything
    assert "[REDACTED]" in result.stdout


def test_a_write_failure_mid_run_stops_with_one_error_line_and_exit_1(
    tmp_path: Path, config: Path, echo: Echo, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(store: JsonlStore, line: dict[str, Any]) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(JsonlStore, "append", full)
    out = tmp_path / "out.jsonl"
    result = _batch(_prompts(tmp_path, "p0", "p1", "p2"), config, out, "--concurrency", "1")
    assert result.exit_code == 1
    errors = [x for x in result.stderr.splitlines() if x.startswith("error:")]
    assert len(errors) == 1
    assert "No space left on device" in errors[0]
    assert "1 of them" in errors[0]
    assert len(echo.calls) == 1  # stopped after the first unwritable answer
    assert "Traceback" not in result.output
    assert "Batch by tier" in result.stdout  # what was paid for before the stop is shown


class Warns(Echo):
    """Echo that issues a warning of another library on every call."""

    def _next(self, messages: list[BaseMessage], kwargs: dict[str, Any]) -> AIMessage:
        warnings.warn("a library's own warning", UserWarning, stacklevel=1)
        return super()._next(messages, kwargs)


def test_warnings_of_the_run_are_printed_once_each_and_the_command_ends(
    tmp_path: Path, config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Showing the recorded warnings used to re-record them while iterating the same list:
    # the command never ended and grew until the OOM killer stopped it.
    model = Warns(model_name="echo")
    per_user = Budget(limit_usd=1.0, scope="budget_key", ledger=InMemoryLedger())

    def build(cfg: Any, **_: Any) -> TieredChatModel:
        tier = Tier(name="budget", model=model, price=PRICES["budget"])
        return TieredChatModel(tiers=[tier], budget=per_user)

    monkeypatch.setattr(importlib.import_module("langchain_tiered.cli.batch"), "build_model", build)
    result = _batch(_prompts(tmp_path, "p0"), config, tmp_path / "out.jsonl")
    assert result.exit_code == 0, result.output
    ours = [x for x in result.stderr.splitlines() if x.startswith("warning: Budget 'budget'")]
    assert len(ours) == 1  # BudgetKeyWarning (no budget_key), one masked line
    assert result.stderr.count("UserWarning: a library's own warning") == 1
    assert len(model.calls) == 1
