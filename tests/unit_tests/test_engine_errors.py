"""Typed errors raised before any request for calls that cannot be sent (issue 10)."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import ToolMessage
from pydantic import ValidationError

from langchain_tiered import (
    InvalidRequestError,
    RouterError,
    Tier,
    TieredChatModel,
    TieredError,
)
from tests.unit_tests.fakes import PRICES, FakeTier


def model(**kwargs: Any) -> TieredChatModel:
    return TieredChatModel(
        tiers=[Tier(name="only", model=FakeTier(model_name="m"), price=PRICES["budget"])],
        **kwargs,
    )


def calls(m: TieredChatModel) -> int:
    return len(m.tiers[0].model.calls)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "messages",
    [[], [ToolMessage(content="42", tool_call_id="call_1")]],
    ids=["empty", "only-tool-messages"],
)
def test_unsendable_messages_raise_before_any_request(messages: list[Any]) -> None:
    m = model()
    with pytest.raises(InvalidRequestError) as err:
        m.invoke(messages)
    assert isinstance(err.value, (TieredError, ValueError))
    with pytest.raises(InvalidRequestError):
        list(m.stream(messages))
    with pytest.raises(InvalidRequestError):
        m.plan(messages)
    assert calls(m) == 0


async def test_unsendable_messages_raise_before_any_request_async() -> None:
    m = model()
    with pytest.raises(InvalidRequestError):
        await m.ainvoke([])
    assert calls(m) == 0


def test_router_returning_no_route_decision_raises_before_any_request() -> None:
    m = model(router=lambda request: "only")
    with pytest.raises(RouterError, match="RouteDecision") as err:
        m.invoke("hi")
    assert isinstance(err.value, TypeError)
    assert calls(m) == 0


@pytest.mark.parametrize("ttl", [float("inf"), float("nan")])
def test_infinite_reservation_ttl_is_rejected_at_construction(ttl: float) -> None:
    with pytest.raises(ValidationError, match="reservation_ttl_seconds"):
        model(reservation_ttl_seconds=ttl)
