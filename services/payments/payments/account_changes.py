"""Automatic re-issue when a payee's account is corrected (issue 5: "failed and returned payments are re-issued
after the account is corrected").

Registration announces every newly registered payee account (registration.payee-account-registered, keyed by
its owner). The owner is the applicant of the owner's payments: registration only lets an application name an
account of its own applicant (the HTTP path and bulk intake alike) and eligibility copies the applicant id and
that account onto the entitlement, so `payment_instructions.applicant_id` is the account's `owner_id` for person
(social-security card) and enterprise (basic account) programmes alike.

A payment of the owner is re-issued to the new account (instructions.reissue, reason code "account-corrected",
one audit row as a caseworker's re-issue writes, actor "system") when all of these hold:
- it is `failed` or `returned` now (a re-issued payment is `scheduled`, so a redelivered event finds nothing);
- its account is of the new account's kind and has another number (the same number again changes nothing);
- the bank's reason is about the payee's account (ACCOUNT_FAILURE_CODES): a new account is what fixes it;
- no open receivable blocks the programme for the payee (追回: a caseworker decides, as for held payments);
- no open reconciliation break other than `no_result` concerns its current attempt: a break whose bank answer
  contradicts ours (e.g. a credit reported for a rejected payment) needs a person before money goes out again.
  Such a break is annotated with the corrected account instead, so the caseworker can re-issue from the break.
  A `no_result` break of that attempt is settled by the bank's later answer; it is resolved as the HTTP
  `POST /breaks/{id}/reissue` resolves it ("re-issued as <EndToEndId> ...").

Every other failure is left to caseworkers (`POST /payments/{id}/reissue`), e.g. a return because the payee died
(MD07), a debtor-side or bank-side failure (AM04, MS03, a whole batch refused), or a failure without a reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from subsidy_contracts.registration import PayeeAccountRegistered
from subsidy_runtime.audit import audit
from subsidy_runtime.logging import get_logger
from subsidy_runtime.masking import mask_account
from subsidy_runtime.outbox import Transaction

from . import instructions
from .ids import end_to_end_id
from .metrics import REISSUE_ACCOUNT_CORRECTED, PaymentMetrics

log = get_logger(__name__)

ACCOUNT_CORRECTED = REISSUE_ACCOUNT_CORRECTED
SYSTEM = "system"
# ISO 20022 status and return reasons (ExternalStatusReason1Code, ExternalReturnReason1Code) that say the payee's
# account was wrong: a corrected account is the remedy. The bank simulator answers AC04 and BE01.
ACCOUNT_FAILURE_CODES = frozenset(
    {
        "AC01",  # IncorrectAccountNumber
        "AC03",  # InvalidCreditorAccountNumber
        "AC04",  # ClosedAccountNumber
        "AC06",  # BlockedAccount
        "AC07",  # ClosedCreditorAccountNumber
        "BE01",  # InconsistentWithEndCustomer: the name does not match the account
        "BE06",  # UnknownEndCustomer
    }
)
# A no_result break only says the bank had not answered; the attempt's later failure answered it.
ANSWERED_BY_THE_FAILURE = "no_result"


async def apply_account_changes(
    tx: Transaction,
    events: Sequence[PayeeAccountRegistered],
    *,
    now: datetime | None = None,
    metrics: PaymentMetrics | None = None,
) -> list[dict[str, Any]]:
    """Re-issue the owners' account-related failures to their new accounts; returns what was re-issued."""
    if not events:
        return []
    now = now or datetime.now(UTC)
    conn = tx.conn
    owners = list({e.payload.owner_id for e in events})
    # Locked in one order for every writer; a row another transaction moved meanwhile is re-checked by PostgreSQL
    # and dropped when it is no longer failed or returned.
    rows = await conn.fetch(
        """SELECT instruction_id, applicant_id, programme_id, status, attempt, failure_code, payee
           FROM payment_instructions
           WHERE applicant_id = ANY($1::uuid[]) AND status IN ('failed', 'returned')
           ORDER BY instruction_id FOR UPDATE""",
        owners,
    )
    if not rows:
        return []
    candidates: dict[Any, list[dict[str, Any]]] = {}
    for row in rows:
        candidates.setdefault(row["applicant_id"], []).append(dict(row))
    blocked = await instructions.blocked_by_receivables(conn, set(candidates))
    current = [end_to_end_id(row["instruction_id"], row["attempt"]) for row in rows]
    breaks: dict[str, list[Any]] = {}
    for b in await conn.fetch(
        """SELECT id, kind, end_to_end_id FROM reconciliation_breaks
           WHERE status IN ('open', 'assigned') AND end_to_end_id = ANY($1::text[]) ORDER BY id FOR UPDATE""",
        current,
    ):
        breaks.setdefault(b["end_to_end_id"], []).append(b)

    reissued: list[dict[str, Any]] = []
    # In the order registration stored the accounts: the first correction after a failure re-issues it (the next
    # finds it scheduled), whether the two come in one batch or in two.
    for event in events:
        account = event.payload.account
        payee = account.model_dump(mode="json")
        for r in candidates.get(event.payload.owner_id, []):
            if r["status"] not in ("failed", "returned"):
                continue  # re-issued by an earlier event of this batch
            if r["payee"]["kind"] != account.kind.value or r["payee"]["account_number"] == account.account_number:
                continue
            why_not = _why_not(r, blocked, breaks)
            e2e = end_to_end_id(r["instruction_id"], r["attempt"])
            if why_not is not None:
                log.info(
                    "payment not re-issued automatically",
                    instruction_id=r["instruction_id"],
                    failure_code=r["failure_code"],
                    reason=why_not,
                    event_id=str(event.event_id),
                )
                await _annotate_breaks(tx, breaks.get(e2e, []), event, now)
                continue
            result = await instructions.reissue(tx, r["instruction_id"], payee, now, reason_code=ACCOUNT_CORRECTED)
            r["status"] = "scheduled"
            resolved = await _resolve_breaks(tx, breaks.pop(e2e, []), result["end_to_end_id"], event)
            await audit(
                conn,
                integration_id=SYSTEM,
                request_id=str(event.event_id),
                action="reissue",
                entity="reissue",
                entity_id=r["instruction_id"],
                detail={
                    "reason": ACCOUNT_CORRECTED,
                    "trigger": event.event_type,
                    "event_id": str(event.event_id),
                    "account_id": str(account.account_id),
                    "payee_account_masked": mask_account(account.account_number),
                    "failure_code": r["failure_code"],
                    "breaks_resolved": resolved,
                    **result,
                },
            )
            if metrics is not None:
                metrics.reissues.labels(ACCOUNT_CORRECTED).inc()
            reissued.append(result)
    return reissued


def _why_not(r: dict[str, Any], blocked: set[tuple[Any, str]], breaks: dict[str, list[Any]]) -> str | None:
    """Why this payment is left to a caseworker, or None when it may be re-issued automatically."""
    if r["failure_code"] not in ACCOUNT_FAILURE_CODES:
        return f"failure {r['failure_code'] or 'without a reason code'} is not about the account"
    if (r["applicant_id"], r["programme_id"]) in blocked:
        return "an open receivable blocks the programme"
    kinds = {b["kind"] for b in breaks.get(end_to_end_id(r["instruction_id"], r["attempt"]), [])}
    if kinds - {ANSWERED_BY_THE_FAILURE}:
        return f"open reconciliation break ({', '.join(sorted(kinds))})"
    return None


async def _resolve_breaks(tx: Transaction, breaks: list[Any], new_end_to_end_id: str, event: Any) -> list[str]:
    """Close the attempt's no_result breaks as a re-issue from the break queue closes them."""
    if not breaks:
        return []
    ids = [b["id"] for b in breaks]
    await tx.conn.execute(
        """UPDATE reconciliation_breaks SET status = 'resolved', resolution = $2, updated_at = now()
           WHERE id = ANY($1::uuid[])""",
        ids,
        f"re-issued as {new_end_to_end_id} after the payee's account was corrected ({event.event_type} "
        f"{event.event_id})",
    )
    return [str(i) for i in ids]


async def _annotate_breaks(tx: Transaction, breaks: list[Any], event: PayeeAccountRegistered, now: datetime) -> None:
    """Tell the caseworker working a break that the payee has registered a corrected account since."""
    if not breaks:
        return
    account = event.payload.account
    note = {
        "account_id": str(account.account_id),
        "payee_account_masked": mask_account(account.account_number),
        "registered_at": event.payload.registered_at.isoformat(),
        "event_id": str(event.event_id),
        "noted_at": now.isoformat(),
    }
    await tx.conn.execute(
        """UPDATE reconciliation_breaks SET detail = detail || jsonb_build_object('account_corrected', $2::jsonb),
               updated_at = now() WHERE id = ANY($1::uuid[])""",
        [b["id"] for b in breaks],
        note,
    )
