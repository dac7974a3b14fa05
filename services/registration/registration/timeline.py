"""Keeps each application's status and timeline current from the other services' events.

Events from different topics can arrive in any order, so the status only moves forward (by rank) and each
event adds one timeline entry (unique on the event id, so redelivery adds nothing).
"""

from __future__ import annotations

from typing import Any

from subsidy_contracts.eligibility import DecisionMade, EntitlementReleased, Outcome
from subsidy_contracts.envelope import Event
from subsidy_contracts.notifications import MessageSent
from subsidy_contracts.payments import PaymentInstructionCreated
from subsidy_runtime.masking import mask_text
from subsidy_runtime.outbox import Transaction

# Later stages outrank earlier ones; "withdrawn" is final.
STATUS_ORDER = [
    "submitted",
    "under_review",
    "public_notice",
    "approved",
    "rejected",
    "released",
    "payment_scheduled",
    "payment_sent",
    "paid",
    "payment_failed",
    "withdrawn",
]


def timeline_entry(event: Event) -> tuple[Any, str, str, str | None, dict[str, Any]] | None:
    """(application id, kind, summary, new status, detail) for an event, or None if it is not about one."""
    p: Any = event.payload
    if isinstance(event, DecisionMade):
        status = {
            Outcome.ELIGIBLE: "public_notice" if p.public_notice_until else "approved",
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
    if isinstance(event, MessageSent):
        if p.application_id is None:
            return None
        summary = mask_text(f"已发送{p.channel.value}通知（{p.template}）给 {p.recipient_masked}")
        return p.application_id, "message", summary, None, {"template": p.template, "channel": p.channel.value}
    return None


async def apply_timeline(tx: Transaction, events: list[Event]) -> None:
    # Sorted by application so concurrent batches lock rows in the same order (no deadlocks).
    entries = sorted(
        ((e, t) for e in events if (t := timeline_entry(e)) is not None),
        key=lambda et: (str(et[1][0]), et[0].occurred_at),
    )
    if not entries:
        return
    await tx.conn.executemany(
        """INSERT INTO application_timeline (application_id, event_id, kind, at, summary, detail)
           SELECT $1, $2, $3, $4, $5, $6 WHERE EXISTS (SELECT 1 FROM applications WHERE id = $1)
           ON CONFLICT (event_id) DO NOTHING""",
        [(t[0], e.event_id, t[1], e.occurred_at, t[2], t[4]) for e, t in entries],
    )
    updates = [
        (t[0], t[3], e.occurred_at, t[4] if t[1] == "decision" else None) for e, t in entries if t[3] is not None
    ]
    if updates:
        await tx.conn.executemany(
            """UPDATE applications SET
                   status = CASE WHEN array_position($5::text[], $2) > array_position($5::text[], status)
                                 THEN $2 ELSE status END,
                   decision = coalesce($4, decision),
                   updated_at = greatest(updated_at, $3)
               WHERE id = $1 AND status <> 'withdrawn'""",
            [(*u, STATUS_ORDER) for u in updates],
        )
