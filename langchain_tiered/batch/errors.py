"""What a batch raises or warns about when its output file, or an item's fate, is in doubt.

::

    TieredError                           (langchain_tiered.errors)
    ├── BatchOutputError                  --out unusable: not a regular file, locked by another
    │   │                                 run, or cannot be opened
    │   └── BatchWriteError               a write failed mid-batch; keeps the partial result
    └── OutcomeUnknownError               an item was sent before a crash and never answered
                                          (on a dead letter; resend with resend_unknown=True)
    UserWarning
    └── BatchInputChangedWarning          an id in --out answered another input; it is rerun
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from langchain_tiered.errors import TieredError

if TYPE_CHECKING:
    from langchain_tiered.batch import BatchResult

__all__ = [
    "BatchInputChangedWarning",
    "BatchOutputError",
    "BatchWriteError",
    "OutcomeUnknownError",
]


class BatchOutputError(TieredError):
    """The output file cannot be used; raised before any input is sent."""


class BatchWriteError(BatchOutputError):
    """Writing to the output file failed mid-batch (disk full, I/O error).

    The batch stops handing out inputs, lets the calls in flight finish and raises this.
    Spend is in the ledger whatever happened to the file; answers that could not be written
    were sent and paid, so a rerun reports them as outcome unknown instead of paying twice.

    Attributes:
        result: The items finished so far (written or not), with their statistics.
        unwritten: How many finished items could not be written.
        unwritten_cost_usd: What those unwritten answers cost.
    """

    def __init__(
        self, message: str, *, result: BatchResult, unwritten: int, unwritten_cost_usd: float
    ) -> None:
        super().__init__(message)
        self.result = result
        self.unwritten = unwritten
        self.unwritten_cost_usd = unwritten_cost_usd


class OutcomeUnknownError(TieredError):
    """The item was sent by an earlier run that stopped before its answer was recorded.

    The provider may have answered and billed it. It is not sent again unless asked
    (``resend_unknown=True``, ``langchain-tiered batch --resend-unknown``).
    """


class BatchInputChangedWarning(UserWarning):
    """An id stored in the output file answered a different input (or config); it is rerun."""
