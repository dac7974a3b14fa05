"""Shared event contracts of the subsidy platform: the only thing the services share about each other."""

from .envelope import ContractModel, Event
from .money import Money

__all__ = ["ContractModel", "Event", "Money"]
