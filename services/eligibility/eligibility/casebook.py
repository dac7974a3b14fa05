"""Rule test cases written as data (YAML), as OpenFisca's YAML tests are.

A casebook belongs to one programme. Each case describes an applicant, an optional beneficiary and their
facts in a short form, and what the decision must be: the outcome, the amount, and the result of any
condition by its code. `subject: applicant` / `subject: beneficiary` and `host: applicant` name the parties
without writing ids; `months: {from: 2022-03, count: 6, working_days: 20, allowance: "1900.00"}` expands to
one entry per month. The same cases run in the test suite and from `eligibility test`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import TypeAdapter

from subsidy_contracts.facts import Fact
from subsidy_contracts.registration import ApplicationSubmittedPayload

from .domain.parameters import ParameterSet
from .domain.rules import Catalogue, Evaluation, evaluate

APPLICANT_ID = uuid.UUID("00000000-0000-4000-8000-00000000a001")
BENEFICIARY_ID = uuid.UUID("00000000-0000-4000-8000-00000000b001")
_FACTS: TypeAdapter[list[Fact]] = TypeAdapter(list[Fact])


@dataclass(frozen=True)
class Case:
    programme_id: str
    name: str
    application: ApplicationSubmittedPayload
    on: date | None
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


def _resolve(fact: dict[str, Any]) -> dict[str, Any]:
    parties = {"applicant": str(APPLICANT_ID), "beneficiary": str(BENEFICIARY_ID)}
    out = {k: v for k, v in fact.items() if k not in ("subject", "host")}
    out["subject_id"] = parties[fact.get("subject", "beneficiary")]
    if "host" in fact:
        out["host_enterprise_id"] = parties[fact["host"]]
    if "months" in out:
        out["months"] = _expand_months(out["months"])
    return out


def build_application(programme_id: str, spec: dict[str, Any]) -> ApplicationSubmittedPayload:
    applicant = spec["applicant"]
    region = applicant.get("region_code", "430102")
    if applicant["kind"] == "person":
        person = _person(APPLICANT_ID, applicant)
        applicant_obj: dict[str, Any] = {"kind": "person", "person": person}
        payee_kind = "social_security_card"
    else:
        applicant_obj = {
            "kind": applicant["kind"],
            "enterprise": {
                "enterprise_id": str(APPLICANT_ID),
                "name": applicant.get("name", "示例单位"),
                "credit_code": applicant.get("credit_code", "91110000600037341L"),
                "region_code": region,
                "size": applicant.get("size", "small"),
            },
        }
        payee_kind = "enterprise_basic"
    beneficiary = spec.get("beneficiary")
    payload = {
        "application_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"case:{programme_id}:{spec['name']}")),
        "programme_id": programme_id,
        "applicant": applicant_obj,
        "beneficiary": _person(BENEFICIARY_ID, beneficiary) if beneficiary else None,
        "period": spec.get("period"),
        "facts": _FACTS.validate_python([_resolve(f) for f in _flatten(spec.get("facts", []))]),
        "payee": {
            "account_id": str(uuid.UUID(int=1)),
            "kind": payee_kind,
            "holder_name": "示例",
            "account_number": "6217001234567890128",
            "bank_code": "102100099996",
            "bank_name": "示例银行",
        },
        "jurisdiction": spec.get("jurisdiction", region),
        "integration_id": "casebook",
        "commitment": spec.get("commitment", False),
        "submitted_at": spec.get("submitted_at", datetime(2022, 12, 1, tzinfo=UTC)),
    }
    return ApplicationSubmittedPayload.model_validate(payload)


def _flatten(items: list[Any]) -> list[dict[str, Any]]:
    """A YAML alias to a list of facts may appear inside another list: splice it in."""
    out: list[dict[str, Any]] = []
    for item in items:
        out.extend(_flatten(item) if isinstance(item, list) else [item])
    return out


def _person(person_id: uuid.UUID, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "person_id": str(person_id),
        "name": spec.get("name", "张三"),
        "id_number_masked": "4301**********0000",
        "birth_date": spec["birth_date"],
        "sex": spec.get("sex", "female"),
        "region_code": spec.get("region_code", "430102"),
    }


def load(path: Path) -> list[Case]:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    programme_id = doc["programme"]
    defaults = doc.get("defaults", {})
    cases = []
    for raw in doc["cases"]:
        spec = {**defaults, **raw}
        on = spec.get("on")
        cases.append(
            Case(
                programme_id,
                raw["name"],
                build_application(programme_id, spec),
                on if isinstance(on, date) else (date.fromisoformat(on) if on else None),
                raw["expect"],
                f"{path.name}: {raw['name']}",
            )
        )
    return cases


def bundled_paths() -> list[Path]:
    folder = resources.files("eligibility.programmes") / "cases"
    return sorted(Path(str(f)) for f in folder.iterdir() if f.name.endswith(".yaml"))


def run(case: Case, catalogue: Catalogue, params: ParameterSet) -> Outcome:
    on = case.on or catalogue.evaluation_date(case.application)
    pack = catalogue.pack_for(case.programme_id, on)
    expect = case.expect
    if pack is None:
        ok = expect.get("outcome") == "no_rule_pack"
        return Outcome(case, None, [] if ok else [f"no rule pack of {case.programme_id} is in force on {on}"])
    evaluation = evaluate(pack, case.application, on, params)
    failures = []
    if "outcome" in expect and evaluation.outcome.value != expect["outcome"]:
        failed = [f"{c.code}: {c.reason_en}" for c in evaluation.conditions if not c.passed]
        failures.append(f"outcome {evaluation.outcome.value}, expected {expect['outcome']} ({'; '.join(failed)})")
    if "amount" in expect and evaluation.total != Decimal(str(expect["amount"])):
        failures.append(f"amount {evaluation.total}, expected {expect['amount']}")
    if "version" in expect and pack.version != str(expect["version"]):
        failures.append(f"rule pack {pack.version}, expected {expect['version']}")
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
    if "instalments" in expect and evaluation.amounts is not None:
        got = [str(i.amount) for i in evaluation.amounts.instalments]
        if got != [str(Decimal(str(a)).quantize(Decimal("0.01"))) for a in expect["instalments"]]:
            failures.append(f"instalments {got}, expected {expect['instalments']}")
    return Outcome(case, evaluation, failures)
