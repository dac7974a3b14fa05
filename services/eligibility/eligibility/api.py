"""HTTP interface of eligibility: the auditors' dry run, the programme catalogue, decisions, and the
caseworkers' objection and review actions."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from subsidy_contracts.eligibility import (
    DecisionRevised,
    DecisionRevisedPayload,
    EntitlementReleased,
    EntitlementReleasedPayload,
    Instalment,
    Outcome,
    PublicNoticeEnded,
    PublicNoticeEndedPayload,
    PublicNoticeResult,
)
from subsidy_contracts.registration import ApplicationSubmittedPayload
from subsidy_runtime.auth import requires
from subsidy_runtime.masking import mask_value
from subsidy_runtime.problems import Problem
from subsidy_runtime.service import ServiceRuntime

from .decide import PRODUCER, subjects_of
from .domain.dates import local_date
from .domain.parameters import ParameterSet
from .domain.rules import Catalogue
from .evaluate import decision_document, evaluate_input
from .inputs import EvaluationInput

router = APIRouter(prefix="/v1")
AnyReader = Depends(requires("auditor", "caseworker", "integration"))
Caseworker = Depends(requires("caseworker"))
Objector = Depends(requires("caseworker", "integration"))


def _runtime(request: Request) -> ServiceRuntime:
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime


def _catalogue(request: Request) -> tuple[Catalogue, ParameterSet]:
    catalogue: Catalogue = request.app.state.catalogue
    params: ParameterSet = request.app.state.parameters
    return catalogue, params


@router.post(
    "/evaluate", tags=["dry run"], summary="Evaluate one facts object; nothing is stored", dependencies=[AnyReader]
)
async def dry_run(
    body: dict[str, Any],
    request: Request,
    programme_id: Annotated[str | None, Query(max_length=80, description="Overrides programme_id in the body")] = None,
) -> dict[str, Any]:
    catalogue, params = _catalogue(request)
    data = EvaluationInput.parse(body)
    programme = programme_id or data.programme_id
    if not programme:
        raise Problem(
            422, "validation", "Request is invalid", "programme_id is required (query or body)", "缺少项目编号"
        )
    case, evaluation = evaluate_input(catalogue, params, programme, data, local_date(datetime.now(UTC)))
    return decision_document(case, evaluation, catalogue)


@router.get(
    "/programmes",
    tags=["catalogue"],
    summary="Every programme, with its versions per jurisdiction",
    dependencies=[AnyReader],
)
async def programmes(request: Request) -> list[dict[str, Any]]:
    catalogue, _ = _catalogue(request)
    return [
        {
            "programme_id": p.programme_id,
            "version": p.version,
            "title_zh": p.title_zh,
            "title_en": p.title_en,
            "jurisdiction": p.jurisdiction,
            "effective_from": p.effective_from.isoformat(),
            "effective_to": p.effective_to.isoformat() if p.effective_to else None,
            "applicant_kinds": [k.value for k in p.applicant_kinds],
            "facts_needed": list(p.facts_needed),
            "parameters": list(p.parameters),
            "fund_code": p.fund_code,
            "public_notice": {"days": p.public_notice.days, "working_days": p.public_notice.working_days}
            if p.public_notice
            else None,
            "exclusive_with": list(p.exclusive_with),
            "legal_basis": [b.model_dump() for b in p.legal_basis],
        }
        for name in catalogue.programmes()
        for p in catalogue.versions(name)
    ]


def _decision_out(r: Any) -> dict[str, Any]:
    return {
        "decision_id": str(r["id"]),
        "application_id": str(r["application_id"]),
        "programme_id": r["programme_id"],
        "rule_pack_version": r["rule_pack_version"],
        "outcome": r["outcome"],
        "amount": f"{r['amount']:.2f}",
        "final_outcome": r["final_outcome"],
        "final_amount": f"{r['final_amount']:.2f}" if r["final_amount"] is not None else None,
        "status": r["status"],
        "result": r["result"],
        "schedule_kind": r["schedule_kind"],
        "instalments": r["instalments"],
        "conditions": r["conditions"],
        "legal_basis": r["legal_basis"],
        "evaluated_on": r["evaluated_on"].isoformat(),
        "fund_code": r["fund_code"],
        "public_notice_until": r["public_notice_until"].isoformat() if r["public_notice_until"] else None,
        "decided_at": r["decided_at"].isoformat(),
        "input_snapshot": mask_value(r["input_snapshot"]),  # the stored input, personal numbers masked
    }


@router.get(
    "/decisions/{decision_id}",
    tags=["decisions"],
    summary="A decision with its explanation and input snapshot",
    dependencies=[Depends(requires("auditor", "caseworker"))],
)
async def get_decision(decision_id: uuid.UUID, request: Request) -> dict[str, Any]:
    async with _runtime(request).pool.acquire() as conn:
        row = await conn.fetchrow("SELECT * FROM decisions WHERE id = $1", decision_id)
    if row is None:
        raise Problem(404, "not-found", "Not found", f"decision {decision_id} not found", "决定不存在")
    return _decision_out(row)


@router.get(
    "/decisions",
    tags=["decisions"],
    summary="Decisions by application or by status (review queue)",
    dependencies=[Depends(requires("auditor", "caseworker"))],
)
async def list_decisions(
    request: Request,
    application_id: uuid.UUID | None = None,
    status: Annotated[str | None, Query(max_length=30)] = None,
    outcome: Annotated[str | None, Query(max_length=30)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[dict[str, Any]]:
    async with _runtime(request).pool.acquire() as conn:
        rows = await conn.fetch(
            """SELECT * FROM decisions WHERE ($1::uuid IS NULL OR application_id = $1)
                 AND ($2::text IS NULL OR status = $2) AND ($3::text IS NULL OR outcome = $3)
               ORDER BY decided_at DESC LIMIT $4""",
            application_id,
            status,
            outcome,
            limit,
        )
    return [_decision_out(r) for r in rows]


class ObjectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    raised_by: str = Field(min_length=1, max_length=100, description="Who objects (name or organisation).")
    reason: str = Field(min_length=1, max_length=2000)


@router.post(
    "/decisions/{decision_id}/objections",
    status_code=201,
    tags=["decisions"],
    summary="Object during 公示: the decision is held and goes to review",
    dependencies=[Objector],
)
async def object_to(decision_id: uuid.UUID, body: ObjectionIn, request: Request) -> dict[str, Any]:
    runtime = _runtime(request)
    now = datetime.now(UTC)
    async with runtime.transaction() as tx:
        row = await tx.conn.fetchrow("SELECT * FROM decisions WHERE id = $1 FOR UPDATE", decision_id)
        if row is None:
            raise Problem(404, "not-found", "Not found", f"decision {decision_id} not found", "决定不存在")
        if row["status"] != "public_notice":
            raise Problem(
                409,
                "not-in-public-notice",
                "Not in public notice",
                f"objections are accepted only during 公示; the decision is {row['status']}",
                "仅在公示期内受理异议",
            )
        await tx.conn.execute(
            "INSERT INTO objections (id, decision_id, raised_by, reason) VALUES ($1, $2, $3, $4)",
            uuid.uuid4(),
            decision_id,
            body.raised_by,
            body.reason,
        )
        await tx.conn.execute("UPDATE decisions SET status = 'objected' WHERE id = $1", decision_id)
        payload = PublicNoticeEndedPayload(
            decision_id=decision_id,
            application_id=row["application_id"],
            applicant_id=row["applicant_id"],
            result=PublicNoticeResult.OBJECTED,
            ended_on=local_date(now),
        )
        tx.publish(
            PublicNoticeEnded.create(
                payload,
                producer=PRODUCER,
                subject_key=str(row["applicant_id"]),
                correlation_id=row["correlation_id"],
                causation_id=row["event_id"],
                occurred_at=now,
            )
        )
    return {"decision_id": str(decision_id), "status": "objected"}


class ReviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    outcome: Outcome = Field(description="eligible or ineligible")
    amount: Decimal | None = Field(default=None, description="Amount approved; defaults to the computed one.")
    reason: str = Field(min_length=1, max_length=2000)
    reviewed_by: str = Field(min_length=1, max_length=100)


@router.post(
    "/decisions/{decision_id}/review",
    tags=["decisions"],
    summary="A caseworker decides a case the rules sent to review or an objection reopened",
    dependencies=[Caseworker],
)
async def review(decision_id: uuid.UUID, body: ReviewIn, request: Request) -> dict[str, Any]:
    if body.outcome is Outcome.NEEDS_REVIEW:
        raise Problem(
            422,
            "validation",
            "Request is invalid",
            "outcome must be eligible or ineligible",
            "复核结论须为通过或不通过",
        )
    runtime = _runtime(request)
    now = datetime.now(UTC)
    async with runtime.transaction() as tx:
        row = await tx.conn.fetchrow("SELECT * FROM decisions WHERE id = $1 FOR UPDATE", decision_id)
        if row is None:
            raise Problem(404, "not-found", "Not found", f"decision {decision_id} not found", "决定不存在")
        if not (row["outcome"] == "needs_review" or row["status"] == "objected") or row["final_outcome"] is not None:
            raise Problem(
                409, "not-reviewable", "Not reviewable", "only decisions in review can be reviewed", "该决定不在复核中"
            )
        instalments = [Instalment.model_validate(i) for i in row["instalments"]]
        amount = body.amount if body.amount is not None else sum((i.amount for i in instalments), Decimal("0.00"))
        if body.outcome is Outcome.ELIGIBLE:
            if amount <= 0:
                raise Problem(
                    422, "validation", "Request is invalid", "an approval needs a positive amount", "通过须有金额"
                )
            if not instalments or sum(i.amount for i in instalments) != amount:
                instalments = [Instalment(number=1, amount=amount, due_on=local_date(now))]
        else:
            amount, instalments = Decimal("0.00"), []
        await tx.conn.execute(
            """UPDATE decisions SET final_outcome = $2, final_amount = $3, reviewed_by = $4, review_reason = $5,
                   status = CASE WHEN $2 = 'eligible' THEN 'released' ELSE 'decided' END,
                   released_at = CASE WHEN $2 = 'eligible' THEN $6 ELSE released_at END,
                   instalments = $7
               WHERE id = $1""",
            decision_id,
            body.outcome.value,
            amount,
            body.reviewed_by,
            body.reason,
            now,
            [i.model_dump(mode="json") for i in instalments],
        )
        snapshot = ApplicationSubmittedPayload.model_validate(row["input_snapshot"])
        if body.outcome is Outcome.ELIGIBLE:
            subject, household = subjects_of(snapshot)
            await tx.conn.execute(
                """INSERT INTO grants (decision_id, programme_id, subject_id, household_id, granted_on, amount, status,
                                       start_on, end_on)
                   VALUES ($1, $2, $3, $4, $5, $6, 'approved', $7, $8)
                   ON CONFLICT (decision_id) DO UPDATE SET amount = EXCLUDED.amount, status = 'approved'""",
                decision_id,
                row["programme_id"],
                subject,
                household,
                local_date(now),
                amount,
                min((i.covers_from for i in instalments if i.covers_from), default=None),
                max((i.covers_to for i in instalments if i.covers_to), default=None),
            )
        else:
            await tx.conn.execute(
                "UPDATE grants SET status = 'cancelled', updated_at = now() WHERE decision_id = $1", decision_id
            )
        revised = DecisionRevisedPayload(
            decision_id=decision_id,
            application_id=row["application_id"],
            applicant_id=row["applicant_id"],
            previous_outcome=row["outcome"],
            outcome=body.outcome,
            amount=amount,
            instalments=instalments,
            reason=body.reason,
            reviewed_by=body.reviewed_by,
            revised_at=now,
        )
        common = {
            "producer": PRODUCER,
            "subject_key": str(row["applicant_id"]),
            "correlation_id": row["correlation_id"],
            "causation_id": row["event_id"],
            "occurred_at": now,
        }
        tx.publish(DecisionRevised.create(revised, **common))
        if body.outcome is Outcome.ELIGIBLE:
            tx.publish(
                EntitlementReleased.create(
                    EntitlementReleasedPayload(
                        decision_id=decision_id,
                        application_id=row["application_id"],
                        applicant_id=row["applicant_id"],
                        programme_id=row["programme_id"],
                        fund_code=row["fund_code"],
                        payee=snapshot.payee,
                        instalments=instalments,
                        released_at=now,
                    ),
                    **common,
                )
            )
    return {"decision_id": str(decision_id), "outcome": body.outcome.value, "amount": f"{amount:.2f}"}
