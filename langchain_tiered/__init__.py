"""langchain-tiered: a LangChain chat model that routes, budgets and falls back across tiers.

Names load lazily on first access so ``import langchain_tiered`` stays cheap.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from langchain_tiered.agents import (
        InMemoryThreadStore,
        RedisThreadStore,
        RunBudgetExceededError,
        ThreadStore,
        TieredBudgetMiddleware,
    )
    from langchain_tiered.alerts import BudgetAlert
    from langchain_tiered.batch import (
        BatchOutputError,
        BatchResult,
        BatchWriteError,
        OutcomeUnknownError,
        arun_batch,
        run_batch,
    )
    from langchain_tiered.budget import Budget
    from langchain_tiered.callbacks import TieredCostCallbackHandler, get_tiered_cost_callback
    from langchain_tiered.cascade import (
        Cascade,
        CascadeRejectedError,
        CascadeRequest,
        Judge,
        LogprobConfidence,
        Matches,
        NotEmpty,
        NotRefusal,
        NotTruncated,
        Predicate,
        ValidStructuredOutput,
        ValidToolCalls,
        Verdict,
    )
    from langchain_tiered.chat_models import TieredChatModel
    from langchain_tiered.deployments import Deployment, Deployments
    from langchain_tiered.errors import (
        AllTiersFailedError,
        BudgetExceededError,
        BudgetKeyRequiredError,
        InvalidRequestError,
        NoTierFitsError,
        PricingError,
        RateLimitExceededError,
        RouterError,
        TieredError,
    )
    from langchain_tiered.fallbacks import RetryPolicy, StreamError
    from langchain_tiered.ledger import (
        InMemoryLedger,
        LedgerError,
        LedgerReadOnlyError,
        NotALedgerError,
        PostgresLedger,
        RedisLedger,
        SQLiteLedger,
    )
    from langchain_tiered.pricing import ModelPrice, PriceBook
    from langchain_tiered.routing import (
        ComplexityRouter,
        LearnedRouter,
        RouteDecision,
        RouteRequest,
        RouterReport,
        RoutingExample,
        Rule,
        RuleRouter,
        SignalGroup,
        calibrate,
        calibrate_for_cost,
        evaluate_router,
        read_arena_hard,
        read_gsm8k,
        read_jsonl,
        read_mmlu,
        read_routellm_csv,
    )
    from langchain_tiered.shared import RedisState, SharedStateUnavailableError
    from langchain_tiered.tiers import Tier
    from langchain_tiered.tokens import count_tokens

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    "AllTiersFailedError": "errors",
    "BatchOutputError": "batch",
    "BatchResult": "batch",
    "BatchWriteError": "batch",
    "Budget": "budget",
    "BudgetAlert": "alerts",
    "BudgetExceededError": "errors",
    "BudgetKeyRequiredError": "errors",
    "Cascade": "cascade",
    "CascadeRejectedError": "cascade",
    "CascadeRequest": "cascade",
    "ComplexityRouter": "routing",
    "Deployment": "deployments",
    "Deployments": "deployments",
    "InMemoryLedger": "ledger",
    "InMemoryThreadStore": "agents",
    "InvalidRequestError": "errors",
    "Judge": "cascade",
    "LearnedRouter": "routing",
    "LedgerError": "ledger",
    "LedgerReadOnlyError": "ledger",
    "LogprobConfidence": "cascade",
    "Matches": "cascade",
    "ModelPrice": "pricing",
    "NoTierFitsError": "errors",
    "NotALedgerError": "ledger",
    "NotEmpty": "cascade",
    "NotRefusal": "cascade",
    "NotTruncated": "cascade",
    "OutcomeUnknownError": "batch",
    "PostgresLedger": "ledger",
    "Predicate": "cascade",
    "PriceBook": "pricing",
    "PricingError": "errors",
    "RateLimitExceededError": "errors",
    "RedisLedger": "ledger",
    "RedisState": "shared",
    "RedisThreadStore": "agents",
    "RetryPolicy": "fallbacks",
    "RouteDecision": "routing",
    "RouteRequest": "routing",
    "RouterError": "errors",
    "RouterReport": "routing",
    "RoutingExample": "routing",
    "Rule": "routing",
    "RuleRouter": "routing",
    "RunBudgetExceededError": "agents",
    "SQLiteLedger": "ledger",
    "SharedStateUnavailableError": "shared",
    "SignalGroup": "routing",
    "StreamError": "fallbacks",
    "ThreadStore": "agents",
    "Tier": "tiers",
    "TieredBudgetMiddleware": "agents",
    "TieredChatModel": "chat_models",
    "TieredCostCallbackHandler": "callbacks",
    "TieredError": "errors",
    "ValidStructuredOutput": "cascade",
    "ValidToolCalls": "cascade",
    "Verdict": "cascade",
    "arun_batch": "batch",
    "calibrate": "routing",
    "calibrate_for_cost": "routing",
    "count_tokens": "tokens",
    "evaluate_router": "routing",
    "get_tiered_cost_callback": "callbacks",
    "read_arena_hard": "routing",
    "read_gsm8k": "routing",
    "read_jsonl": "routing",
    "read_mmlu": "routing",
    "read_routellm_csv": "routing",
    "run_batch": "batch",
}

__all__ = [
    "AllTiersFailedError",
    "BatchOutputError",
    "BatchResult",
    "BatchWriteError",
    "Budget",
    "BudgetAlert",
    "BudgetExceededError",
    "BudgetKeyRequiredError",
    "Cascade",
    "CascadeRejectedError",
    "CascadeRequest",
    "ComplexityRouter",
    "Deployment",
    "Deployments",
    "InMemoryLedger",
    "InMemoryThreadStore",
    "InvalidRequestError",
    "Judge",
    "LearnedRouter",
    "LedgerError",
    "LedgerReadOnlyError",
    "LogprobConfidence",
    "Matches",
    "ModelPrice",
    "NoTierFitsError",
    "NotALedgerError",
    "NotEmpty",
    "NotRefusal",
    "NotTruncated",
    "OutcomeUnknownError",
    "PostgresLedger",
    "Predicate",
    "PriceBook",
    "PricingError",
    "RateLimitExceededError",
    "RedisLedger",
    "RedisState",
    "RedisThreadStore",
    "RetryPolicy",
    "RouteDecision",
    "RouteRequest",
    "RouterError",
    "RouterReport",
    "RoutingExample",
    "Rule",
    "RuleRouter",
    "RunBudgetExceededError",
    "SQLiteLedger",
    "SharedStateUnavailableError",
    "SignalGroup",
    "StreamError",
    "ThreadStore",
    "Tier",
    "TieredBudgetMiddleware",
    "TieredChatModel",
    "TieredCostCallbackHandler",
    "TieredError",
    "ValidStructuredOutput",
    "ValidToolCalls",
    "Verdict",
    "arun_batch",
    "calibrate",
    "calibrate_for_cost",
    "count_tokens",
    "evaluate_router",
    "get_tiered_cost_callback",
    "read_arena_hard",
    "read_gsm8k",
    "read_jsonl",
    "read_mmlu",
    "read_routellm_csv",
    "run_batch",
]


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        msg = f"module 'langchain_tiered' has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(import_module(f"langchain_tiered.{module_name}"), name)
    globals()[name] = value  # later accesses skip this function
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
