"""LangChain's standard unit tests for chat models, run on TieredChatModel over fake tiers."""

from __future__ import annotations

from typing import Any

from langchain_tests.unit_tests import ChatModelUnitTests

from langchain_tiered import Tier, TieredChatModel
from tests.unit_tests.fakes import PRICES, FakeTier


class TestTieredChatModelStandard(ChatModelUnitTests):
    @property
    def chat_model_class(self) -> type[TieredChatModel]:
        return TieredChatModel

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {
            "tiers": [
                Tier(name="critical", model=FakeTier(model_name="big"), price=PRICES["critical"]),
                Tier(name="budget", model=FakeTier(model_name="small"), price=PRICES["budget"]),
            ]
        }

    @property
    def has_tool_calling(self) -> bool:
        return True

    @property
    def has_structured_output(self) -> bool:
        return True

    @property
    def returns_usage_metadata(self) -> bool:
        return True
