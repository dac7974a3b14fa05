"""Rule packs and the explained evaluation of one case. Pure: no I/O, no clock.

A rule pack is one version of one programme for one jurisdiction: when it applies, its legal basis, who may
apply, which facts it reads, the fund it pays from, the 公示 it needs, the programmes it may not be combined
with, and a rule function. The rule function records every condition it checks (with the values it saw, a
reason code and Chinese and English text) on an Explanation, and returns the amounts.

Evaluation is the hot path of bulk runs (tens of thousands of cases a second), so the domain uses slotted
dataclasses; services turn them into contract models at the edge.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, TypeVar

from subsidy_contracts.common import ApplicantKind, EnterpriseSize, LegalBasis, Sex
from subsidy_contracts.eligibility import Outcome, ScheduleKind
from subsidy_contracts.facts import Fact

from .parameters import ParameterNotCovered, ParameterSet
from .workdays import CalendarNotCovered

F = TypeVar("F")
FEN = Decimal("0.01")
ZERO = Decimal("0.00")


def yuan(value: Decimal) -> Decimal:
    """Round to fen, half up (the usual rule for payable amounts)."""
    return value.quantize(FEN, rounding=ROUND_HALF_UP)


# ------------------------------------------------------------------------------------------------ inputs
# The per-case values below (parties, cases, conditions, payments, evaluations) are slotted dataclasses that are
# not frozen: a frozen dataclass sets each field through object.__setattr__, which made building them a large
# share of a bulk run's CPU time. They are treated as immutable all the same: rules only read them, and a
# changed copy is made with dataclasses.replace.
@dataclass(slots=True)
class Party:
    """The applicant or the beneficiary, as far as rules need to know them."""

    id: uuid.UUID
    kind: ApplicantKind
    region_code: str
    birth_date: date | None = None
    sex: Sex | None = None
    size: EnterpriseSize | None = None
    name: str = ""

    def age_on(self, day: date) -> int:
        if self.birth_date is None:
            raise ValueError("the party has no birth date")
        b = self.birth_date
        return day.year - b.year - ((day.month, day.day) < (b.month, b.day))


@dataclass(frozen=True, slots=True)
class Grant:
    """An earlier decision that granted money (kept in the eligibility schema), for caps and exclusivity."""

    programme_id: str
    subject_id: uuid.UUID
    decision_id: uuid.UUID
    granted_on: date
    start: date | None = None
    end: date | None = None
    amount: Decimal = ZERO
    status: str = "approved"  # approved | paid | cancelled
    attributes: tuple[tuple[str, str], ...] = ()

    def attribute(self, name: str) -> str | None:
        return next((v for k, v in self.attributes if k == name), None)

    @property
    def active(self) -> bool:
        return self.status != "cancelled"

    def overlaps(self, start: date | None, end: date | None) -> bool:
        if self.start is None or start is None:
            return True
        return self.start <= (end or date.max) and start <= (self.end or date.max)


@dataclass(slots=True)
class Period:
    start: date
    end: date


@dataclass(slots=True)
class Case:
    """What a rule function sees: the parties, their facts and earlier grants, and the date whose rules apply."""

    programme_id: str
    applicant: Party
    facts: tuple[Fact, ...]
    jurisdiction: str
    submitted_on: date
    on: date
    beneficiary: Party | None = None
    period: Period | None = None
    commitment: bool = False
    history: tuple[Grant, ...] = ()

    @property
    def person(self) -> Party | None:
        """The person the programme is about: the beneficiary, or the applicant when that is a person."""
        if self.beneficiary is not None:
            return self.beneficiary
        return self.applicant if self.applicant.kind is ApplicantKind.PERSON else None

    def facts_of(self, kind: type[F], subject: uuid.UUID | None = None) -> list[F]:
        return [f for f in self.facts if isinstance(f, kind) and (subject is None or f.subject_id == subject)]

    def one(self, kind: type[F], subject: uuid.UUID | None = None) -> F | None:
        found = self.facts_of(kind, subject)
        return found[-1] if found else None  # the latest recorded wins

    def grants(self, programme_ids: Iterable[str], subject: uuid.UUID | None = None) -> list[Grant]:
        wanted = set(programme_ids)
        return [
            g
            for g in self.history
            if g.active and g.programme_id in wanted and (subject is None or g.subject_id == subject)
        ]


# ----------------------------------------------------------------------------------------------- outputs
@dataclass(frozen=True, slots=True)
class Citation:
    """A legal basis as a condition cites it: the contract's LegalBasis fields in its order, as a dataclass the
    JSON writer serialises natively (a pydantic model needs a callback per condition of every decision)."""

    document_number: str
    article: str
    title: str | None

    def to_contract(self) -> LegalBasis:
        return LegalBasis(document_number=self.document_number, article=self.article, title=self.title)


_CITATIONS: dict[int, tuple[LegalBasis, Citation]] = {}


def citation(basis: LegalBasis) -> Citation:
    """The citation of a legal basis; rule packs share a few basis constants, so each is converted once (keyed
    by identity: hashing a pydantic model costs more than the conversion)."""
    hit = _CITATIONS.get(id(basis))
    if hit is not None and hit[0] is basis:
        return hit[1]
    cited = Citation(basis.document_number, basis.article, basis.title)
    if len(_CITATIONS) < 4096:
        _CITATIONS[id(basis)] = (basis, cited)
    return cited


@dataclass(slots=True)
class Condition:
    code: str
    passed: bool
    values: dict[str, str]
    reason_zh: str
    reason_en: str
    legal_basis: Citation | None


@dataclass(slots=True)
class Payment:
    number: int
    amount: Decimal
    due_on: date
    covers_from: date | None = None
    covers_to: date | None = None


@dataclass(slots=True)
class Amounts:
    kind: ScheduleKind
    instalments: tuple[Payment, ...]

    @property
    def total(self) -> Decimal:
        return sum((i.amount for i in self.instalments), ZERO)

    @classmethod
    def none(cls) -> Amounts:
        """No money: the decision of a non-monetary programme (its result is in the attributes)."""
        return cls(ScheduleKind.ONE_OFF, ())

    @classmethod
    def one_off(
        cls, amount: Decimal, due_on: date, covers_from: date | None = None, covers_to: date | None = None
    ) -> Amounts:
        return cls(ScheduleKind.ONE_OFF, (Payment(1, yuan(amount), due_on, covers_from, covers_to),))

    @classmethod
    def monthly(cls, amounts: Iterable[tuple[date, date, Decimal]]) -> Amounts:
        """One instalment per (month start, month end, amount), due at the end of its month."""
        return cls(
            ScheduleKind.MONTHLY,
            tuple(Payment(n, yuan(a), end, start, end) for n, (start, end, a) in enumerate(amounts, 1)),
        )

    @classmethod
    def yearly(cls, amounts: Iterable[tuple[date, date, Decimal]]) -> Amounts:
        return cls(
            ScheduleKind.YEARLY,
            tuple(Payment(n, yuan(a), start, start, end) for n, (start, end, a) in enumerate(amounts, 1)),
        )


class Ineligible(Exception):
    """Raised by a rule function to stop at a failed condition (already recorded on the explanation)."""


class NeedsReview(Exception):
    """The rules cannot decide (missing or unverifiable facts, a parameter not yet known): a caseworker must."""


def _bool_text(value: bool) -> str:
    return "true" if value else "false"


def _decimal_text(value: Decimal) -> str:
    return f"{value:f}"


# Dispatch on the exact type: this runs for every value of every condition of every decision.
_TEXT: dict[type, Callable[[Any], str]] = {
    str: str,
    bool: _bool_text,
    int: str,
    date: date.isoformat,
    Decimal: _decimal_text,
}


def _text(value: Any) -> str:
    convert = _TEXT.get(type(value))
    if convert is not None:
        return convert(value)
    if isinstance(value, bool):
        return _bool_text(value)
    if isinstance(value, Decimal):
        return _decimal_text(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _texts(values: dict[str, Any]) -> dict[str, str]:
    text = _TEXT.get
    return {k: (text(type(v)) or _text)(v) for k, v in values.items()}


@dataclass(slots=True)
class Explanation:
    pack: RulePack
    conditions: list[Condition] = field(default_factory=list)
    attributes: dict[str, str] = field(default_factory=dict)
    """Facts about the grant that later caps need (occupation and level, household ...)."""

    @property
    def default_basis(self) -> Citation | None:
        """The pack's first legal basis, cited by conditions that name none of their own."""
        return citation(self.pack.legal_basis[0]) if self.pack.legal_basis else None

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
            Condition(
                code,
                passed,
                _texts(values) if values else {},
                zh,
                en,
                citation(basis) if basis is not None else self.default_basis,
            )
        )
        if not passed and stop:
            raise Ineligible(code)
        return passed

    def note(
        self, code: str, zh: str, en: str, *, values: dict[str, Any] | None = None, basis: LegalBasis | None = None
    ) -> None:
        """Record how an amount or a period was worked out (a passed condition)."""
        self.check(code, True, zh, en, values=values, basis=basis)

    def review(
        self, code: str, zh: str, en: str, *, values: dict[str, Any] | None = None, basis: LegalBasis | None = None
    ) -> None:
        """Record that a caseworker must decide, and stop. Cite the rule whose condition cannot be decided."""
        self.conditions.append(
            Condition(code, False, _texts(values) if values else {}, zh, en, citation(basis) if basis else None)
        )
        raise NeedsReview(code)

    def parameter(self, params: ParameterSet, name: str, on: date, region: str = "") -> Decimal:
        try:
            return params[name].at(on, region)
        except ParameterNotCovered as exc:
            self.review(
                "PARAMETER_NOT_COVERED",
                f"参数 {name} 在 {on.isoformat()}（地区 {region or '全国'}）没有有效取值，需人工核定",
                str(exc),
                values={"parameter": name, "date": on, "region": region},
            )
            raise  # unreachable: review() raises


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
    jurisdiction: str  # "national" or a province code: "14" Shanxi, "15" Inner Mongolia, "33" Zhejiang, "43" Hunan
    effective_from: date
    effective_to: date | None
    legal_basis: tuple[LegalBasis, ...]
    applicant_kinds: tuple[ApplicantKind, ...]
    facts_needed: tuple[str, ...]
    fund_code: str
    rules: RuleFunction
    parameters: tuple[str, ...] = ()
    public_notice: PublicNotice | None = None
    exclusive_with: tuple[str, ...] = ()
    """Programmes a person may not hold at the same time (overlapping periods, or at all when undated)."""
    evaluation_date: Callable[[Case], date] | None = None
    monetary: bool = True
    """False for programmes that decide a right rather than pay money (e.g. which title level one may apply
    for): an eligible decision then has no amount, no grant and nothing to release for payment; its result
    is in the evaluation's attributes."""

    def in_force(self, on: date) -> bool:
        return self.effective_from <= on and (self.effective_to is None or on <= self.effective_to)

    def applies_to_region(self, region_code: str) -> bool:
        return self.jurisdiction == "national" or region_code.startswith(self.jurisdiction)


@dataclass(slots=True)
class Evaluation:
    pack: RulePack
    outcome: Outcome
    amounts: Amounts | None
    conditions: tuple[Condition, ...]
    on: date
    attributes: dict[str, str] = field(default_factory=dict)

    @property
    def total(self) -> Decimal:
        return self.amounts.total if self.amounts and self.outcome is Outcome.ELIGIBLE else ZERO

    @property
    def covers(self) -> tuple[date | None, date | None]:
        """First and last day the granted money is for (None when undated)."""
        if self.amounts is None or self.outcome is not Outcome.ELIGIBLE:
            return None, None
        starts = [p.covers_from for p in self.amounts.instalments if p.covers_from]
        ends = [p.covers_to for p in self.amounts.instalments if p.covers_to]
        return (min(starts) if starts else None), (max(ends) if ends else None)


_NO_CLASH: dict[int, tuple[RulePack, Condition]] = {}


def _exclusivity(pack: RulePack, case: Case, x: Explanation) -> None:
    """No overlapping grant of an exclusive programme to the same subject (the person, else the applicant)."""
    if not pack.exclusive_with:
        return
    subject = case.person or case.applicant
    period = case.period
    clashes = [
        g
        for g in case.grants(pack.exclusive_with, subject.id)
        if g.overlaps(period.start if period else None, period.end if period else None)
    ]
    if not clashes:  # the usual case, the same condition for every case of the pack: recorded once
        hit = _NO_CLASH.get(id(pack))
        if hit is None or hit[0] is not pack:
            hit = (pack, _no_clash_condition(pack))
            _NO_CLASH[id(pack)] = hit
        x.conditions.append(hit[1])
        return
    x.check(
        "NOT_COMBINED",
        False,
        "不得重复享受：" + "；".join(f"已享受{g.programme_id}（决定{str(g.decision_id)[:8]}）" for g in clashes),
        "may not be combined: " + ", ".join(f"{g.programme_id} already granted" for g in clashes),
        values={"exclusive_with": ", ".join(pack.exclusive_with), "conflicts": len(clashes)},
    )


def _no_clash_condition(pack: RulePack) -> Condition:
    x = Explanation(pack)
    x.check(
        "NOT_COMBINED",
        True,
        "不得重复享受：无冲突的已享受补贴",
        "may not be combined: no conflicting grant",
        values={"exclusive_with": ", ".join(pack.exclusive_with), "conflicts": 0},
    )
    return x.conditions[0]


_ADMISSIONS: dict[tuple[int, ApplicantKind, str], tuple[RulePack, tuple[Condition, ...]]] = {}


def _admission(pack: RulePack, applicant_kind: ApplicantKind, region: str) -> tuple[Condition, ...]:
    """Who may apply and where: the same conditions for every case of a pack, kind and region, cached because
    bulk runs evaluate thousands of cases of one pack (keyed by identity: hashing a pack is costly)."""
    key = (id(pack), applicant_kind, region)
    hit = _ADMISSIONS.get(key)
    if hit is not None and hit[0] is pack:
        return hit[1]
    conditions = _admission_conditions(pack, applicant_kind, region)
    if len(_ADMISSIONS) < 65536:
        _ADMISSIONS[key] = (pack, conditions)
    return conditions


def _admission_conditions(pack: RulePack, applicant_kind: ApplicantKind, region: str) -> tuple[Condition, ...]:
    x = Explanation(pack)
    kind = applicant_kind.value
    accepted = "/".join(k.value for k in pack.applicant_kinds)
    covered = pack.applies_to_region(region)
    x.check(
        "APPLICANT_KIND",
        applicant_kind in pack.applicant_kinds,
        f"申请人类型为{kind}，本项目受理{accepted}",
        f"applicant is a {kind}; the programme accepts {accepted}",
        values={"applicant_kind": kind},
        stop=False,
    )
    x.check(
        "JURISDICTION",
        covered,
        f"经办地区 {region} {'属于' if covered else '不属于'}本政策适用范围（{pack.jurisdiction}）",
        f"handling region {region} {'is' if covered else 'is not'} covered by this policy ({pack.jurisdiction})",
        values={"jurisdiction": region, "policy_jurisdiction": pack.jurisdiction},
        stop=False,
    )
    if not x.conditions[0].passed:
        return (x.conditions[0],)  # evaluation stops at the first failed condition
    return tuple(x.conditions)


def evaluate(pack: RulePack, case: Case, params: ParameterSet) -> Evaluation:
    """Apply one rule pack to one case, recording why."""
    x = Explanation(pack)
    try:
        for condition in _admission(pack, case.applicant.kind, case.jurisdiction):
            x.conditions.append(condition)
            if not condition.passed:
                raise Ineligible(condition.code)
        _exclusivity(pack, case, x)
        amounts = pack.rules(case, params, x)
    except Ineligible:
        return Evaluation(pack, Outcome.INELIGIBLE, None, tuple(x.conditions), case.on, x.attributes)
    except NeedsReview:
        return Evaluation(pack, Outcome.NEEDS_REVIEW, None, tuple(x.conditions), case.on, x.attributes)
    except CalendarNotCovered as exc:
        x.conditions.append(
            Condition(
                "CALENDAR_NOT_COVERED",
                False,
                {"date": exc.day.isoformat()},
                f"{exc.day.isoformat()} 的法定工作日安排尚未发布或未录入，需人工核定",
                str(exc),
                None,
            )
        )
        return Evaluation(pack, Outcome.NEEDS_REVIEW, None, tuple(x.conditions), case.on, x.attributes)
    if pack.monetary and amounts.total <= 0:
        x.check("AMOUNT_POSITIVE", False, "核定补贴金额为零", "the computed amount is zero", stop=False)
        return Evaluation(pack, Outcome.INELIGIBLE, amounts, tuple(x.conditions), case.on, x.attributes)
    return Evaluation(pack, Outcome.ELIGIBLE, amounts, tuple(x.conditions), case.on, x.attributes)


class Catalogue:
    """Every rule pack, by programme, jurisdiction and effective period."""

    def __init__(self, packs: Iterable[RulePack]) -> None:
        self._packs: dict[str, list[RulePack]] = {}
        self._chosen: dict[tuple[str, date, str], RulePack | None] = {}
        for p in packs:
            versions = self._packs.setdefault(p.programme_id, [])
            for other in versions:
                overlap = p.effective_from <= (other.effective_to or date.max) and other.effective_from <= (
                    p.effective_to or date.max
                )
                if overlap and other.jurisdiction == p.jurisdiction:
                    raise ValueError(
                        f"{p.programme_id}: versions {p.version} and {other.version} overlap in {p.jurisdiction}"
                    )
            versions.append(p)

    def programmes(self) -> list[str]:
        return sorted(self._packs)

    def packs(self) -> list[RulePack]:
        return [p for versions in self._packs.values() for p in versions]

    def versions(self, programme_id: str) -> list[RulePack]:
        return sorted(self._packs.get(programme_id, []), key=lambda p: (p.jurisdiction, p.effective_from))

    def pack_for(self, programme_id: str, on: date, region: str = "") -> RulePack | None:
        """The version in force on `on` for the region: a province's own pack, else the national one.

        When no version in force covers the region, one in force elsewhere is returned all the same, so that
        the decision states the jurisdiction as the reason instead of "unknown programme".
        """
        key = (programme_id, on, region)
        try:
            return self._chosen[key]
        except KeyError:
            chosen = self._pack_for(programme_id, on, region)
        if len(self._chosen) < 65536:  # bulk runs ask for a few programmes on a few hundred dates
            self._chosen[key] = chosen
        return chosen

    def _pack_for(self, programme_id: str, on: date, region: str) -> RulePack | None:
        in_force = [p for p in self._packs.get(programme_id, []) if p.in_force(on)]
        if not in_force:
            return None
        applicable = [p for p in in_force if p.applies_to_region(region)] if region else in_force
        return max(applicable or in_force, key=lambda p: 0 if p.jurisdiction == "national" else len(p.jurisdiction))

    def evaluation_date(self, case: Case) -> date:
        """The date whose rules apply: the packs' own choice, else the end of the claimed period, else submission."""
        for p in self._packs.get(case.programme_id, []):
            if p.evaluation_date is not None:
                return p.evaluation_date(case)
        if case.period is not None:
            return case.period.end
        return case.submitted_on
