"""Nothing paid is lost at settlement (issue 10), on fake tiers: no sockets, no sleeping.

* an abandoned stream reaches the ledger and the cost callback, exactly once;
* a ledger that fails after the provider answered never costs the caller the answer;
* a settled cost above the reserved worst case is flagged, emitted and counted;
* a call cancelled while its SQLite reservation is being taken releases it;
* provider error text is stored and raised with the tier models' keys masked.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import warnings
from pathlib import Path
from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage
from pydantic import SecretStr

from langchain_tiered import (
    AllTiersFailedError,
    Budget,
    InMemoryLedger,
    SQLiteLedger,
    Tier,
    TieredChatModel,
    get_tiered_cost_callback,
)
from langchain_tiered.fallbacks import RetryPolicy
from langchain_tiered.ledger import LedgerWriteWarning
from tests.unit_tests.fakes import PRICES, FakeTier, usage

ASK = "List the capitals of Europe"
WORDS = "one two three four five six"


def model_on(ledger: Any, tier_model: FakeTier | None = None, **kw: Any) -> TieredChatModel:
    fake = tier_model or FakeTier(model_name="m", script=[AIMessage(content=WORDS)])
    return TieredChatModel(
        tiers=[Tier(name="only", model=fake, price=PRICES["budget"])],
        budget=Budget(limit_usd=1.0, ledger=ledger),
        **kw,
    )


def key(model: TieredChatModel) -> str:
    return next(iter(model._rt.limits_for({})))


# -- abandoned streams: ledger and callback, exactly once ---------------------------------------


def test_abandoned_stream_reaches_the_cost_callback_once() -> None:
    ledger = InMemoryLedger()
    model = model_on(ledger)
    with get_tiered_cost_callback() as cb:
        stream = model.stream(ASK)
        assert next(stream).content == "one"
        stream.close()  # the caller stops reading mid-answer
    assert ledger.reserved(key(model)) == 0
    spent = ledger.spent(key(model))
    assert spent > 0
    assert cb.calls == 1
    assert cb.total_cost_usd == pytest.approx(spent, abs=1e-9)
    assert cb.by_tier["only"].calls == 1


async def test_abandoned_async_stream_reaches_the_cost_callback_once() -> None:
    ledger = InMemoryLedger()
    model = model_on(ledger)
    with get_tiered_cost_callback() as cb:
        stream = model.astream(ASK)
        assert (await anext(stream)).content == "one"
        await stream.aclose()
    assert cb.calls == 1
    assert ledger.spent(key(model)) > 0
    assert cb.total_cost_usd == pytest.approx(ledger.spent(key(model)), abs=1e-9)


def test_stream_dropped_after_its_closing_chunk_counts_once() -> None:
    ledger = InMemoryLedger()
    model = model_on(ledger)
    with get_tiered_cost_callback() as cb:
        stream = model.stream(ASK)
        for chunk in stream:
            if "tiered" in chunk.response_metadata:
                break  # the settled answer arrived; the caller never asks for the end
        stream.close()
    assert cb.calls == 1
    assert ledger.spent(key(model)) > 0
    assert cb.total_cost_usd == pytest.approx(ledger.spent(key(model)), abs=1e-9)


# -- a failing ledger never loses a paid answer -----------------------------------------------


class LockedOnSettle(InMemoryLedger):
    """Reserves fine; every settlement fails as a SQLite file locked past its timeout does."""

    def settle(self, reservation: Any, actual_usd: float, record: Any = None) -> None:
        raise sqlite3.OperationalError("database is locked")

    async def asettle(self, reservation: Any, actual_usd: float, record: Any = None) -> None:
        self.settle(reservation, actual_usd, record)


def test_ledger_failure_after_the_answer_returns_it_and_warns_once() -> None:
    ledger = LockedOnSettle()
    model = model_on(ledger)
    with pytest.warns(LedgerWriteWarning, match="database is locked"):
        first = model.invoke(ASK)
    assert first.content == WORDS
    meta = first.response_metadata["tiered"]
    assert meta["ledger_error"] == "OperationalError: database is locked"
    assert meta["cost_usd"] > 0
    # the unsettled hold keeps counting until it expires: the budget stays conservative
    assert ledger.reserved(key(model)) == pytest.approx(meta["estimated_cost_usd"], abs=1e-9)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a second warning would raise here
        second = model.invoke(ASK)
    assert second.response_metadata["tiered"]["ledger_error"]


async def test_ledger_failure_after_a_stream_still_delivers_every_chunk() -> None:
    model = model_on(LockedOnSettle())
    with pytest.warns(LedgerWriteWarning):
        chunks = [c async for c in model.astream(ASK)]
    assert "".join(str(c.content) for c in chunks) == WORDS
    assert chunks[-1].response_metadata["tiered"]["ledger_error"]


# -- overspend: flagged, emitted, counted ---------------------------------------------------


class _Events(BaseCallbackHandler):
    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []

    def on_custom_event(self, name: str, data: Any, **kwargs: Any) -> None:
        self.events.append((name, data))


def test_cost_above_the_worst_case_is_flagged_emitted_and_counted() -> None:
    # usage far beyond what the prompt can hold: a provider bug the engine must not absorb
    billed = AIMessage(content="ok", usage_metadata=usage(50_000, 10))  # type: ignore[arg-type]
    ledger = InMemoryLedger()
    model = model_on(ledger, FakeTier(model_name="m", script=[billed]))
    events = _Events()
    meta = model.invoke(ASK, config={"callbacks": [events]}).response_metadata["tiered"]
    cost = PRICES["budget"].cost(usage(50_000, 10))
    assert meta["cost_usd"] == pytest.approx(cost)
    assert meta["overspend"] is True
    assert meta["overspend_usd"] == pytest.approx(cost - meta["estimated_cost_usd"])
    (data,) = [d for n, d in events.events if n == "tiered.overspend"]
    assert data["overspend_usd"] == pytest.approx(meta["overspend_usd"])
    assert ledger.spent(key(model)) == pytest.approx(cost, abs=1e-9)  # counted in full


def test_cost_within_the_worst_case_is_not_flagged() -> None:
    meta = model_on(InMemoryLedger()).invoke(ASK).response_metadata["tiered"]
    assert (meta["overspend"], meta["overspend_usd"]) == (False, 0.0)


# -- cancellation while SQLite takes the reservation --------------------------------------------


class GatedSQLite(SQLiteLedger):
    """``reserve`` (run in a worker thread by ``areserve``) waits for a gate, then reserves."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.entered = threading.Event()
        self.gate = threading.Event()
        self.done = threading.Event()

    def reserve(self, *args: Any, **kwargs: Any) -> Any:
        self.entered.set()
        self.gate.wait(timeout=30)
        try:
            return super().reserve(*args, **kwargs)
        finally:
            self.done.set()


async def test_cancel_while_sqlite_reserves_releases_the_hold(tmp_path: Path) -> None:
    ledger = GatedSQLite(tmp_path / "spend.db")
    fake = FakeTier(model_name="m")
    model = model_on(ledger, fake)
    task = asyncio.ensure_future(model.ainvoke(ASK))
    await asyncio.to_thread(ledger.entered.wait, 30)
    task.cancel()  # the worker thread is still inside reserve
    ledger.gate.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.to_thread(ledger.done.wait, 30)
    assert ledger.reserved(key(model)) == 0  # the late hold was given back
    assert ledger.spent(key(model)) == 0
    assert fake.calls == []  # never sent
    ledger.close()


# -- secrets: the tier models' own keys are masked ----------------------------------------------


class KeyedTier(FakeTier):
    """A tier model holding its API key as a SecretStr, like ChatOpenAI/ChatAnthropic."""

    api_key: SecretStr = SecretStr("")


def test_configured_keys_are_masked_in_attempts_and_errors() -> None:
    secret = "key-not-shaped-like-sk-0123456789"
    echo = ConnectionError(f"upstream rejected credential {secret}")
    leaky = KeyedTier(model_name="m", api_key=SecretStr(secret), script=[echo])
    model = TieredChatModel(
        tiers=[Tier(name="only", model=leaky, price=PRICES["budget"])],
        retry=RetryPolicy(max_attempts=1),
        unknown_outcome="release",
    )
    with pytest.raises(AllTiersFailedError) as err:
        model.invoke(ASK)
    assert secret not in str(err.value)
    (attempt,) = err.value.attempts
    assert secret not in attempt["message"]
    assert "[REDACTED]" in attempt["message"]


class FailsOnRelease(InMemoryLedger):
    """Reserves and settles fine; releasing a hold fails."""

    def release(self, reservation: Any) -> None:
        raise sqlite3.OperationalError("disk I/O error")


def test_a_failing_release_does_not_hide_the_fallback() -> None:
    from langchain_core.exceptions import ModelRateLimitError

    busy = FakeTier(model_name="busy", script=[ModelRateLimitError("slow down")])
    calm = FakeTier(model_name="calm", script=[AIMessage(content="fine")])
    model = TieredChatModel(
        tiers=[
            Tier(name="calm", model=calm, price=PRICES["standard"]),
            Tier(name="busy", model=busy, price=PRICES["budget"]),
        ],
        budget=Budget(limit_usd=1.0, ledger=FailsOnRelease()),
        retry=RetryPolicy(max_attempts=1),
    )
    with pytest.warns(LedgerWriteWarning, match="disk I/O error"):
        message = model.invoke(ASK, tier="busy")
    assert message.content == "fine"  # fell back, as it would with a healthy ledger
    assert message.response_metadata["tiered"]["tier"] == "calm"
