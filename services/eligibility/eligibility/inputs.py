"""The facts object outside auditors send to the dry run (`POST /v1/evaluate`) and the command line
(`eligibility evaluate`): who applies, for whom, their facts and earlier grants. Documented per programme
in docs/facts/. Nothing here is stored."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from subsidy_contracts.common import ApplicantKind, EnterpriseSize, ProgrammeId, RegionCode, Sex
from subsidy_contracts.facts import Fact

from .domain.rules import Case, Grant, Party, Period

APPLICANT_ID = uuid.UUID("00000000-0000-4000-8000-00000000a001")
BENEFICIARY_ID = uuid.UUID("00000000-0000-4000-8000-00000000b001")
ALIASES = {"applicant": str(APPLICANT_ID), "beneficiary": str(BENEFICIARY_ID)}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PartyIn(Strict):
    kind: ApplicantKind = ApplicantKind.PERSON
    id: uuid.UUID | None = Field(default=None, description="Defaults to a fixed id; facts may say 'applicant'.")
    region_code: RegionCode
    birth_date: date | None = Field(default=None, description="Persons: from the resident ID.")
    sex: Sex | None = None
    size: EnterpriseSize | None = Field(default=None, description="Enterprises: micro, small, medium or large.")
    name: str = ""


class PeriodIn(Strict):
    start: date
    end: date


class GrantIn(Strict):
    """An earlier grant (for caps and exclusivity); the service reads these from its own records instead."""

    programme_id: ProgrammeId
    subject_id: uuid.UUID | None = Field(default=None, description="Defaults to the person the case is about.")
    decision_id: uuid.UUID | None = None
    granted_on: date
    start: date | None = None
    end: date | None = None
    amount: Decimal = Decimal("0.00")
    status: str = Field(default="approved", pattern="^(approved|paid|cancelled)$")
    attributes: dict[str, str] = Field(default_factory=dict)


class EvaluationInput(Strict):
    programme_id: ProgrammeId | None = Field(default=None, description="The command line's --programme wins.")
    on: date | None = Field(default=None, description="Evaluation date; defaults to the programme's own choice.")
    applicant: PartyIn
    beneficiary: PartyIn | None = None
    period: PeriodIn | None = None
    jurisdiction: RegionCode | None = Field(default=None, description="Handling region; defaults to the applicant's.")
    submitted_on: date | None = None
    commitment: bool = False
    facts: list[Fact] = Field(default_factory=list)
    history: list[GrantIn] = Field(default_factory=list)

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> EvaluationInput:
        """Validate, first replacing the subject aliases 'applicant' and 'beneficiary' in facts and grants."""
        return cls.model_validate(resolve_aliases(raw))

    def to_case(self, programme_id: str, today: date, on: date | None = None) -> Case:
        """The case to evaluate; `on` (the command line's --on) overrides the object's own date."""
        on = on or self.on
        applicant = _party(self.applicant, APPLICANT_ID)
        beneficiary = _party(self.beneficiary, BENEFICIARY_ID) if self.beneficiary else None
        person = beneficiary or (applicant if applicant.kind is ApplicantKind.PERSON else None)
        submitted = self.submitted_on or on or today
        return Case(
            programme_id=programme_id,
            applicant=applicant,
            beneficiary=beneficiary,
            facts=tuple(self.facts),
            jurisdiction=self.jurisdiction or applicant.region_code,
            submitted_on=submitted,
            on=on or submitted,
            period=Period(self.period.start, self.period.end) if self.period else None,
            commitment=self.commitment,
            history=tuple(
                Grant(
                    programme_id=g.programme_id,
                    subject_id=g.subject_id or (person.id if person else applicant.id),
                    decision_id=g.decision_id
                    or uuid.uuid5(uuid.NAMESPACE_URL, f"grant:{g.programme_id}:{g.granted_on}"),
                    granted_on=g.granted_on,
                    start=g.start,
                    end=g.end,
                    amount=g.amount,
                    status=g.status,
                    attributes=tuple(sorted(g.attributes.items())),
                )
                for g in self.history
            ),
        )


def _party(p: PartyIn, default_id: uuid.UUID) -> Party:
    return Party(
        id=p.id or default_id,
        kind=p.kind,
        region_code=p.region_code,
        birth_date=p.birth_date,
        sex=p.sex,
        size=p.size,
        name=p.name,
    )


def resolve_aliases(raw: dict[str, Any]) -> dict[str, Any]:
    ids = dict(ALIASES)
    for role in ("applicant", "beneficiary"):
        party = raw.get(role)
        if isinstance(party, dict) and party.get("id"):
            ids[role] = str(party["id"])
    out = dict(raw)
    if isinstance(raw.get("facts"), list):
        out["facts"] = [_resolve_fact(f, ids) for f in raw["facts"]]
    if isinstance(raw.get("history"), list):
        out["history"] = [
            {**g, "subject_id": ids.get(g["subject_id"], g["subject_id"])}
            if isinstance(g, dict) and "subject_id" in g
            else g
            for g in raw["history"]
        ]
    return out


def _resolve_fact(fact: Any, ids: dict[str, str]) -> Any:
    if not isinstance(fact, dict):
        return fact
    out = dict(fact)
    for key in ("subject_id", "host_enterprise_id", "employer_id"):
        if isinstance(out.get(key), str) and out[key] in ids:
            out[key] = ids[out[key]]
    return out
