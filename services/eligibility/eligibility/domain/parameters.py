"""Effective-dated, per-region parameters read from data files (as OpenFisca does), never from code.

A parameter file lists, per region prefix, periods with a value and the source it was taken from. A lookup
picks the longest region prefix that has values, then the period covering the date. A date no period
covers is an error (ParameterNotCovered), never a silent fallback to the nearest value: a 2027 decision must
not quietly use 2022 figures (openfisca-core#629).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import yaml


class ParameterError(Exception):
    pass


class ParameterNotCovered(ParameterError):
    """No value of the parameter applies to this region and date."""

    def __init__(self, name: str, region: str, on: date) -> None:
        super().__init__(f"parameter {name} has no value for region {region} on {on.isoformat()}")
        self.name = name
        self.region = region
        self.on = on


@dataclass(frozen=True)
class Period:
    start: date
    end: date | None  # inclusive; None: open-ended (only for values that do not expire)
    value: Decimal
    source: str

    def covers(self, on: date) -> bool:
        return self.start <= on and (self.end is None or on <= self.end)


@dataclass(frozen=True)
class Parameter:
    name: str
    unit: str
    description: str
    regions: dict[str, tuple[Period, ...]]  # region prefix ("" = national) -> periods

    def at(self, on: date, region: str = "") -> Decimal:
        return self.lookup(on, region).value

    def lookup(self, on: date, region: str = "") -> Period:
        for length in range(len(region), -1, -1):
            periods = self.regions.get(region[:length])
            if periods is not None:
                for p in periods:
                    if p.covers(on):
                        return p
                break  # the most specific region with values decides; no fallback to a wider one
        raise ParameterNotCovered(self.name, region or "national", on)


def _parse_parameter(doc: dict[str, Any]) -> Parameter:
    regions: dict[str, tuple[Period, ...]] = {}
    for entry in doc["values"]:
        periods = tuple(
            Period(
                start=p["from"] if isinstance(p["from"], date) else date.fromisoformat(p["from"]),
                end=(p["to"] if isinstance(p["to"], date) else date.fromisoformat(p["to"])) if p.get("to") else None,
                value=Decimal(str(p["value"])),
                source=p.get("source") or entry.get("source") or doc.get("source", ""),
            )
            for p in entry["periods"]
        )
        ordered = sorted(periods, key=lambda p: p.start)
        for a, b in itertools.pairwise(ordered):
            if a.end is None or a.end >= b.start:
                raise ParameterError(f"{doc['name']}: overlapping periods for regions {entry['regions']}")
        for region in entry["regions"]:
            key = str(region) if region != "national" else ""
            if key in regions:
                raise ParameterError(f"{doc['name']}: region {region} listed twice")
            regions[key] = tuple(ordered)
    return Parameter(doc["name"], doc.get("unit", ""), doc.get("description", ""), regions)


class ParameterSet:
    def __init__(self, parameters: dict[str, Parameter]) -> None:
        self._parameters = parameters

    def __getitem__(self, name: str) -> Parameter:
        try:
            return self._parameters[name]
        except KeyError as exc:
            raise ParameterError(f"unknown parameter {name}") from exc

    def names(self) -> list[str]:
        return sorted(self._parameters)

    @classmethod
    def from_files(cls, paths: list[Path]) -> ParameterSet:
        params: dict[str, Parameter] = {}
        for path in paths:
            for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
                p = _parse_parameter(doc)
                if p.name in params:
                    raise ParameterError(f"parameter {p.name} defined twice")
                params[p.name] = p
        return cls(params)

    @classmethod
    def bundled(cls) -> ParameterSet:
        folder = resources.files("eligibility.parameters")
        return cls.from_files(sorted(Path(str(f)) for f in folder.iterdir() if f.name.endswith(".yaml")))
