"""Payments' HTTP API for finance officers, caseworkers, operators and auditors: funds and budgets, payments
(re-issue, cancel), bank batches (maker–checker approval, cancellation before release), the reconciliation
break queue, and receivables (追回)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from structlog.contextvars import get_contextvars

from subsidy_contracts.common import PayeeAccount, ProgrammeId
from subsidy_contracts.payments import ReceivableKind, ReceivableOpened, ReceivableOpenedPayload
from subsidy_runtime.audit import audit
from subsidy_runtime.auth import Integration, requires
from subsidy_runtime.masking import mask_account
from subsidy_runtime.problems import Problem
from subsidy_runtime.service import ServiceRuntime

from . import batching, instructions
from .events import PRODUCER
from .metrics import REISSUE_CASEWORKER, PaymentMetrics
from .settings import PaymentsSettings

router = APIRouter(prefix="/v1")
Reader = Depends(requires("auditor", "caseworker", "finance", "operator"))
Finance = requires("finance")
Caseworker = requires("caseworker", "finance")
Operator = requires("operator", "finance")
MAX_PAGE = 500


def _runtime(request: Request) -> ServiceRuntime:
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime


def _settings(request: Request) -> PaymentsSettings:
    settings: PaymentsSettings = request.app.state.settings
    return settings


def _metrics(request: Request) -> PaymentMetrics:
    metrics: PaymentMetrics = request.app.state.payment_metrics
    return metrics


def _not_found(what: str, key: object) -> Problem:
    return Problem(404, "not-found", "Not found", f"{what} {key} not found", f"未找到{what}")


def _conflict(detail: str, detail_zh: str) -> Problem:
    return Problem(409, "state-conflict", "Not allowed in this state", detail, detail_zh)


def _money(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"


# ------------------------------------------------------------------------------------------------ funds
@router.get(
    "/funds", tags=["funds"], summary="Funds with their yearly budgets, reserved and paid", dependencies=[Reader]
)
async def list_funds(request: Request) -> list[dict[str, Any]]:
    async with _runtime(request).pool.acquire() as conn:
        rows = await conn.fetch(
            """SELECT f.code, f.name, b.year, b.budget, b.reserved, b.paid FROM funds f
               LEFT JOIN fund_budgets b ON b.fund_code = f.code ORDER BY f.code, b.year"""
        )
    funds: dict[str, dict[str, Any]] = {}
    for r in rows:
        fund = funds.setdefault(r["code"], {"code": r["code"], "name": r["name"], "budgets": []})
        if r["year"] is not None:
            fund["budgets"].append(
                {
                    "year": r["year"],
                    "budget": _money(r["budget"]),
                    "reserved": _money(r["reserved"]),
                    "paid": _money(r["paid"]),
                    "remaining": _money(r["budget"] - r["reserved"] - r["paid"]),
                }
            )
    return list(funds.values())


class BudgetIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    budget: Decimal = Field(ge=0, max_digits=15, decimal_places=2, description="Yuan for the whole year.")


@router.put("/funds/{code}/budgets/{year}", tags=["funds"], summary="Set a fund's budget for a year")
async def set_budget(
    code: str,
    year: Annotated[int, Field(ge=2000, le=2100)],
    body: BudgetIn,
    request: Request,
    caller: Annotated[Integration, Depends(Finance)],
) -> dict[str, Any]:
    async with _runtime(request).transaction() as tx:
        if not await tx.conn.fetchval("SELECT 1 FROM funds WHERE code = $1", code):
            raise _not_found("fund", code)
        committed = await tx.conn.fetchval(
            "SELECT reserved + paid FROM fund_budgets WHERE fund_code = $1 AND year = $2", code, year
        )
        if committed is not None and body.budget < committed:
            raise _conflict(
                f"the budget cannot be below what is already reserved or paid ({committed:.2f})",
                "预算不能低于已占用或已支付金额",
            )
        await tx.conn.execute(
            """INSERT INTO fund_budgets (fund_code, year, budget) VALUES ($1, $2, $3)
               ON CONFLICT (fund_code, year) DO UPDATE SET budget = excluded.budget""",
            code,
            year,
            body.budget,
        )
        await _audit(tx.conn, caller, "set_budget", f"{code}/{year}", {"budget": str(body.budget)})
    return {"fund_code": code, "year": year, "budget": _money(body.budget)}


# --------------------------------------------------------------------------------------------- payments
def _payment(row: Any, attempts: list[Any]) -> dict[str, Any]:
    return {
        "instruction_id": row["instruction_id"],
        "decision_id": str(row["decision_id"]),
        "instalment_number": row["instalment_number"],
        "application_id": str(row["application_id"]),
        "applicant_id": str(row["applicant_id"]),
        "programme_id": row["programme_id"],
        "fund_code": row["fund_code"],
        "amount": _money(row["amount"]),
        "due_on": row["due_on"].isoformat(),
        "status": row["status"],
        "held_reason": row["held_reason"],
        "failure_code": row["failure_code"],
        "failure_text": row["failure_text"],
        "payee_account_masked": mask_account(row["payee"]["account_number"]),
        "attempts": [
            {
                "end_to_end_id": a["end_to_end_id"],
                "attempt": a["attempt"],
                "status": a["status"],
                "batch_id": a["batch_id"],
                "reason_code": a["reason_code"],
                "payee_account_masked": mask_account((a["payee"] or row["payee"])["account_number"]),
            }
            for a in attempts
        ],
    }


@router.get("/payments/{instruction_id}", tags=["payments"], summary="One instalment's payment", dependencies=[Reader])
async def get_payment(instruction_id: str, request: Request) -> dict[str, Any]:
    async with _runtime(request).pool.acquire() as conn:
        row = await conn.fetchrow("SELECT * FROM payment_instructions WHERE instruction_id = $1", instruction_id)
        if row is None:
            raise _not_found("payment", instruction_id)
        attempts = await conn.fetch(
            "SELECT * FROM payment_attempts WHERE instruction_id = $1 ORDER BY attempt", instruction_id
        )
    return _payment(row, list(attempts))


@router.get("/payments", tags=["payments"], summary="Payments, filtered, oldest first", dependencies=[Reader])
async def list_payments(
    request: Request,
    application_id: uuid.UUID | None = None,
    status: Annotated[str | None, Query(max_length=20)] = None,
    after: Annotated[str | None, Query(max_length=35, description="Last instruction id of the previous page.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
) -> dict[str, Any]:
    async with _runtime(request).pool.acquire() as conn:
        rows = await conn.fetch(
            """SELECT * FROM payment_instructions
               WHERE ($1::uuid IS NULL OR application_id = $1) AND ($2::text IS NULL OR status = $2)
                 AND ($3::text IS NULL OR instruction_id > $3)
               ORDER BY instruction_id LIMIT $4""",
            application_id,
            status,
            after,
            limit,
        )
        attempts = await conn.fetch(
            "SELECT * FROM payment_attempts WHERE instruction_id = ANY($1::text[]) ORDER BY attempt",
            [r["instruction_id"] for r in rows],
        )
    by_instruction: dict[str, list[Any]] = {}
    for a in attempts:
        by_instruction.setdefault(a["instruction_id"], []).append(a)
    items = [_payment(r, by_instruction.get(r["instruction_id"], [])) for r in rows]
    return {"items": items, "next_after": items[-1]["instruction_id"] if len(items) == limit else None}


class ReissueIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    account: PayeeAccount = Field(description="The corrected account (a re-issue always names the account).")
    reason: str = Field(min_length=1, max_length=500)


@router.post("/payments/{instruction_id}/reissue", tags=["payments"], summary="Pay again to a corrected account")
async def reissue_payment(
    instruction_id: str, body: ReissueIn, request: Request, caller: Annotated[Integration, Depends(Caseworker)]
) -> dict[str, Any]:
    async with _runtime(request).transaction() as tx:
        result = await _reissue(tx, instruction_id, body, caller)
    _metrics(request).reissues.labels(REISSUE_CASEWORKER).inc()
    return result


async def _reissue(tx: Any, instruction_id: str, body: ReissueIn, caller: Integration) -> dict[str, Any]:
    try:
        result = await instructions.reissue(tx, instruction_id, body.account.model_dump(mode="json"), datetime.now(UTC))
    except LookupError as exc:
        raise _not_found("payment", instruction_id) from exc
    except instructions.PaymentStateError as exc:
        raise _conflict(str(exc), "当前状态不能重新支付") from exc
    await _audit(tx.conn, caller, "reissue", instruction_id, {"reason": body.reason, **result})
    return result


class ReasonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=500)


@router.post("/payments/{instruction_id}/cancel", tags=["payments"], summary="Cancel a payment not yet sent")
async def cancel_payment(
    instruction_id: str, body: ReasonIn, request: Request, caller: Annotated[Integration, Depends(Finance)]
) -> dict[str, str]:
    async with _runtime(request).transaction() as tx:
        try:
            await instructions.cancel(tx, instruction_id, body.reason, datetime.now(UTC))
        except LookupError as exc:
            raise _not_found("payment", instruction_id) from exc
        except instructions.PaymentStateError as exc:
            raise _conflict(str(exc), "当前状态不能取消") from exc
        await _audit(tx.conn, caller, "cancel_payment", instruction_id, {"reason": body.reason})
    return {"instruction_id": instruction_id, "status": "cancelled"}


# ---------------------------------------------------------------------------------------------- batches
def _batch(r: Any) -> dict[str, Any]:
    return {
        "batch_id": r["batch_id"],
        "bank_code": r["bank_code"],
        "fund_code": r["fund_code"],
        "channel": r["channel"],
        "status": r["status"],
        "number_of_transactions": r["number_of_transactions"],
        "control_sum": _money(r["control_sum"]),
        "requested_execution_date": r["requested_execution_date"].isoformat(),
        "maker": r["maker"],
        "checker": r["checker"],
        "file_name": r["file_name"],
        "created_at": r["created_at"].isoformat(),
        "sent_at": r["sent_at"].isoformat() if r["sent_at"] else None,
    }


@router.get("/batches", tags=["batches"], summary="Bank batches, newest first", dependencies=[Reader])
async def list_batches(
    request: Request,
    status: Annotated[str | None, Query(max_length=20)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
) -> list[dict[str, Any]]:
    async with _runtime(request).pool.acquire() as conn:
        rows = await conn.fetch(
            """SELECT * FROM payment_batches WHERE ($1::text IS NULL OR status = $1)
               ORDER BY created_at DESC LIMIT $2""",
            status,
            limit,
        )
    return [_batch(r) for r in rows]


@router.get("/batches/{batch_id}", tags=["batches"], summary="One batch with its control totals", dependencies=[Reader])
async def get_batch(batch_id: str, request: Request) -> dict[str, Any]:
    async with _runtime(request).pool.acquire() as conn:
        row = await conn.fetchrow("SELECT * FROM payment_batches WHERE batch_id = $1", batch_id)
        if row is None:
            raise _not_found("batch", batch_id)
        sums = await conn.fetchrow(
            "SELECT count(*) AS n, coalesce(sum(amount), 0) AS total FROM payment_attempts WHERE batch_id = $1",
            batch_id,
        )
    assert sums is not None  # an aggregate always returns a row
    return _batch(row) | {"payments_count": sums["n"], "payments_sum": _money(sums["total"])}


@router.post("/batches", tags=["batches"], summary="Form batches now from ready payments (the caller is the maker)")
async def form_batches_now(request: Request, caller: Annotated[Integration, Depends(Finance)]) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    async with _runtime(request).transaction() as tx:
        formed = await batching.form_batches(
            tx, _settings(request), now, now.date(), maker=caller.id, metrics=_metrics(request)
        )
        await _audit(tx.conn, caller, "form_batches", None, {"batches": [b.batch_id for b in formed]})
    return [
        {
            "batch_id": b.batch_id,
            "count": b.count,
            "control_sum": _money(b.control_sum),
            "needs_approval": b.needs_approval,
        }
        for b in formed
    ]


@router.post("/batches/{batch_id}/approve", tags=["batches"], summary="Checker approves a batch (not its maker)")
async def approve_batch(
    batch_id: str, request: Request, caller: Annotated[Integration, Depends(Finance)]
) -> dict[str, Any]:
    async with _runtime(request).transaction() as tx:
        row = await tx.conn.fetchrow("SELECT * FROM payment_batches WHERE batch_id = $1 FOR UPDATE", batch_id)
        if row is None:
            raise _not_found("batch", batch_id)
        if row["status"] != "awaiting_approval":
            raise _conflict(f"the batch is {row['status']}, not awaiting approval", "该批次不在待复核状态")
        if row["maker"] == caller.id:
            raise Problem(
                403,
                "four-eyes",
                "Maker may not approve",
                "the batch must be approved by someone other than its maker",
                "制单人不能复核自己的批次",
            )
        await tx.conn.execute(
            "UPDATE payment_batches SET status = 'approved', checker = $2, approved_at = now() WHERE batch_id = $1",
            batch_id,
            caller.id,
        )
        await _audit(tx.conn, caller, "approve_batch", batch_id, {"control_sum": str(row["control_sum"])})
    _metrics(request).batches.labels("approved").inc()
    return {"batch_id": batch_id, "status": "approved", "checker": caller.id}


@router.post("/batches/{batch_id}/cancel", tags=["batches"], summary="Cancel a batch before it is sent")
async def cancel_batch(
    batch_id: str, body: ReasonIn, request: Request, caller: Annotated[Integration, Depends(Finance)]
) -> dict[str, Any]:
    now = datetime.now(UTC)
    async with _runtime(request).transaction() as tx:
        row = await tx.conn.fetchrow("SELECT * FROM payment_batches WHERE batch_id = $1 FOR UPDATE", batch_id)
        if row is None:
            raise _not_found("batch", batch_id)
        if row["status"] not in ("awaiting_approval", "approved"):
            raise _conflict(f"a {row['status']} batch cannot be cancelled", "已发送或已取消的批次不能取消")
        await tx.conn.execute(
            """UPDATE payment_batches SET status = 'cancelled', cancelled_by = $2, cancel_reason = $3
               WHERE batch_id = $1""",
            batch_id,
            caller.id,
            body.reason,
        )
        # Its payments go back to the queue and will be batched again.
        released = await tx.conn.fetchval(
            """WITH a AS (UPDATE payment_attempts SET status = 'ready', batch_id = NULL, updated_at = $2
                          WHERE batch_id = $1 AND status = 'batched' RETURNING instruction_id),
                    i AS (UPDATE payment_instructions p SET status = 'scheduled', updated_at = $2
                          FROM a WHERE p.instruction_id = a.instruction_id RETURNING 1)
               SELECT count(*) FROM i""",
            batch_id,
            now,
        )
        await _audit(tx.conn, caller, "cancel_batch", batch_id, {"reason": body.reason, "payments": released})
    _metrics(request).batches.labels("cancelled").inc()
    return {"batch_id": batch_id, "status": "cancelled", "payments_requeued": released}


# ---------------------------------------------------------------------------------------- reconciliation
def _break(r: Any) -> dict[str, Any]:
    return {
        "id": str(r["id"]),
        "kind": r["kind"],
        "end_to_end_id": r["end_to_end_id"],
        "bank_code": r["bank_code"],
        "report_id": r["report_id"],
        "expected_amount": _money(r["expected_amount"]),
        "reported_amount": _money(r["reported_amount"]),
        "detail": r["detail"],
        "status": r["status"],
        "assignee": r["assignee"],
        "resolution": r["resolution"],
        "reason": r["reason"],
        "created_at": r["created_at"].isoformat(),
        "updated_at": r["updated_at"].isoformat(),
    }


@router.get("/breaks", tags=["reconciliation"], summary="The break queue, oldest first", dependencies=[Reader])
async def list_breaks(
    request: Request,
    status: Annotated[str | None, Query(max_length=20, description="open, assigned, resolved, written_off")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
) -> list[dict[str, Any]]:
    async with _runtime(request).pool.acquire() as conn:
        rows = await conn.fetch(
            """SELECT * FROM reconciliation_breaks WHERE ($1::text IS NULL OR status = $1)
               ORDER BY created_at LIMIT $2""",
            status,
            limit,
        )
    return [_break(r) for r in rows]


async def _open_break(tx: Any, break_id: uuid.UUID) -> Any:
    row = await tx.conn.fetchrow("SELECT * FROM reconciliation_breaks WHERE id = $1 FOR UPDATE", break_id)
    if row is None:
        raise _not_found("break", break_id)
    if row["status"] not in ("open", "assigned"):
        raise _conflict(f"the break is already {row['status']}", "该差错已处理")
    return row


class AssignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    assignee: str = Field(min_length=1, max_length=100)


@router.post("/breaks/{break_id}/assign", tags=["reconciliation"], summary="Assign a break to someone")
async def assign_break(
    break_id: uuid.UUID, body: AssignIn, request: Request, caller: Annotated[Integration, Depends(Caseworker)]
) -> dict[str, Any]:
    async with _runtime(request).transaction() as tx:
        await _open_break(tx, break_id)
        row = await tx.conn.fetchrow(
            """UPDATE reconciliation_breaks SET status = 'assigned', assignee = $2, updated_at = now()
               WHERE id = $1 RETURNING *""",
            break_id,
            body.assignee,
        )
        await _audit(tx.conn, caller, "assign_break", str(break_id), {"assignee": body.assignee})
    return _break(row)


class ResolveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    resolution: str = Field(min_length=1, max_length=1000, description="What was found and done.")


@router.post("/breaks/{break_id}/resolve", tags=["reconciliation"], summary="Close a break with what was done")
async def resolve_break(
    break_id: uuid.UUID, body: ResolveIn, request: Request, caller: Annotated[Integration, Depends(Caseworker)]
) -> dict[str, Any]:
    async with _runtime(request).transaction() as tx:
        await _open_break(tx, break_id)
        row = await _close_break(tx, break_id, "resolved", resolution=body.resolution)
        await _audit(tx.conn, caller, "resolve_break", str(break_id), {"resolution": body.resolution})
    return _break(row)


@router.post("/breaks/{break_id}/write-off", tags=["reconciliation"], summary="Write a break off, with a reason")
async def write_off_break(
    break_id: uuid.UUID, body: ReasonIn, request: Request, caller: Annotated[Integration, Depends(Finance)]
) -> dict[str, Any]:
    async with _runtime(request).transaction() as tx:
        await _open_break(tx, break_id)
        row = await _close_break(tx, break_id, "written_off", reason=body.reason)
        await _audit(tx.conn, caller, "write_off_break", str(break_id), {"reason": body.reason})
    return _break(row)


@router.post("/breaks/{break_id}/reissue", tags=["reconciliation"], summary="Re-issue the break's payment and close it")
async def reissue_from_break(
    break_id: uuid.UUID, body: ReissueIn, request: Request, caller: Annotated[Integration, Depends(Caseworker)]
) -> dict[str, Any]:
    async with _runtime(request).transaction() as tx:
        brk = await _open_break(tx, break_id)
        instruction = await tx.conn.fetchval(
            "SELECT instruction_id FROM payment_attempts WHERE end_to_end_id = $1", brk["end_to_end_id"]
        )
        if instruction is None:
            raise _conflict("the break names no payment of ours", "该差错没有对应的支付")
        result = await _reissue(tx, instruction, body, caller)
        row = await _close_break(tx, break_id, "resolved", resolution=f"re-issued as {result['end_to_end_id']}")
    _metrics(request).reissues.labels(REISSUE_CASEWORKER).inc()
    return _break(row) | {"reissue": result}


async def _close_break(
    tx: Any, break_id: uuid.UUID, status: str, *, resolution: str | None = None, reason: str | None = None
) -> Any:
    return await tx.conn.fetchrow(
        """UPDATE reconciliation_breaks SET status = $2, resolution = $3, reason = $4, updated_at = now()
           WHERE id = $1 RETURNING *""",
        break_id,
        status,
        resolution,
        reason,
    )


# ---------------------------------------------------------------------------------------------- recovery
class ReceivableIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    payee_id: uuid.UUID = Field(description="The applicant who owes the money.")
    programme_id: ProgrammeId
    kind: ReceivableKind
    amount: Decimal = Field(gt=0, max_digits=15, decimal_places=2)
    reason: str = Field(min_length=1, max_length=1000)
    blocks_programme: bool = Field(
        description="Hold further payments of this programme to this payee until repaid (where policy says so)."
    )
    source_instruction_id: str | None = Field(default=None, max_length=35)


def _receivable(r: Any) -> dict[str, Any]:
    return {
        "id": str(r["id"]),
        "payee_id": str(r["payee_id"]),
        "programme_id": r["programme_id"],
        "kind": r["kind"],
        "amount": _money(r["amount"]),
        "repaid": _money(r["repaid"]),
        "outstanding": _money(r["amount"] - r["repaid"]),
        "reason": r["reason"],
        "blocks_programme": r["blocks_programme"],
        "status": r["status"],
        "source_instruction_id": r["source_instruction_id"],
        "created_at": r["created_at"].isoformat(),
    }


@router.post("/receivables", status_code=201, tags=["recovery"], summary="Open a receivable (追回)")
async def open_receivable(
    body: ReceivableIn, request: Request, caller: Annotated[Integration, Depends(Caseworker)]
) -> dict[str, Any]:
    now = datetime.now(UTC)
    receivable_id = uuid.uuid4()
    async with _runtime(request).transaction() as tx:
        if body.source_instruction_id is not None and not await tx.conn.fetchval(
            "SELECT 1 FROM payment_instructions WHERE instruction_id = $1 AND applicant_id = $2",
            body.source_instruction_id,
            body.payee_id,
        ):
            raise Problem(
                422,
                "validation",
                "Invalid request",
                "source_instruction_id is not a payment to this payee",
                "来源支付不属于该收款人",
            )
        row = await tx.conn.fetchrow(
            """INSERT INTO receivables (id, payee_id, programme_id, kind, amount, reason, blocks_programme,
                   source_instruction_id, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING *""",
            receivable_id,
            body.payee_id,
            body.programme_id,
            body.kind.value,
            body.amount,
            body.reason,
            body.blocks_programme,
            body.source_instruction_id,
            caller.id,
        )
        if body.blocks_programme:  # what is scheduled but not yet batched waits until the money is back
            await tx.conn.execute(
                """UPDATE payment_attempts a SET status = 'cancelled', updated_at = $3
                   FROM payment_instructions i
                   WHERE a.instruction_id = i.instruction_id AND a.status = 'ready'
                     AND i.applicant_id = $1 AND i.programme_id = $2""",
                body.payee_id,
                body.programme_id,
                now,
            )
            await tx.conn.execute(
                """UPDATE payment_instructions SET status = 'held', held_reason = 'recovery', updated_at = $3
                   WHERE applicant_id = $1 AND programme_id = $2 AND status = 'scheduled'""",
                body.payee_id,
                body.programme_id,
                now,
            )
        tx.publish(
            ReceivableOpened.create(
                ReceivableOpenedPayload(
                    receivable_id=receivable_id,
                    payee_id=body.payee_id,
                    programme_id=body.programme_id,
                    kind=body.kind,
                    amount=body.amount,
                    reason=body.reason,
                    blocks_programme=body.blocks_programme,
                    opened_at=now,
                ),
                producer=PRODUCER,
                subject_key=str(body.payee_id),
                correlation_id=receivable_id,
                occurred_at=now,
            )
        )
        await _audit(tx.conn, caller, "open_receivable", str(receivable_id), {"amount": str(body.amount)})
    return _receivable(row)


@router.get("/receivables", tags=["recovery"], summary="Receivables of a payee or all open ones", dependencies=[Reader])
async def list_receivables(
    request: Request,
    payee_id: uuid.UUID | None = None,
    status: Annotated[str | None, Query(max_length=20)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
) -> list[dict[str, Any]]:
    async with _runtime(request).pool.acquire() as conn:
        rows = await conn.fetch(
            """SELECT * FROM receivables WHERE ($1::uuid IS NULL OR payee_id = $1) AND ($2::text IS NULL OR status = $2)
               ORDER BY created_at LIMIT $3""",
            payee_id,
            status,
            limit,
        )
    return [_receivable(r) for r in rows]


class RepaymentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount: Decimal = Field(gt=0, max_digits=15, decimal_places=2)
    reference: str = Field(min_length=1, max_length=100, description="Bank or receipt reference; idempotency key.")


@router.post("/receivables/{receivable_id}/repayments", tags=["recovery"], summary="Record money paid back")
async def record_repayment(
    receivable_id: uuid.UUID, body: RepaymentIn, request: Request, caller: Annotated[Integration, Depends(Caseworker)]
) -> dict[str, Any]:
    async with _runtime(request).transaction() as tx:
        row = await tx.conn.fetchrow("SELECT * FROM receivables WHERE id = $1 FOR UPDATE", receivable_id)
        if row is None:
            raise _not_found("receivable", receivable_id)
        known = await tx.conn.fetchval(
            "SELECT amount FROM receivable_repayments WHERE receivable_id = $1 AND reference = $2",
            receivable_id,
            body.reference,
        )
        if known is not None:  # the same repayment recorded again
            return _receivable(row)
        if row["status"] != "open":
            raise _conflict(f"the receivable is {row['status']}", "该追回事项已结清或已核销")
        if row["repaid"] + body.amount > row["amount"]:
            raise _conflict(
                f"repayment exceeds the outstanding {row['amount'] - row['repaid']:.2f}", "还款金额超过未追回金额"
            )
        await tx.conn.execute(
            """INSERT INTO receivable_repayments (id, receivable_id, amount, reference, recorded_by)
               VALUES ($1, $2, $3, $4, $5)""",
            uuid.uuid4(),
            receivable_id,
            body.amount,
            body.reference,
            caller.id,
        )
        row = await tx.conn.fetchrow(
            """UPDATE receivables SET repaid = repaid + $2,
                   status = CASE WHEN repaid + $2 = amount THEN 'repaid' ELSE status END,
                   closed_at = CASE WHEN repaid + $2 = amount THEN now() ELSE closed_at END
               WHERE id = $1 RETURNING *""",
            receivable_id,
            body.amount,
        )
        await _audit(tx.conn, caller, "repayment", str(receivable_id), {"amount": str(body.amount)})
    return _receivable(row)


# --------------------------------------------------------------------------------------------------- audit
async def _audit(conn: Any, caller: Integration, action: str, target: str | None, detail: dict[str, Any]) -> None:
    await audit(
        conn,
        integration_id=caller.id,
        request_id=str(get_contextvars().get("correlation_id", "")),
        action=action,
        entity=action.split("_", 1)[-1],
        entity_id=target,
        detail=detail,
    )
