"""Cascades: answer on a cheap tier, escalate when a validator rejects the answer.

``TieredChatModel(cascade=Cascade(validators=[...]))`` (or ``invoke(..., cascade=...)``) asks
a cheap tier first, runs the validators on the answer, and moves to the next more capable tier
on a rejection. Validators are plain callables ``(CascadeRequest, AIMessage) -> Verdict``.

Modules: ``base`` (values, the error), ``checks`` (answer-only validators), ``schema``
(structured output and tool calls), ``judge`` (another tier grades). The escalation loop
itself lives in :mod:`langchain_tiered._call.cascade`. Imports only ``errors`` from the
package, and langchain-core lazily.
"""

from langchain_tiered.cascade.base import (
    Ask,
    Cascade,
    CascadeRejectedError,
    CascadeRequest,
    CascadeStep,
    Validator,
    Verdict,
)
from langchain_tiered.cascade.checks import (
    LogprobConfidence,
    Matches,
    NotEmpty,
    NotRefusal,
    NotTruncated,
    Predicate,
)
from langchain_tiered.cascade.judge import Judge
from langchain_tiered.cascade.schema import ValidStructuredOutput, ValidToolCalls

__all__ = [
    "Ask",
    "Cascade",
    "CascadeRejectedError",
    "CascadeRequest",
    "CascadeStep",
    "Judge",
    "LogprobConfidence",
    "Matches",
    "NotEmpty",
    "NotRefusal",
    "NotTruncated",
    "Predicate",
    "ValidStructuredOutput",
    "ValidToolCalls",
    "Validator",
    "Verdict",
]
