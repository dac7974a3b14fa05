"""Rule test cases written as data (YAML), as OpenFisca's YAML tests are.

A casebook belongs to one programme. Each case is an evaluation input (the same facts object the dry run
and the command line take, see inputs.py) in a short form, plus what the decision must be: the outcome,
the amount, the instalments, and the result or values of any condition by its code. Short forms:
`subject: applicant|beneficiary`, `host: applicant` and `employer: applicant` name the parties without ids;
`months: {from: 2022-03, count: 6, working_days: 20, allowance: "1900.00"}` expands to one entry per month.
Each case may cite its `source` (document and article, or seed line). The same cases run in the test suite
and from `eligibility test`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from .domain.parameters import ParameterSet
from .domain.rules import Catalogue, Evaluation
from .evaluate import evaluate_input
from .inputs import EvaluationInput

_PARTY_KEYS = {"subject": "subject_id", "host": "host_enterprise_id", "employer": "employer_id"}


@dataclass(frozen=True)
class Case:
    programme_id: str
    name: str
    data: EvaluationInput
    expect: dict[str, Any]
    source: str


@dataclass
class Outcome:
    case: Case
    evaluation: Evaluation | None
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures


def _month(value: Any) -> date:
    text = str(value)
    return date.fromisoformat(text + "-01" if len(text) == 7 else text)


def _expand_months(spec: Any) -> list[dict[str, Any]]:
    if isinstance(spec, list):
        return [{**m, "month": _month(m["month"]).isoformat()} for m in spec]
    first = _month(spec["from"])
    out = []
    for k in range(int(spec["count"])):
        y, m = divmod(first.month - 1 + k, 12)
        out.append(
            {
                "month": date(first.year + y, m + 1, 1).isoformat(),
                "working_days": spec["working_days"],
                "allowance_paid": str(spec["allowance"]),
            }
        )
    return out


def _fact(fact: dict[str, Any]) -> dict[str, Any]:
    out = {_PARTY_KEYS.get(k, k): v for k, v in fact.items()}
    out.setdefault("subject_id", "beneficiary")
    if "months" in out and fact.get("kind") == "internship":
        out["months"] = _expand_months(out["months"])
    return out


def _flatten(items: list[Any]) -> list[dict[str, Any]]:
    """A YAML alias to a list of facts may appear inside another list: splice it in."""
    out: list[dict[str, Any]] = []
    for item in items:
        out.extend(_flatten(item) if isinstance(item, list) else [item])
    return out


def input_from_spec(spec: dict[str, Any]) -> EvaluationInput:
    raw = {k: v for k, v in spec.items() if k not in ("name", "expect", "source")}
    raw["facts"] = [_fact(f) for f in _flatten(spec.get("facts", []))]
    raw.setdefault("submitted_on", datetime(2022, 12, 1, tzinfo=UTC).date())
    return EvaluationInput.parse(raw)


def load(path: Path) -> list[Case]:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    programme_id = doc["programme"]
    defaults = doc.get("defaults", {})
    cases = []
    for raw in doc["cases"]:
        spec = {**defaults, **raw}
        source = f"{path.name}: {raw['name']}" + (f" [{raw['source']}]" if raw.get("source") else "")
        cases.append(Case(programme_id, raw["name"], input_from_spec(spec), raw["expect"], source))
    return cases


def bundled_paths() -> list[Path]:
    folder = resources.files("eligibility.programmes") / "cases"
    return sorted(Path(str(f)) for f in folder.iterdir() if f.name.endswith(".yaml"))


def run(case: Case, catalogue: Catalogue, params: ParameterSet) -> Outcome:
    _, evaluation = evaluate_input(
        catalogue, params, case.programme_id, case.data, case.data.submitted_on or date.today()
    )
    expect = case.expect
    if evaluation is None:
        ok = expect.get("outcome") == "no_rule_pack"
        return Outcome(case, None, [] if ok else [f"no rule pack of {case.programme_id} is in force"])
    failures = []
    if "outcome" in expect and evaluation.outcome.value != expect["outcome"]:
        failed = [f"{c.code}: {c.reason_en}" for c in evaluation.conditions if not c.passed]
        failures.append(f"outcome {evaluation.outcome.value}, expected {expect['outcome']} ({'; '.join(failed)})")
    if "amount" in expect and evaluation.total != Decimal(str(expect["amount"])):
        failures.append(f"amount {evaluation.total}, expected {expect['amount']}")
    if "version" in expect and evaluation.pack.version != str(expect["version"]):
        failures.append(f"rule pack {evaluation.pack.version}, expected {expect['version']}")
    if "jurisdiction" in expect and evaluation.pack.jurisdiction != str(expect["jurisdiction"]):
        failures.append(f"rule pack of {evaluation.pack.jurisdiction}, expected {expect['jurisdiction']}")
    results = {c.code: c.passed for c in evaluation.conditions}
    for code, wanted in (expect.get("conditions") or {}).items():
        if code not in results:
            failures.append(f"condition {code} was not checked")
        elif results[code] != wanted:
            failures.append(f"condition {code} is {results[code]}, expected {wanted}")
    for key, wanted in (expect.get("values") or {}).items():
        code, _, name = key.partition(".")
        seen = next((c.values.get(name) for c in evaluation.conditions if c.code == code), None)
        if seen != str(wanted):
            failures.append(f"{key} is {seen}, expected {wanted}")
    if "instalments" in expect:
        got = [str(p.amount) for p in (evaluation.amounts.instalments if evaluation.amounts else ())]
        if got != [str(Decimal(str(a)).quantize(Decimal("0.01"))) for a in expect["instalments"]]:
            failures.append(f"instalments {got}, expected {expect['instalments']}")
    return Outcome(case, evaluation, failures)
