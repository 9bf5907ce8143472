"""Several deployments of one model inside one tier (two keys, two regions, Azure + OpenAI).

:class:`Deployments` is a chat model usable as a :class:`~langchain_tiered.Tier`'s model (or
through ``Tier(deployments=[...])``); :mod:`.policies` holds the per-call choice. Imports
``fallbacks``, ``ratelimit``, ``tokens`` and (only when given) ``shared``; nothing imports it
but ``tiers`` and the package root.
"""

from langchain_tiered.deployments.model import Deployment, Deployments
from langchain_tiered.deployments.policies import (
    DeploymentStats,
    Policy,
    least_in_flight,
    least_tpm_used,
    lowest_latency,
)

__all__ = [
    "Deployment",
    "DeploymentStats",
    "Deployments",
    "Policy",
    "least_in_flight",
    "least_tpm_used",
    "lowest_latency",
]
