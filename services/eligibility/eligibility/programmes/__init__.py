"""The programme catalogue: every rule pack the service decides with.

Each module in this package exposes its rule packs as PACKS (a tuple); they are collected here, so a new
programme is a new module and a new casebook in cases/, nothing else.
"""

import importlib
import pkgutil

from ..domain.rules import Catalogue, RulePack


def _collect() -> list[RulePack]:
    packs: list[RulePack] = []
    for module in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if module.ispkg:
            continue
        loaded = importlib.import_module(f"{__name__}.{module.name}")
        packs.extend(getattr(loaded, "PACKS", ()))
    return packs


CATALOGUE = Catalogue(_collect())
