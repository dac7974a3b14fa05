"""Rule packs and the explained evaluation of one case. Pure: no I/O, no clock.

A rule pack is one version of one programme: where and when it applies, its legal basis, who may apply,
which facts it reads, the fund it pays from, and a rule function. The rule function records every condition
it checks (with the values it saw and a bilingual reason) on an Explanation, and returns the amounts.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, TypeVar

from subsidy_contracts.common import ApplicantKind, LegalBasis
from subsidy_contracts.eligibility import ConditionResult, Instalment, Outcome, ScheduleKind
from subsidy_contracts.facts import Fact
from subsidy_contracts.registration import ApplicationSubmittedPayload

from .parameters import ParameterNotCovered, ParameterSet

F = TypeVar("F")
FEN = Decimal("0.01")


def yuan(value: Decimal) -> Decimal:
    """Round to fen, half up (the usual rule for payable amounts)."""
    return value.quantize(FEN, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Case:
    """What a rule function sees: the application and the date whose rules apply."""

    application: ApplicationSubmittedPayload
    on: date

    @property
    def facts(self) -> list[Fact]:
        return self.application.facts

    def facts_of(self, kind: type[F], subject: uuid.UUID | None = None) -> list[F]:
        return [f for f in self.facts if isinstance(f, kind) and (subject is None or f.subject_id == subject)]

    def one(self, kind: type[F], subject: uuid.UUID | None = None) -> F | None:
        found = self.facts_of(kind, subject)
        return found[-1] if found else None  # the latest recorded wins


class Ineligible(Exception):
    """Raised by a rule function to stop at a failed condition (already recorded on the explanation)."""


class NeedsReview(Exception):
    """The rules cannot decide (missing or unverifiable facts): a caseworker must."""


@dataclass
class Explanation:
    pack: RulePack
    conditions: list[ConditionResult] = field(default_factory=list)
    review_reasons: list[str] = field(default_factory=list)

    def check(
        self,
        code: str,
        passed: bool,
        zh: str,
        en: str,
        *,
        values: dict[str, Any] | None = None,
        basis: LegalBasis | None = None,
        stop: bool = True,
    ) -> bool:
        """Record a condition; with stop=True a failure ends the evaluation as ineligible."""
        self.conditions.append(
            ConditionResult(
                code=code,
                passed=passed,
                values={k: _text(v) for k, v in (values or {}).items()},
                reason_zh=zh,
                reason_en=en,
                legal_basis=basis or (self.pack.legal_basis[0] if self.pack.legal_basis else None),
            )
        )
        if not passed and stop:
            raise Ineligible(code)
        return passed

    def review(self, code: str, zh: str, en: str, *, values: dict[str, Any] | None = None) -> None:
        """Record that a caseworker must decide, and stop."""
        self.conditions.append(
            ConditionResult(
                code=code,
                passed=False,
                values={k: _text(v) for k, v in (values or {}).items()},
                reason_zh=zh,
                reason_en=en,
                legal_basis=None,
            )
        )
        self.review_reasons.append(code)
        raise NeedsReview(code)

    def parameter(self, params: ParameterSet, name: str, on: date, region: str) -> Decimal:
        try:
            return params[name].at(on, region)
        except ParameterNotCovered as exc:
            self.review(
                "PARAMETER_NOT_COVERED",
                f"参数 {name} 在 {on.isoformat()}（地区 {region}）没有有效取值，需人工核定",
                str(exc),
                values={"parameter": name, "date": on, "region": region},
            )
            raise  # unreachable: review() raises


def _text(value: Any) -> str:
    if isinstance(value, Decimal):
        return f"{value:f}"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass(frozen=True)
class Amounts:
    kind: ScheduleKind
    instalments: tuple[Instalment, ...]

    @property
    def total(self) -> Decimal:
        return sum((i.amount for i in self.instalments), Decimal("0.00"))


RuleFunction = Callable[[Case, ParameterSet, Explanation], Amounts]


@dataclass(frozen=True)
class PublicNotice:
    """公示 before money moves: a number of days, counted in Chinese working days or calendar days."""

    days: int
    working_days: bool
    basis: LegalBasis


@dataclass(frozen=True)
class RulePack:
    programme_id: str
    version: str
    title_zh: str
    title_en: str
    jurisdiction: str  # "national" or a province code ("14" Shanxi, "43" Hunan, "33" Zhejiang, "15" Inner Mongolia)
    effective_from: date
    effective_to: date | None
    legal_basis: tuple[LegalBasis, ...]
    applicant_kinds: tuple[ApplicantKind, ...]
    facts_needed: tuple[str, ...]
    fund_code: str
    rules: RuleFunction
    public_notice: PublicNotice | None = None
    evaluation_date: Callable[[ApplicationSubmittedPayload], date] | None = None

    def in_force(self, on: date) -> bool:
        return self.effective_from <= on and (self.effective_to is None or on <= self.effective_to)

    def applies_to_region(self, region_code: str) -> bool:
        return self.jurisdiction == "national" or region_code.startswith(self.jurisdiction)


@dataclass(frozen=True)
class Evaluation:
    pack: RulePack
    outcome: Outcome
    amounts: Amounts | None
    conditions: tuple[ConditionResult, ...]
    on: date

    @property
    def total(self) -> Decimal:
        return self.amounts.total if self.amounts and self.outcome is Outcome.ELIGIBLE else Decimal("0.00")


def evaluate(pack: RulePack, application: ApplicationSubmittedPayload, on: date, params: ParameterSet) -> Evaluation:
    """Apply one rule pack to one application, recording why."""
    explanation = Explanation(pack)
    case = Case(application, on)
    kind = application.applicant.kind.value
    accepted = "/".join(k.value for k in pack.applicant_kinds)
    region = application.jurisdiction
    covered = pack.applies_to_region(region)
    try:
        explanation.check(
            "APPLICANT_KIND",
            application.applicant.kind in pack.applicant_kinds,
            f"申请人类型为{kind}，本项目受理{accepted}",
            f"applicant is a {kind}; the programme accepts {accepted}",
            values={"applicant_kind": kind},
        )
        explanation.check(
            "JURISDICTION",
            covered,
            f"经办地区 {region} {'属于' if covered else '不属于'}本政策适用范围（{pack.jurisdiction}）",
            f"handling region {region} {'is' if covered else 'is not'} covered by this policy ({pack.jurisdiction})",
            values={"jurisdiction": region, "policy_jurisdiction": pack.jurisdiction},
        )
        amounts = pack.rules(case, params, explanation)
    except Ineligible:
        return Evaluation(pack, Outcome.INELIGIBLE, None, tuple(explanation.conditions), on)
    except NeedsReview:
        return Evaluation(pack, Outcome.NEEDS_REVIEW, None, tuple(explanation.conditions), on)
    if amounts.total <= 0:
        explanation.check("AMOUNT_POSITIVE", False, "核定补贴金额为零", "the computed amount is zero", stop=False)
        return Evaluation(pack, Outcome.INELIGIBLE, amounts, tuple(explanation.conditions), on)
    return Evaluation(pack, Outcome.ELIGIBLE, amounts, tuple(explanation.conditions), on)


class Catalogue:
    """Every rule pack, by programme and effective period."""

    def __init__(self, packs: Iterable[RulePack]) -> None:
        self._packs: dict[str, list[RulePack]] = {}
        for p in packs:
            versions = self._packs.setdefault(p.programme_id, [])
            for other in versions:
                overlap = p.effective_from <= (other.effective_to or date.max) and other.effective_from <= (
                    p.effective_to or date.max
                )
                if overlap:
                    raise ValueError(f"{p.programme_id}: versions {p.version} and {other.version} overlap")
            versions.append(p)

    def programmes(self) -> list[str]:
        return sorted(self._packs)

    def versions(self, programme_id: str) -> list[RulePack]:
        return sorted(self._packs.get(programme_id, []), key=lambda p: p.effective_from)

    def pack_for(self, programme_id: str, on: date) -> RulePack | None:
        for p in self._packs.get(programme_id, []):
            if p.in_force(on):
                return p
        return None

    def evaluation_date(self, application: ApplicationSubmittedPayload) -> date:
        """The date whose rules apply: the pack's own choice, else the end of the claimed period, else submission."""
        for p in self._packs.get(application.programme_id, []):
            if p.evaluation_date is not None:
                return p.evaluation_date(application)
        if application.period is not None:
            return application.period.end
        return application.submitted_at.date()
