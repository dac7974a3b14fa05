"""The grants history follows the payments: payments.status-changed events record, per instalment (the payment
instruction), its latest state against the grant, so that caps and exclusivity count what was really paid or is
still on its way — not instalments that failed, came back (退回) or were cancelled.

Order: a status change counts only if it is newer than the one recorded (a later attempt, or the same attempt
changed later), so late or redelivered events never move an instalment backwards; the inbox already drops exact
redeliveries. A re-issue after a failure (attempt + 1, scheduled again) makes the instalment count again.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from subsidy_contracts.payments import PaymentStatus, PaymentStatusChanged
from subsidy_runtime.outbox import Transaction

UNPAID = (PaymentStatus.FAILED.value, PaymentStatus.RETURNED.value, PaymentStatus.CANCELLED.value)


def latest_per_instruction(events: list[PaymentStatusChanged]) -> list[PaymentStatusChanged]:
    """Within a batch, the newest change of each instruction (attempt, then time of change)."""
    newest: dict[str, PaymentStatusChanged] = {}
    for e in events:
        p = e.payload
        seen = newest.get(p.instruction_id)
        if seen is None or (p.attempt, p.changed_at) > (seen.payload.attempt, seen.payload.changed_at):
            newest[p.instruction_id] = e
    return list(newest.values())


async def on_payment_status_changed(tx: Transaction, events: list[PaymentStatusChanged]) -> int:
    """Record the changes and recompute the affected grants; returns the number of grants updated."""
    latest = latest_per_instruction(events)
    if not latest:
        return 0
    await tx.conn.execute(
        """INSERT INTO grant_payments (instruction_id, decision_id, attempt, status, amount, reason_code, changed_at)
           SELECT * FROM unnest($1::text[], $2::uuid[], $3::int[], $4::text[], $5::numeric[], $6::text[],
                                $7::timestamptz[])
           ON CONFLICT (instruction_id) DO UPDATE
              SET attempt = EXCLUDED.attempt, status = EXCLUDED.status, amount = EXCLUDED.amount,
                  reason_code = EXCLUDED.reason_code, changed_at = EXCLUDED.changed_at, updated_at = now()
            WHERE (EXCLUDED.attempt, EXCLUDED.changed_at) > (grant_payments.attempt, grant_payments.changed_at)""",
        [e.payload.instruction_id for e in latest],
        [e.payload.decision_id for e in latest],
        [e.payload.attempt for e in latest],
        [e.payload.status.value for e in latest],
        [e.payload.amount for e in latest],
        [e.payload.reason_code for e in latest],
        [e.payload.changed_at for e in latest],
    )
    decisions = sorted({e.payload.decision_id for e in latest}, key=str)
    return await refresh_grants(tx, decisions)


async def refresh_grants(tx: Transaction, decisions: list[uuid.UUID]) -> int:
    """Recompute the payment figures of these decisions' grants from their instalments' latest states."""
    result = await tx.conn.execute(
        """UPDATE grants g
              SET paid_amount = s.paid, unpaid_amount = s.unpaid, unpaid_instalments = s.unpaid_n,
                  payment_status = CASE
                      WHEN s.settled_n = s.n THEN 'paid'
                      WHEN s.unpaid_n = s.n THEN 'unpaid'
                      WHEN s.settled_n > 0 AND s.settled_n + s.unpaid_n = s.n THEN 'partly_paid'
                      ELSE 'in_progress' END,
                  status = CASE WHEN g.status = 'cancelled' THEN 'cancelled'
                                WHEN s.settled_n = s.n THEN 'paid' ELSE 'approved' END,
                  updated_at = now()
             FROM (SELECT decision_id, count(*) AS n,
                          count(*) FILTER (WHERE status = 'settled') AS settled_n,
                          count(*) FILTER (WHERE status = ANY($2::text[])) AS unpaid_n,
                          coalesce(sum(amount) FILTER (WHERE status = 'settled'), 0) AS paid,
                          coalesce(sum(amount) FILTER (WHERE status = ANY($2::text[])), 0) AS unpaid
                     FROM grant_payments WHERE decision_id = ANY($1::uuid[]) GROUP BY decision_id) s
            WHERE g.decision_id = s.decision_id""",
        decisions,
        list(UNPAID),
    )
    return int(result.split()[-1]) if result else 0


def counted(amount: Decimal, unpaid_amount: Decimal) -> Decimal:
    """What a grant still counts for caps: the amount granted less what failed, came back or was cancelled."""
    return max(amount - unpaid_amount, Decimal("0.00"))
