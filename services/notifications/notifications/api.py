"""Notifications' HTTP API: the inbox provincial platforms read, the SMS gateway's delivery receipts, and the
dead letters operators look at. Every endpoint is signed (HMAC, see subsidy_runtime.auth)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from subsidy_runtime.auth import AuthError, Integration, IntegrationRegistry, claim_nonce, requires, verify
from subsidy_runtime.problems import Problem
from subsidy_runtime.service import ServiceRuntime

from .dispatch import record_dead
from .metrics import NotificationMetrics
from .settings import NotificationsSettings

router = APIRouter(prefix="/v1")
InboxReader = Depends(requires("integration"))
Operator = Depends(requires("operator", "caseworker"))
MAX_PAGE = 500


def _runtime(request: Request) -> ServiceRuntime:
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime


def _metrics(request: Request) -> NotificationMetrics:
    metrics: NotificationMetrics = request.app.state.notification_metrics
    return metrics


class InboxItem(BaseModel):
    seq: int = Field(description="Cursor: pass the last seq seen as `after` to read on.")
    message_id: uuid.UUID
    applicant_id: str
    application_id: uuid.UUID | None
    template: str
    subject: str | None
    content: str
    created_at: datetime


class InboxPage(BaseModel):
    items: list[InboxItem]
    next_after: int = Field(description="The cursor for the next page (the last item's seq, or `after`).")


@router.get("/inbox", response_model=InboxPage, tags=["inbox"], summary="Inbox messages, oldest first")
async def inbox(
    request: Request,
    caller: Integration = InboxReader,
    after: Annotated[int, Query(ge=0, description="Return items after this seq.")] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    applicant_id: Annotated[uuid.UUID | None, Query(description="Only this applicant's inbox.")] = None,
) -> InboxPage:
    """Messages for applicants in the caller's jurisdiction, in the order they were written. A message
    gets its seq only after its transaction committed, from one sequencer at a time, so paging by seq misses
    nothing: a seq a reader sees is higher than every seq it could see before."""
    async with _runtime(request).pool.acquire() as conn:
        rows = await conn.fetch(
            """SELECT inbox_seq, id, recipient, application_id, template, subject, content, created_at
               FROM messages
               WHERE channel = 'inbox' AND inbox_seq > $1 AND jurisdiction LIKE $2 || '%'
                 AND ($4::text IS NULL OR recipient = $4)
               ORDER BY inbox_seq LIMIT $3""",
            after,
            caller.jurisdiction,
            limit,
            str(applicant_id) if applicant_id else None,
        )
    items = [
        InboxItem(
            seq=r["inbox_seq"],
            message_id=r["id"],
            applicant_id=r["recipient"],
            application_id=r["application_id"],
            template=r["template"],
            subject=r["subject"],
            content=r["content"],
            created_at=r["created_at"],
        )
        for r in rows
    ]
    return InboxPage(items=items, next_after=items[-1].seq if items else after)


# ------------------------------------------------------------------------------------------ receipts
class Receipt(BaseModel):
    model_config = ConfigDict(extra="ignore")
    client_msg_id: uuid.UUID
    gateway_msg_id: str = Field(max_length=64)
    status: Literal["DELIVRD", "UNDELIV"] = Field(description="Carrier status report: delivered or not.")
    error: str | None = Field(default=None, max_length=200)
    done_at: AwareDatetime


class ReceiptBatch(BaseModel):
    receipts: list[Receipt] = Field(min_length=1, max_length=1000)


class ReceiptResult(BaseModel):
    applied: int
    ignored: int = Field(description="Receipts for unknown messages or messages already final.")


async def gateway_caller(request: Request) -> str:
    """The SMS gateway signs its receipt callbacks like an integration, with its own key and secret."""
    settings: NotificationsSettings = request.app.state.settings
    registry = IntegrationRegistry(
        [
            Integration(
                id="sms-gateway",
                key_id=settings.sms_receipt_key_id,
                secret=settings.sms_receipt_secret,
                jurisdiction="",
                roles=("sms-gateway",),
            )
        ]
    )
    h = request.headers
    query = request.scope.get("query_string", b"").decode("latin-1")
    try:
        caller = verify(
            registry,
            method=request.method,
            path_and_query=request.url.path + (f"?{query}" if query else ""),
            body=await request.body(),
            key_id=h.get("x-api-key"),
            timestamp=h.get("x-timestamp"),
            nonce=h.get("x-nonce"),
            signature=h.get("x-signature"),
        )
        async with _runtime(request).pool.acquire() as conn:
            await claim_nonce(conn, caller.id, h["x-nonce"], int(h["x-timestamp"]))
    except AuthError as exc:
        raise Problem(401, "unauthenticated", "Authentication failed", exc.reason_en, exc.reason_zh) from exc
    return caller.id


@router.post("/sms/receipts", response_model=ReceiptResult, tags=["sms"], summary="Delivery receipts")
async def receipts(request: Request, body: ReceiptBatch, _: str = Depends(gateway_caller)) -> ReceiptResult:
    """DELIVRD marks a message delivered; UNDELIV makes it dead with the carrier's reason (a dead letter).
    A receipt may arrive before the dispatcher has marked the message sent (still pending, claimed): it
    applies then too."""
    delivered = [r for r in body.receipts if r.status == "DELIVRD"]
    undelivered = {r.client_msg_id: r for r in body.receipts if r.status == "UNDELIV"}
    metrics = _metrics(request)
    runtime = _runtime(request)
    async with runtime.pool.acquire() as conn, conn.transaction():
        done = await conn.fetch(
            """UPDATE messages m SET status = 'delivered', delivered_at = t.done_at,
                      gateway_id = coalesce(m.gateway_id, t.gateway_id)
               FROM unnest($1::uuid[], $2::text[], $3::timestamptz[]) AS t(id, gateway_id, done_at)
               WHERE m.id = t.id AND m.channel = 'sms' AND m.status IN ('pending', 'sent')
               RETURNING m.id""",
            [r.client_msg_id for r in delivered],
            [r.gateway_msg_id for r in delivered],
            [r.done_at for r in delivered],
        )
        failed: list[Any] = []
        if undelivered:
            failed = await conn.fetch(
                """SELECT id, channel, template, recipient, application_id, attempts, correlation_id FROM messages
                   WHERE id = ANY($1::uuid[]) AND channel = 'sms' AND status IN ('pending', 'sent') FOR UPDATE""",
                list(undelivered),
            )
            if failed:
                await record_dead(
                    conn,
                    [(r, f"undelivered: {undelivered[r['id']].error or 'UNDELIV'}") for r in failed],
                    max(u.done_at for u in undelivered.values()),
                )
    metrics.messages.labels("sms", "delivered").inc(len(done))
    if failed:
        metrics.messages.labels("sms", "dead").inc(len(failed))
        runtime.metrics.dead_letters.labels("sms-receipts", "undelivered").inc(len(failed))
    applied = len(done) + len(failed)
    return ReceiptResult(applied=applied, ignored=len(body.receipts) - applied)


# -------------------------------------------------------------------------------------- dead letters
class DeadLetterItem(BaseModel):
    id: int
    message_id: uuid.UUID
    channel: str
    template: str
    recipient_masked: str
    application_id: uuid.UUID | None
    reason: str
    attempts: int
    failed_at: datetime


class DeadLetterPage(BaseModel):
    items: list[DeadLetterItem]
    next_after: int


@router.get("/dead-letters", response_model=DeadLetterPage, tags=["operations"], summary="Messages that failed")
async def dead_letters(
    request: Request,
    _: Integration = Operator,
    after: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    channel: Annotated[Literal["sms", "email"] | None, Query()] = None,
) -> DeadLetterPage:
    """Messages that will not be sent (rejected, undelivered, or out of attempts), with the reason."""
    async with _runtime(request).pool.acquire() as conn:
        rows = await conn.fetch(
            """SELECT * FROM message_dead_letters WHERE id > $1 AND ($3::text IS NULL OR channel = $3)
               ORDER BY id LIMIT $2""",
            after,
            limit,
            channel,
        )
    items = [DeadLetterItem(**dict(r)) for r in rows]
    return DeadLetterPage(items=items, next_after=items[-1].id if items else after)
