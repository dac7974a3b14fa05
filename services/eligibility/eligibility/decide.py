"""Deciding applications in batches: build each case with the person's earlier grants, evaluate (pure),
store the decision and the grant, publish; hold approved decisions that need 公示 until it ends."""

from __future__ import annotations

import dataclasses
import uuid
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

from subsidy_contracts.common import ApplicantKind
from subsidy_contracts.eligibility import (
    ConditionResult,
    DecisionMade,
    DecisionMadePayload,
    EntitlementReleased,
    EntitlementReleasedPayload,
    Instalment,
    Outcome,
    PublicNoticeEnded,
    PublicNoticeEndedPayload,
    PublicNoticeResult,
    RulePackRef,
)
from subsidy_contracts.facts import HouseholdMembership
from subsidy_contracts.registration import ApplicationSubmitted, ApplicationSubmittedPayload, ApplicationWithdrawn
from subsidy_runtime.db import Connection, insert_many
from subsidy_runtime.logging import get_logger
from subsidy_runtime.outbox import Transaction

from .domain.dates import local_date
from .domain.parameters import ParameterSet
from .domain.rules import Case, Catalogue, Evaluation, Grant, Party, Period, evaluate
from .domain.workdays import CalendarNotCovered, add_workdays
from .grant_payments import counted

PRODUCER = "eligibility"
log = get_logger(__name__)


# --------------------------------------------------------------------------------------------- cases
def case_from_application(app: ApplicationSubmittedPayload, history: tuple[Grant, ...]) -> Case:
    a = app.applicant
    if a.person is not None:
        applicant = Party(
            a.person.person_id, a.kind, a.person.region_code, a.person.birth_date, a.person.sex, name=a.person.name
        )
    else:
        assert a.enterprise is not None
        applicant = Party(
            a.enterprise.enterprise_id, a.kind, a.enterprise.region_code, size=a.enterprise.size, name=a.enterprise.name
        )
    b = app.beneficiary
    beneficiary = (
        Party(b.person_id, ApplicantKind.PERSON, b.region_code, b.birth_date, b.sex, name=b.name) if b else None
    )
    submitted = local_date(app.submitted_at)
    return Case(
        programme_id=app.programme_id,
        applicant=applicant,
        beneficiary=beneficiary,
        facts=tuple(app.facts),
        jurisdiction=app.jurisdiction,
        submitted_on=submitted,
        on=submitted,
        period=Period(app.period.start, app.period.end) if app.period else None,
        commitment=app.commitment,
        history=history,
    )


def subjects_of(app: ApplicationSubmittedPayload) -> tuple[uuid.UUID, str | None]:
    """The grant subject (the person, else the applicant) and the person's household, if known."""
    person = (
        app.beneficiary.person_id
        if app.beneficiary
        else (app.applicant.person.person_id if app.applicant.person else None)
    )
    subject = person or app.applicant.applicant_id
    household = next(
        (f.household_id for f in app.facts if isinstance(f, HouseholdMembership) and f.subject_id == subject), None
    )
    return subject, household


async def load_history(
    conn: Connection, subjects: list[uuid.UUID], households: list[str]
) -> list[tuple[Grant, str | None]]:
    # A grant none of whose reported instalments was paid or is still on its way (all failed, returned or
    # cancelled: payment_status 'unpaid') counts for nothing (grant_payments.py).
    rows = await conn.fetch(
        """SELECT * FROM grants WHERE status <> 'cancelled' AND payment_status IS DISTINCT FROM 'unpaid'
             AND (subject_id = ANY($1::uuid[]) OR household_id = ANY($2::text[]))""",
        subjects,
        households,
    )
    return [(_grant(r), r["household_id"]) for r in rows]


def _grant(r: Any) -> Grant:
    attributes = dict(r["attributes"])
    if r["household_id"]:
        attributes["household_id"] = r["household_id"]
    unpaid = r["unpaid_instalments"]
    if unpaid and "months" in attributes:
        # monthly grants: an instalment is a month; months whose payment failed or came back were not had
        attributes["months"] = str(max(int(attributes["months"]) - unpaid, 0))
    return Grant(
        programme_id=r["programme_id"],
        subject_id=r["subject_id"],
        decision_id=r["decision_id"],
        granted_on=r["granted_on"],
        start=r["start_on"],
        end=r["end_on"],
        amount=counted(r["amount"], r["unpaid_amount"]),
        status=r["status"],
        attributes=tuple(sorted(attributes.items())),
    )


# ------------------------------------------------------------------------------------------ deciding
@dataclasses.dataclass
class Decided:
    submitted: ApplicationSubmitted
    case: Case
    evaluation: Evaluation | None
    event: DecisionMade
    notice_until: date | None
    notice_pending: bool  # 公示 needed but its end could not be computed yet (calendar not published)


def notice_end(days: int, working_days: bool, started_on: date) -> date:
    """Last day of a 公示 that starts the day after `started_on`."""
    return add_workdays(started_on, days) if working_days else started_on + timedelta(days=days)


def decide(
    catalogue: Catalogue,
    params: ParameterSet,
    submitted: ApplicationSubmitted,
    history: tuple[Grant, ...],
    now: datetime,
) -> Decided:
    app = submitted.payload
    case = case_from_application(app, history)
    case = dataclasses.replace(case, on=catalogue.evaluation_date(case))
    decision_id = uuid.uuid5(uuid.NAMESPACE_URL, f"decision:{app.application_id}")
    pack = catalogue.pack_for(app.programme_id, case.on, case.jurisdiction)
    evaluation = evaluate(pack, case, params) if pack is not None else None
    notice_until, pending = None, False
    if evaluation is not None and evaluation.outcome is Outcome.ELIGIBLE and evaluation.pack.public_notice is not None:
        try:
            rule = evaluation.pack.public_notice
            notice_until = notice_end(rule.days, rule.working_days, local_date(now))
        except CalendarNotCovered:
            pending = True  # released once the working-day calendar covers the notice period
    payload = decision_payload(decision_id, app, case, evaluation, catalogue, now, notice_until, pending)
    event = submitted.follow_up(DecisionMade, payload, producer=PRODUCER, occurred_at=now)
    return Decided(submitted, case, evaluation, event, notice_until, pending)


def decision_payload(
    decision_id: uuid.UUID,
    app: ApplicationSubmittedPayload,
    case: Case,
    ev: Evaluation | None,
    catalogue: Catalogue,
    now: datetime,
    notice_until: date | None,
    notice_pending: bool,
) -> DecisionMadePayload:
    if ev is None:
        known = catalogue.versions(app.programme_id)
        reason = ConditionResult(
            code="PROGRAMME_IN_FORCE",
            passed=False,
            values={
                "programme_id": app.programme_id,
                "date": case.on.isoformat(),
                "versions": ", ".join(f"{p.jurisdiction} {p.version}" for p in known) or "none",
            },
            reason_zh=f"{case.on.isoformat()} 没有生效的 {app.programme_id} 政策"
            if known
            else f"未知项目 {app.programme_id}",
            reason_en=f"no version of {app.programme_id} is in force on {case.on.isoformat()}"
            if known
            else f"unknown programme {app.programme_id}",
        )
        return DecisionMadePayload(
            decision_id=decision_id,
            application_id=app.application_id,
            applicant_id=app.applicant.applicant_id,
            rule_pack=RulePackRef(programme_id=app.programme_id, version="-", jurisdiction="-"),
            outcome=Outcome.INELIGIBLE,
            amount="0.00",
            conditions=[reason],
            legal_basis=[],
            evaluated_on=case.on,
            decided_at=now,
        )
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
        instalments=[
            Instalment(
                number=p.number, amount=p.amount, due_on=p.due_on, covers_from=p.covers_from, covers_to=p.covers_to
            )
            for p in (ev.amounts.instalments if eligible and ev.amounts else ())
        ],
        conditions=[
            ConditionResult(
                code=c.code,
                passed=c.passed,
                values=c.values,
                reason_zh=c.reason_zh,
                reason_en=c.reason_en,
                legal_basis=c.legal_basis.to_contract() if c.legal_basis else None,
            )
            for c in ev.conditions
        ],
        legal_basis=list(ev.pack.legal_basis),
        evaluated_on=ev.on,
        fund_code=ev.pack.fund_code,
        public_notice_until=notice_until,
        public_notice_days=ev.pack.public_notice.days if eligible and ev.pack.public_notice else None,
        result=dict(ev.attributes) if eligible else {},
        decided_at=now,
    )


async def on_applications_submitted(
    tx: Transaction, events: list[ApplicationSubmitted], catalogue: Catalogue, params: ParameterSet
) -> None:
    now = datetime.now(UTC)
    subjects = [subjects_of(e.payload) for e in events]
    # Serialise decisions about the same people across replicas (caps and exclusivity read their history).
    lock_keys = sorted({str(s) for s, _ in subjects} | {f"household:{h}" for _, h in subjects if h})
    await tx.conn.execute("SELECT pg_advisory_xact_lock(hashtext(k)) FROM unnest($1::text[]) AS k", lock_keys)
    stored = await load_history(tx.conn, [s for s, _ in subjects], [h for _, h in subjects if h])
    by_subject: dict[uuid.UUID, list[Grant]] = defaultdict(list)
    by_household: dict[str, list[Grant]] = defaultdict(list)
    for grant, household in stored:
        by_subject[grant.subject_id].append(grant)
        if household:
            by_household[household].append(grant)
    decided: list[Decided] = []
    for e, (subject, household) in zip(events, subjects, strict=True):
        history = {g.decision_id: g for g in [*by_subject[subject], *(by_household[household] if household else [])]}
        d = decide(catalogue, params, e, tuple(history.values()), now)
        decided.append(d)
        new_grant = _new_grant(d, subject, household, now)
        if new_grant is not None:  # later applications in this batch see it too
            by_subject[subject].append(new_grant)
            if household:
                by_household[household].append(new_grant)
    rows = await insert_many(
        tx.conn,
        "decisions",
        DECISION_COLUMNS,
        [_row(d, now) for d in decided],
        suffix="ON CONFLICT (application_id) DO NOTHING RETURNING application_id",
    )
    inserted = {r["application_id"] for r in rows}
    fresh = [d for d in decided if d.event.payload.application_id in inserted]
    grants = [
        (
            d.event.payload.decision_id,
            g.programme_id,
            g.subject_id,
            household,
            g.granted_on,
            g.start,
            g.end,
            g.amount,
            g.status,
            dict(g.attributes),
        )
        for d, (subject, household) in zip(decided, subjects, strict=True)
        if d in fresh and (g := _new_grant(d, subject, household, now)) is not None
    ]
    await insert_many(
        tx.conn,
        "grants",
        [
            ("decision_id", "uuid"),
            ("programme_id", "text"),
            ("subject_id", "uuid"),
            ("household_id", "text"),
            ("granted_on", "date"),
            ("start_on", "date"),
            ("end_on", "date"),
            ("amount", "numeric"),
            ("status", "text"),
            ("attributes", "jsonb"),
        ],
        grants,
        suffix="ON CONFLICT DO NOTHING",
    )
    for d in fresh:
        tx.publish(d.event)
        p = d.event.payload
        if p.outcome is Outcome.ELIGIBLE and p.public_notice_days is None and p.instalments:
            tx.publish(released_event(p, d.submitted.payload, d.event.correlation_id, d.event.event_id, now))


def _new_grant(d: Decided, subject: uuid.UUID, household: str | None, now: datetime) -> Grant | None:
    ev = d.evaluation
    if ev is None or ev.outcome is not Outcome.ELIGIBLE or not ev.pack.monetary:
        return None
    start, end = ev.covers
    attributes = dict(ev.attributes)
    if household:
        attributes["household_id"] = household
    return Grant(
        programme_id=ev.pack.programme_id,
        subject_id=subject,
        decision_id=d.event.payload.decision_id,
        granted_on=local_date(now),
        start=start,
        end=end,
        amount=ev.total,
        status="approved",
        attributes=tuple(sorted(attributes.items())),
    )


def released_event(
    p: DecisionMadePayload, app: ApplicationSubmittedPayload, correlation_id: uuid.UUID, cause: uuid.UUID, now: datetime
) -> EntitlementReleased:
    assert p.fund_code is not None
    payload = EntitlementReleasedPayload(
        decision_id=p.decision_id,
        application_id=p.application_id,
        applicant_id=p.applicant_id,
        programme_id=p.rule_pack.programme_id,
        fund_code=p.fund_code,
        payee=app.payee,
        instalments=p.instalments,
        released_at=now,
    )
    return EntitlementReleased.create(
        payload,
        producer=PRODUCER,
        subject_key=str(p.applicant_id),
        correlation_id=correlation_id,
        causation_id=cause,
        occurred_at=now,
    )


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
    ("notice_started_on", "date"),
    ("notice_days", "int"),
    ("notice_working_days", "bool"),
    ("event_id", "uuid"),
    ("result", "jsonb"),
]


def _row(d: Decided, now: datetime) -> tuple[object, ...]:
    p = d.event.payload
    submitted = d.submitted.payload
    notice = p.outcome is Outcome.ELIGIBLE and p.public_notice_days is not None
    released = p.outcome is Outcome.ELIGIBLE and not notice
    rule = d.evaluation.pack.public_notice if notice and d.evaluation else None
    status = "released" if released else ("public_notice" if notice else "decided")
    return (
        p.decision_id,
        p.application_id,
        p.applicant_id,
        submitted.beneficiary.person_id if submitted.beneficiary else None,
        p.rule_pack.programme_id,
        p.rule_pack.version,
        p.outcome.value,
        p.amount,
        p.schedule_kind.value if p.schedule_kind else None,
        [i.model_dump(mode="json") for i in p.instalments],
        [c.model_dump(mode="json") for c in p.conditions],
        [b.model_dump(mode="json") for b in p.legal_basis],
        submitted.model_dump(mode="json"),
        p.evaluated_on,
        p.fund_code,
        d.notice_until,
        status,
        d.event.correlation_id,
        p.decided_at,
        now if released else None,
        local_date(now) if notice else None,
        rule.days if rule else None,
        rule.working_days if rule else None,
        d.event.event_id,
        p.result,
    )


# ------------------------------------------------------------------------------------------- 公示
async def release_due(tx: Transaction, today: date, limit: int = 500) -> int:
    """Release approved decisions whose 公示 ended without objection; returns how many were released."""
    undated = await tx.conn.fetch(
        """SELECT id, notice_started_on, notice_days, notice_working_days FROM decisions
           WHERE status = 'public_notice' AND public_notice_until IS NULL
           ORDER BY decided_at LIMIT $1 FOR UPDATE SKIP LOCKED""",
        limit,
    )
    for row in undated:  # notice periods the working-day calendar could not count when decided
        try:
            until = notice_end(row["notice_days"], row["notice_working_days"], row["notice_started_on"])
        except CalendarNotCovered:
            break
        await tx.conn.execute("UPDATE decisions SET public_notice_until = $2 WHERE id = $1", row["id"], until)
    rows = await tx.conn.fetch(
        """SELECT * FROM decisions WHERE status = 'public_notice' AND public_notice_until < $1
           ORDER BY public_notice_until LIMIT $2 FOR UPDATE SKIP LOCKED""",
        today,
        limit,
    )
    now = datetime.now(UTC)
    for r in rows:
        snapshot = ApplicationSubmittedPayload.model_validate(r["input_snapshot"])
        assert r["fund_code"] is not None
        released = EntitlementReleasedPayload(
            decision_id=r["id"],
            application_id=r["application_id"],
            applicant_id=r["applicant_id"],
            programme_id=r["programme_id"],
            fund_code=r["fund_code"],
            payee=snapshot.payee,
            instalments=r["instalments"],
            released_at=now,
        )
        ended = PublicNoticeEndedPayload(
            decision_id=r["id"],
            application_id=r["application_id"],
            applicant_id=r["applicant_id"],
            result=PublicNoticeResult.RELEASED,
            ended_on=today,
        )
        for event_cls, payload in ((EntitlementReleased, released), (PublicNoticeEnded, ended)):
            tx.publish(
                event_cls.create(
                    payload,
                    producer=PRODUCER,
                    subject_key=str(r["applicant_id"]),
                    correlation_id=r["correlation_id"],
                    causation_id=r["event_id"],
                    occurred_at=now,
                )
            )
    if rows:
        await tx.conn.execute(
            "UPDATE decisions SET status = 'released', released_at = $2 WHERE id = ANY($1::uuid[])",
            [r["id"] for r in rows],
            now,
        )
    return len(rows)


async def on_applications_withdrawn(tx: Transaction, events: list[ApplicationWithdrawn]) -> None:
    """A withdrawn application still undecided or in 公示 is never paid; its grant no longer counts."""
    ids = [e.payload.application_id for e in events]
    rows = await tx.conn.fetch(
        """UPDATE decisions SET status = 'withdrawn'
           WHERE application_id = ANY($1::uuid[]) AND status IN ('decided', 'public_notice') RETURNING id""",
        ids,
    )
    await tx.conn.execute(
        "UPDATE grants SET status = 'cancelled', updated_at = now() WHERE decision_id = ANY($1::uuid[])",
        [r["id"] for r in rows],
    )
