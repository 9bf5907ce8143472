"""Batch resume never attaches an answer to another prompt, never bills twice (issue 10).

Covers: content-keyed items without ids, ids reused with another input, model-config changes,
two runs on one output file, non-regular output files, write failures mid-batch.
"""

from __future__ import annotations

import asyncio
import errno
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from langchain_core.exceptions import ModelAuthenticationError
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from pydantic import SecretStr

from langchain_tiered.batch import (
    BatchInputChangedWarning,
    BatchOutputError,
    BatchResult,
    BatchWriteError,
    OutcomeUnknownError,
    arun_batch,
    run_batch,
)
from langchain_tiered.batch import items as items_module
from langchain_tiered.batch.items import content_hash
from langchain_tiered.batch.plan import model_fingerprint
from langchain_tiered.batch.store import JsonlStore
from tests.unit_tests.fakes import FakeTier


class Echo(FakeTier):
    """Answers with the prompt it was given, so a misattached answer is visible."""

    temperature: float = 0.0
    api_key: SecretStr | None = None

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_name": self.model_name, "temperature": self.temperature}

    def _next(self, messages: list[BaseMessage], kwargs: dict[str, Any]) -> AIMessage:
        with self._lock:
            self._calls.append({"messages": messages, "kwargs": dict(kwargs)})
        text = str(messages[-1].content)
        if text.startswith("fail"):
            key = self.api_key.get_secret_value() if self.api_key else ""
            raise ModelAuthenticationError(f"401 invalid key {key} (Bearer {key})")
        return AIMessage(content=f"echo: {text}")


@pytest.fixture(params=["sync", "async"])
def run(request: pytest.FixtureRequest) -> Callable[..., BatchResult]:
    if request.param == "sync":
        return run_batch
    return lambda *a, **kw: asyncio.run(arun_batch(*a, **kw))


def _answers(result: BatchResult) -> list[str]:
    return [str(r.output.content) if r.output else "" for r in result.results]


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]


def test_inserting_a_prompt_at_the_top_never_shifts_answers(
    run: Callable[..., BatchResult], tmp_path: Path
) -> None:
    out = tmp_path / "out.jsonl"
    model = Echo()
    run(model, ["p0", "p1", "p2"], output=out)
    again = run(model, ["new", "p0", "p1", "p2", "p1"], output=out)
    assert _answers(again) == ["echo: new", "echo: p0", "echo: p1", "echo: p2", "echo: p1"]
    assert [r.skipped_resumed for r in again.results] == [False, True, True, True, False]
    assert len(model.calls) == 3 + 2  # the new prompt and the second "p1"


def test_identical_prompts_without_ids_each_get_their_own_answer(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    model = Echo()
    first = run_batch(model, ["same", "same"], output=out)
    assert first.stats.successes == 2
    again = run_batch(model, ["same", "same", "same"], output=out)
    assert [r.skipped_resumed for r in again.results] == [True, True, False]


def test_an_id_reused_with_another_input_warns_and_runs_again(
    run: Callable[..., BatchResult], tmp_path: Path
) -> None:
    out = tmp_path / "out.jsonl"
    model = Echo()
    run(model, [{"id": "q1", "input": "old"}, {"id": "q2", "input": "same"}], output=out)
    with pytest.warns(BatchInputChangedWarning, match=r"1 id\(s\).*'q1'"):
        again = run(
            model, [{"id": "q1", "input": "new"}, {"id": "q2", "input": "same"}], output=out
        )
    assert _answers(again) == ["echo: new", "echo: same"]
    assert [r.skipped_resumed for r in again.results] == [False, True]
    third = run(model, [{"id": "q1", "input": "new"}], output=out)  # the newest line wins
    assert third.results[0].skipped_resumed
    assert _answers(third) == ["echo: new"]


def test_item_metadata_is_part_of_the_key(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    model = Echo()
    run_batch(model, [{"input": "x", "metadata": {"tier": "critical"}}], output=out)
    again = run_batch(model, [{"input": "x", "metadata": {"tier": "budget"}}], output=out)
    assert not again.results[0].skipped_resumed


def test_a_changed_model_config_reruns_items_without_ids(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    run_batch(Echo(temperature=0.0), ["a"], output=out)
    assert run_batch(Echo(temperature=0.0), ["a"], output=out).results[0].skipped_resumed
    hotter = Echo(temperature=0.9)
    assert not run_batch(hotter, ["a"], output=out).results[0].skipped_resumed
    assert model_fingerprint(Echo(temperature=0.0)) != model_fingerprint(hotter)
    # Stable across instances and processes: no memory addresses, no call logs.
    assert model_fingerprint(Echo()) == model_fingerprint(Echo())


def test_a_second_run_on_a_locked_output_refuses_and_sends_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    holder = JsonlStore(out)
    holder.open()  # another run in progress (flock is per open file, so this is exclusive)
    model = Echo()
    try:
        with pytest.raises(BatchOutputError, match="another batch is writing to"):
            run_batch(model, ["a", "b"], output=out)
    finally:
        holder.close()
    assert model.calls == []
    assert run_batch(model, ["a", "b"], output=out).stats.successes == 2  # free again


@pytest.mark.parametrize("target", ["/dev/full", "directory"])
def test_a_non_regular_output_is_refused_up_front(tmp_path: Path, target: str) -> None:
    out = tmp_path if target == "directory" else Path(target)
    model = Echo()
    with pytest.raises(BatchOutputError, match="not a regular file"):
        run_batch(model, ["a"], output=out)
    assert model.calls == []


class _FullDisk:
    """Makes the output file's writes fail with ENOSPC after ``ok_lines`` result lines."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, ok_lines: int) -> None:
        self.ok_lines = ok_lines
        real = JsonlStore.append

        def append(store: JsonlStore, line: dict[str, Any]) -> None:
            if self.ok_lines <= 0:
                raise OSError(errno.ENOSPC, "No space left on device")
            self.ok_lines -= 1
            real(store, line)

        monkeypatch.setattr(JsonlStore, "append", append)


def test_a_full_disk_stops_cleanly_and_a_rerun_bills_nothing_twice(
    run: Callable[..., BatchResult], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out.jsonl"
    model = Echo()
    disk = _FullDisk(monkeypatch, ok_lines=2)
    inputs = [f"p{i}" for i in range(10)]
    with pytest.raises(BatchWriteError, match="No space left on device") as info:
        run(model, inputs, output=out, max_concurrency=1)
    err = info.value
    assert len(model.calls) == 3  # two written, the third paid but unwritten; then stopped
    assert err.unwritten == 1
    assert [r.index for r in err.result.results] == [0, 1, 2]
    assert err.result.results[2].output is not None  # the paid answer is handed back
    assert len(_lines(out)) == 2

    disk.ok_lines = 100
    again = run(model, inputs, output=out, max_concurrency=1)
    assert len(model.calls) == 3 + 7  # the unwritten one is not sent again by default
    assert again.stats.unknown == 1
    assert isinstance(again.dead_letters[0].error, OutcomeUnknownError)
    assert again.dead_letters[0].index == 2


def test_a_full_disk_before_anything_is_sent_sends_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out.jsonl"
    model = Echo()

    def refuse(store: JsonlStore, job: Any) -> str:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(JsonlStore, "sent", refuse)
    with pytest.raises(BatchWriteError, match="0 item"):
        run_batch(model, ["a", "b"], output=out, max_concurrency=2)
    assert model.calls == []


def test_configured_keys_are_masked_in_stored_errors(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    secret = "custom-token-NOT-KEY-SHAPED-42"  # no sk- prefix: only known from the config
    result = run_batch(Echo(api_key=SecretStr(secret)), ["fail"], output=out)
    assert result.stats.failures == 1
    assert secret not in out.read_text(encoding="utf-8")
    assert "[REDACTED]" in _lines(out)[0]["error_message"]


def test_stored_cost_has_no_float_noise() -> None:
    from langchain_tiered.batch.items import _tidy

    assert _tidy(0.00001 + 0.0000064) == 1.64e-05  # the sum is 1.6400000000000002e-05
    assert _tidy(0.1 + 0.2) == 0.3
    assert _tidy(None) is None


@pytest.mark.parametrize(
    ("item_input", "metadata", "fingerprint", "digest"),
    [
        (
            "Erkläre REST",
            {},
            "fp",
            "7b06749b5787cd1da918cc5f519777fa1f6242ca66a540f3497ea7b0efda4bf5",
        ),
        (
            [SystemMessage("kurz"), HumanMessage("Erkläre gRPC")],
            {"budget_key": "team-a", "z": (1, 2)},
            '["TieredChatModel"]',
            "9acde5af6ee0272ef870ab7a11f635782f0b2f03dc2b7017998f4779681d59bf",
        ),
        (
            {"b": 1, "a": [1.5, None]},
            {},
            "",
            "81acc5b65393be1d9ed976b69945dbb7c95781725f13bab75f1733b1b2ff02db",
        ),
    ],
)
def test_input_hashes_never_change_so_earlier_output_files_still_resume(
    item_input: Any, metadata: dict[str, Any], fingerprint: str, digest: str
) -> None:
    # Digests written by the json.dumps-per-item version: a changed hash would rerun (and bill
    # again) every answered item of a file written before an upgrade.
    assert content_hash(item_input, metadata, fingerprint) == digest


def test_without_an_output_file_nothing_is_hashed(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_hash(*_: Any) -> str:
        raise AssertionError("hashed although nothing is matched")

    monkeypatch.setattr(items_module, "content_hash", no_hash)
    for run in (run_batch, lambda *a, **kw: asyncio.run(arun_batch(*a, **kw))):
        result = run(Echo(), ["same", "same", {"id": "x", "input": "other"}], max_concurrency=2)
        assert _answers(result) == ["echo: same", "echo: same", "echo: other"]
        assert [r.id for r in result.results] == [0, 1, "x"]
        with pytest.raises(ValueError, match="duplicate ids"):
            run(Echo(), [{"id": "x", "input": "a"}, {"id": "x", "input": "b"}])


def test_with_an_output_file_every_item_is_hashed(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    run_batch(Echo(), ["same", "same", {"id": "x", "input": "other"}], output=out)
    fingerprint = model_fingerprint(Echo())
    lines = sorted(_lines(out), key=lambda line: line["index"])
    assert [line["input_hash"] for line in lines] == [
        content_hash("same", {}, fingerprint),
        content_hash("same", {}, fingerprint),
        content_hash("other", {}, fingerprint),
    ]


def test_memoized_masking_of_attempt_text_still_depends_on_the_secrets() -> None:
    from langchain_tiered.batch.items import _MEMO_MAX_CHARS, _redact_short

    text = "key custom-token-42 rejected"
    assert _redact_short(text, ("custom-token-42",)) == "key [REDACTED] rejected"
    assert _redact_short(text, ()) == text  # same text, no secret: not served from the memo
    assert _redact_short(text, ("custom-token-42",)) == "key [REDACTED] rejected"
    long = "x" * _MEMO_MAX_CHARS + " Bearer abcdefgh1234"
    assert _redact_short(long, ()).endswith("Bearer [REDACTED]")


def test_a_secret_in_a_short_attempt_field_is_masked_on_every_line(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    secret = "custom-token-NOT-KEY-SHAPED-42"
    run_batch(Echo(api_key=SecretStr(secret)), ["fail", "fail again"], output=out)
    lines = _lines(out)
    assert len(lines) == 2
    assert secret not in out.read_text(encoding="utf-8")
    assert all("[REDACTED]" in str(line["attempts"]) for line in lines)


@pytest.mark.parametrize("item_id", ["q1", 7, 2.5, {"b": 1, "a": "ü"}, ["x", 1], ("t", 2)])
def test_id_keys_match_the_ones_stored_by_earlier_versions(item_id: Any) -> None:
    from langchain_tiered.batch.items import item_key

    assert item_key(item_id) == json.dumps(item_id, sort_keys=True, default=repr)
