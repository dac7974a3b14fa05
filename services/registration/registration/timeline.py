"""Keeps each application's status and timeline current from the other services' events.

Events from different topics can arrive in any order, so the status only moves forward (by rank) and each
event adds one timeline entry (unique on the event id, so redelivery adds nothing).
"""

from __future__ import annotations

from typing import Any

import orjson

from subsidy_contracts.eligibility import (
    DecisionMade,
    DecisionRevised,
    EntitlementReleased,
    Outcome,
    PublicNoticeEnded,
    PublicNoticeResult,
)
from subsidy_contracts.envelope import Event
from subsidy_contracts.notifications import MessageSent
from subsidy_contracts.payments import PaymentInstructionCreated, PaymentStatus, PaymentStatusChanged
from subsidy_runtime.masking import mask_text
from subsidy_runtime.outbox import Transaction

# Later stages outrank earlier ones; "withdrawn" is final.
STATUS_ORDER = [
    "submitted",
    "under_review",
    "public_notice",
    "objected",
    "approved",
    "rejected",
    "released",
    "payment_scheduled",
    "payment_sent",
    "payment_failed",  # before paid: a re-issue after a failure can still end paid
    "paid",
    "payment_returned",
    "withdrawn",
]


_PAYMENT_TIMELINE: dict[PaymentStatus, tuple[str | None, str]] = {
    PaymentStatus.SENT: ("payment_sent", "已提交银行支付 / sent to the bank"),
    PaymentStatus.SETTLED: ("paid", "银行确认已到账 / credited, confirmed by the bank"),
    PaymentStatus.FAILED: ("payment_failed", "银行支付失败 / payment failed"),
    PaymentStatus.RETURNED: ("payment_returned", "款项被退回 / payment returned"),
    PaymentStatus.HELD: (None, "支付暂缓 / payment held"),
    PaymentStatus.CANCELLED: (None, "支付已取消 / payment cancelled"),
}


def timeline_entry(event: Event) -> tuple[Any, str, str, str | None, dict[str, Any]] | None:
    """(application id, kind, summary, new status, detail) for an event, or None if it is not about one."""
    p: Any = event.payload
    if isinstance(event, DecisionMade):
        status = {
            Outcome.ELIGIBLE: "public_notice" if p.public_notice_days is not None else "approved",
            Outcome.INELIGIBLE: "rejected",
            Outcome.NEEDS_REVIEW: "under_review",
        }[p.outcome]
        failed = [c.reason_zh for c in p.conditions if not c.passed]
        summary = f"审核结果：{p.outcome.value}，金额 {p.amount} 元" + (
            f"；原因：{'；'.join(failed)}" if failed else ""
        )
        detail = {
            "decision_id": str(p.decision_id),
            "outcome": p.outcome.value,
            "amount": str(p.amount),
            "rule_pack": p.rule_pack.model_dump(mode="json"),
        }
        return p.application_id, "decision", summary, status, detail
    if isinstance(event, PublicNoticeEnded):
        objected = p.result is PublicNoticeResult.OBJECTED
        summary = (
            "公示期内收到异议，转入复核 / objection raised, under review"
            if objected
            else "公示期满无异议 / public notice ended"
        )
        return p.application_id, "public_notice", summary, "objected" if objected else None, {"result": p.result.value}
    if isinstance(event, DecisionRevised):
        status = "approved" if p.outcome is Outcome.ELIGIBLE else "rejected"
        summary = f"复核结果：{p.outcome.value}，金额 {p.amount} 元；{p.reason}"
        detail = {
            "decision_id": str(p.decision_id),
            "outcome": p.outcome.value,
            "amount": str(p.amount),
            "reviewed_by": p.reviewed_by,
        }
        return p.application_id, "decision", summary, status, detail
    if isinstance(event, EntitlementReleased):
        total = sum(i.amount for i in p.instalments)
        return p.application_id, "released", f"已核准拨付 {total} 元 / released for payment", "released", {}
    if isinstance(event, PaymentInstructionCreated):
        detail = {"end_to_end_id": p.end_to_end_id, "amount": str(p.amount), "status": p.status.value}
        return (
            p.application_id,
            "payment",
            f"支付指令已生成：{p.amount} 元 → {p.payee_account_masked}",
            "payment_scheduled",
            detail,
        )
    if isinstance(event, PaymentStatusChanged):
        entry = _PAYMENT_TIMELINE.get(p.status)
        if entry is None:  # batched, scheduled: the bank's and the platform's business, not the applicant's
            return None
        new_status, text = entry
        reason = f"（{p.reason_code}）" if p.reason_code else ""
        detail = {"end_to_end_id": p.end_to_end_id, "amount": str(p.amount), "status": p.status.value}
        summary = f"{text}：{p.amount} 元 → {p.payee_account_masked}{reason}"
        return p.application_id, "payment", summary, new_status, detail
    if isinstance(event, MessageSent):
        if p.application_id is None:
            return None
        summary = mask_text(f"已发送{p.channel.value}通知（{p.template}）给 {p.recipient_masked}")
        return p.application_id, "message", summary, None, {"template": p.template, "channel": p.channel.value}
    return None


async def apply_timeline(tx: Transaction, events: list[Event]) -> None:
    entries = [(e, t) for e in events if (t := timeline_entry(e)) is not None]
    if not entries:
        return
    await tx.conn.execute(
        """INSERT INTO application_timeline (application_id, event_id, kind, at, summary, detail)
           SELECT t.application_id, t.event_id, t.kind, t.at, t.summary, t.detail::jsonb
           FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::timestamptz[], $5::text[], $6::text[])
                AS t(application_id, event_id, kind, at, summary, detail)
           WHERE EXISTS (SELECT 1 FROM applications a WHERE a.id = t.application_id)
           ON CONFLICT (event_id) DO NOTHING""",
        [t[0] for _, t in entries],
        [e.event_id for e, _ in entries],
        [t[1] for _, t in entries],
        [e.occurred_at for e, _ in entries],
        [t[2] for _, t in entries],
        [orjson.dumps(t[4]).decode() for _, t in entries],
    )
    # One update per application, with the furthest status this batch reached for it.
    latest: dict[Any, tuple[str, Any, dict[str, Any] | None]] = {}
    for e, (application_id, kind, _, status, detail) in entries:
        if status is None:
            continue
        decision = detail if kind == "decision" else None
        if application_id in latest:
            old_status, old_at, old_decision = latest[application_id]
            if STATUS_ORDER.index(old_status) > STATUS_ORDER.index(status):
                status = old_status
            decision = decision or old_decision
            at = max(old_at, e.occurred_at)
        else:
            at = e.occurred_at
        latest[application_id] = (status, at, decision)
    if not latest:
        return
    # Sorted by application so that concurrent batches lock rows in the same order (no deadlocks).
    ids = sorted(latest, key=str)
    await tx.conn.execute(
        """UPDATE applications a SET
               status = CASE WHEN array_position($5::text[], u.status) > array_position($5::text[], a.status)
                             THEN u.status ELSE a.status END,
               decision = coalesce(u.decision::jsonb, a.decision),
               updated_at = greatest(a.updated_at, u.at)
           FROM unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::text[]) AS u(id, status, at, decision)
           WHERE a.id = u.id AND a.status <> 'withdrawn'""",
        ids,
        [latest[i][0] for i in ids],
        [latest[i][1] for i in ids],
        [orjson.dumps(latest[i][2]).decode() if latest[i][2] is not None else None for i in ids],
        STATUS_ORDER,
    )
