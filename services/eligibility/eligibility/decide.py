"""Deciding applications in batches: evaluate (pure), store the decisions, publish them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from subsidy_contracts.eligibility import (
    ConditionResult,
    DecisionMade,
    DecisionMadePayload,
    EntitlementReleased,
    EntitlementReleasedPayload,
    Outcome,
    RulePackRef,
)
from subsidy_contracts.registration import ApplicationSubmitted, ApplicationWithdrawn
from subsidy_runtime.db import insert_many
from subsidy_runtime.outbox import Transaction

from .domain.parameters import ParameterSet
from .domain.rules import Catalogue, Evaluation, evaluate

PRODUCER = "eligibility"


def decide(catalogue: Catalogue, params: ParameterSet, event: ApplicationSubmitted, now: datetime) -> DecisionMade:
    app = event.payload
    on = catalogue.evaluation_date(app)
    pack = catalogue.pack_for(app.programme_id, on)
    decision_id = uuid.uuid5(uuid.NAMESPACE_URL, f"decision:{app.application_id}")
    if pack is None:
        known = catalogue.versions(app.programme_id)
        reason = ConditionResult(
            code="PROGRAMME_IN_FORCE",
            passed=False,
            values={
                "programme_id": app.programme_id,
                "date": on.isoformat(),
                "versions": ", ".join(f"{p.version} ({p.effective_from}–{p.effective_to or ''})" for p in known)
                or "none",
            },
            reason_zh=f"{on.isoformat()} 没有生效的 {app.programme_id} 政策"
            if known
            else f"未知项目 {app.programme_id}",
            reason_en=f"no version of {app.programme_id} is in force on {on.isoformat()}"
            if known
            else f"unknown programme {app.programme_id}",
        )
        payload = DecisionMadePayload(
            decision_id=decision_id,
            application_id=app.application_id,
            applicant_id=app.applicant.applicant_id,
            rule_pack=RulePackRef(programme_id=app.programme_id, version="-", jurisdiction="-"),
            outcome=Outcome.INELIGIBLE,
            amount="0.00",
            conditions=[reason],
            legal_basis=[],
            evaluated_on=on,
            decided_at=now,
        )
        return event.follow_up(DecisionMade, payload, producer=PRODUCER, occurred_at=now)
    evaluation = evaluate(pack, app, on, params)
    return event.follow_up(
        DecisionMade, _payload(decision_id, event, evaluation, now), producer=PRODUCER, occurred_at=now
    )


def _payload(decision_id: uuid.UUID, event: ApplicationSubmitted, ev: Evaluation, now: datetime) -> DecisionMadePayload:
    app = event.payload
    eligible = ev.outcome is Outcome.ELIGIBLE
    return DecisionMadePayload(
        decision_id=decision_id,
        application_id=app.application_id,
        applicant_id=app.applicant.applicant_id,
        rule_pack=RulePackRef(
            programme_id=ev.pack.programme_id, version=ev.pack.version, jurisdiction=ev.pack.jurisdiction
        ),
        outcome=ev.outcome,
        amount=ev.total,
        schedule_kind=ev.amounts.kind if eligible and ev.amounts else None,
        instalments=list(ev.amounts.instalments) if eligible and ev.amounts else [],
        conditions=list(ev.conditions),
        legal_basis=list(ev.pack.legal_basis),
        evaluated_on=ev.on,
        fund_code=ev.pack.fund_code,
        public_notice_until=None,
        decided_at=now,
    )


async def on_applications_submitted(
    tx: Transaction, events: list[ApplicationSubmitted], catalogue: Catalogue, params: ParameterSet
) -> None:
    now = datetime.now(UTC)
    decisions = [(e, decide(catalogue, params, e, now)) for e in events]
    rows = await insert_many(
        tx.conn,
        "decisions",
        DECISION_COLUMNS,
        [_row(submitted, decision, now) for submitted, decision in decisions],
        suffix="ON CONFLICT (application_id) DO NOTHING RETURNING application_id",
    )
    inserted = {r["application_id"] for r in rows}
    for submitted, decision in decisions:
        p = decision.payload
        if p.application_id not in inserted:
            continue  # already decided (the application was resubmitted under the same id)
        tx.publish(decision)
        if p.outcome is Outcome.ELIGIBLE and p.public_notice_until is None:
            tx.publish(_released(submitted, decision, now))


def _released(submitted: ApplicationSubmitted, decision: DecisionMade, now: datetime) -> EntitlementReleased:
    p = decision.payload
    assert p.fund_code is not None
    payload = EntitlementReleasedPayload(
        decision_id=p.decision_id,
        application_id=p.application_id,
        applicant_id=p.applicant_id,
        programme_id=p.rule_pack.programme_id,
        fund_code=p.fund_code,
        payee=submitted.payload.payee,
        instalments=p.instalments,
        released_at=now,
    )
    return decision.follow_up(EntitlementReleased, payload, producer=PRODUCER, occurred_at=now)


DECISION_COLUMNS = [
    ("id", "uuid"),
    ("application_id", "uuid"),
    ("applicant_id", "uuid"),
    ("beneficiary_id", "uuid"),
    ("programme_id", "text"),
    ("rule_pack_version", "text"),
    ("outcome", "text"),
    ("amount", "numeric"),
    ("schedule_kind", "text"),
    ("instalments", "jsonb"),
    ("conditions", "jsonb"),
    ("legal_basis", "jsonb"),
    ("input_snapshot", "jsonb"),
    ("evaluated_on", "date"),
    ("fund_code", "text"),
    ("public_notice_until", "date"),
    ("status", "text"),
    ("correlation_id", "uuid"),
    ("decided_at", "timestamptz"),
    ("released_at", "timestamptz"),
]


def _row(submitted: ApplicationSubmitted, decision: DecisionMade, now: datetime) -> tuple[object, ...]:
    p = decision.payload
    released = p.outcome is Outcome.ELIGIBLE and p.public_notice_until is None
    status = "released" if released else ("public_notice" if p.public_notice_until else "decided")
    return (
        p.decision_id,
        p.application_id,
        p.applicant_id,
        submitted.payload.beneficiary.person_id if submitted.payload.beneficiary else None,
        p.rule_pack.programme_id,
        p.rule_pack.version,
        p.outcome.value,
        p.amount,
        p.schedule_kind.value if p.schedule_kind else None,
        [i.model_dump(mode="json") for i in p.instalments],
        [c.model_dump(mode="json") for c in p.conditions],
        [b.model_dump(mode="json") for b in p.legal_basis],
        submitted.payload.model_dump(mode="json"),
        p.evaluated_on,
        p.fund_code,
        p.public_notice_until,
        status,
        decision.correlation_id,
        p.decided_at,
        now if released else None,
    )


async def on_applications_withdrawn(tx: Transaction, events: list[ApplicationWithdrawn]) -> None:
    """A withdrawn application that is still in 公示 or undecided is not paid."""
    await tx.conn.executemany(
        "UPDATE decisions SET status = 'withdrawn' WHERE application_id = $1 AND status IN ('decided', 'public_notice')",
        [(e.payload.application_id,) for e in events],
    )
