"""Hands due messages to their channel in batches, highest priority first, each at most once.

A batch goes through three steps:
1. claim (one transaction): due rows of the outgoing queue, in priority order, locked with SKIP LOCKED so
   that workers share the work; quiet hours hold back non-urgent SMS; the per-recipient rate limit defers
   the excess; the rest are claimed (sending: claimed_at set, one more attempt);
2. send, outside any transaction (a slow provider holds no locks);
3. mark (one transaction): accepted -> sent and off the queue (and notifications.message-sent through the
   outbox), transient failures unclaimed until a backoff, permanent ones (or too many attempts) -> dead with
   a dead letter.

If the process dies between 2 and 3, the rows stay claimed; after the lease they are claimed again and
re-sent with the same client message id, which the SMS gateway answers "duplicate": nothing reaches a handset
twice, and the row is marked sent then.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from subsidy_runtime.logging import get_logger
from subsidy_runtime.metrics import ServiceMetrics
from subsidy_runtime.outbox import Transaction

from .channels import ChannelAdapter, Outcome, Outgoing
from .metrics import NotificationMetrics
from .policy import Backoff, Clock, QuietHours, RateLimit
from .store import WAKE_CHANNEL, mask_recipient, sent_record

log = get_logger(__name__)


@dataclass
class Dispatcher:
    pool: asyncpg.Pool
    schema: str
    channel: ChannelAdapter
    clock: Clock
    quiet_hours: QuietHours
    rate_limit: RateLimit
    backoff: Backoff
    lease: timedelta
    batch_size: int
    metrics: NotificationMetrics
    service_metrics: ServiceMetrics | None = None

    # ------------------------------------------------------------------------------------------ claim
    async def claim(self, now: datetime) -> list[Claimed]:
        name = self.channel.name
        quiet = name == "sms" and self.quiet_hours.contains(now)
        async with self.pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                """SELECT message_id, recipient FROM outgoing
                   WHERE channel = $1
                     AND ((claimed_at IS NULL AND not_before <= $2) OR claimed_at < $3)
                     AND (urgent OR NOT $5)
                   ORDER BY priority, created_at
                   LIMIT $4 FOR UPDATE SKIP LOCKED""",
                name,
                now,
                now - self.lease,
                self.batch_size,
                quiet,
            )
            if not rows:
                return []
            ids = [r["message_id"] for r in rows]
            recent = await conn.fetch(
                """SELECT recipient, array_agg(at) AS at FROM (
                       SELECT recipient, sent_at AS at FROM messages
                       WHERE channel = $1 AND recipient = ANY($2::text[]) AND sent_at > $3
                       UNION ALL
                       SELECT recipient, claimed_at FROM outgoing
                       WHERE recipient = ANY($2::text[]) AND channel = $1 AND claimed_at > $3
                         AND NOT (message_id = ANY($4::uuid[]))) AS s
                   GROUP BY recipient""",
                name,
                list({r["recipient"] for r in rows}),
                now - self.rate_limit.window,
                ids,
            )
            allowed, deferred = self.rate_limit.partition(
                [(r["message_id"], r["recipient"]) for r in rows], {r["recipient"]: r["at"] for r in recent}, now
            )
            if deferred:
                await conn.execute(
                    """UPDATE outgoing o SET not_before = t.not_before, claimed_at = NULL
                       FROM unnest($1::uuid[], $2::timestamptz[]) AS t(id, not_before) WHERE o.message_id = t.id""",
                    list(deferred),
                    list(deferred.values()),
                )
                self.metrics.messages.labels(name, "rate_limited").inc(len(deferred))
            if not allowed:
                return []
            attempts = {
                r["message_id"]: r["attempts"]
                for r in await conn.fetch(
                    """UPDATE outgoing SET claimed_at = $2, attempts = attempts + 1 WHERE message_id = ANY($1::uuid[])
                       RETURNING message_id, attempts""",
                    allowed,
                    now,
                )
            }
            messages = await conn.fetch(
                """SELECT id, event_id, template, channel, recipient, recipient_role, application_id, subject_key,
                          correlation_id, subject, content, segments
                   FROM messages WHERE id = ANY($1::uuid[])""",
                allowed,
            )
        # Priority order, with the attempt number this claim made.
        order = {m: i for i, m in enumerate(allowed)}
        return sorted(
            (Claimed(r, attempts[r["id"]]) for r in messages),
            key=lambda c: order[c["id"]],
        )

    # ------------------------------------------------------------------------------------------- mark
    async def mark(self, rows: list[Any], outcomes: list[Outcome], now: datetime) -> dict[str, int]:
        name = self.channel.name
        by_id = {o.message_id: o for o in outcomes}
        sent: list[tuple[uuid.UUID, str | None, int]] = []
        retry: list[tuple[uuid.UUID, datetime, str]] = []
        dead: list[tuple[Any, str]] = []
        duplicates = 0
        for r in rows:
            o = by_id.get(str(r["id"])) or Outcome(str(r["id"]), "transient", error="no outcome from the channel")
            if o.status in ("accepted", "duplicate"):
                sent.append((r["id"], o.provider_id, r["attempts"]))
                duplicates += o.status == "duplicate"
            elif o.status == "transient" and not self.backoff.exhausted(r["attempts"]):
                retry.append((r["id"], now + self.backoff.delay(r["attempts"]), o.error or "transient failure"))
            else:
                reason = o.error or "permanent failure"
                if o.status == "transient":
                    reason = f"gave up after {r['attempts']} attempts: {reason}"
                dead.append((r, reason))
        async with self.pool.acquire() as conn, conn.transaction():
            tx = Transaction(conn, self.schema)
            if sent:
                sent_ids = [s[0] for s in sent]
                marked = await conn.fetch(
                    """UPDATE messages m
                       SET status = CASE WHEN m.status = 'delivered' THEN 'delivered' ELSE 'sent' END,
                           sent_at = $3, gateway_id = coalesce(m.gateway_id, t.gateway_id), last_error = NULL,
                           attempts = t.attempts
                       FROM unnest($1::uuid[], $2::text[], $4::int[]) AS t(id, gateway_id, attempts)
                       WHERE m.id = t.id AND m.status IN ('pending', 'delivered') AND m.sent_at IS NULL
                       RETURNING m.id""",
                    sent_ids,
                    [s[1] for s in sent],
                    now,
                    [s[2] for s in sent],
                )
                await conn.execute("DELETE FROM outgoing WHERE message_id = ANY($1::uuid[])", sent_ids)
                marked_ids = {m["id"] for m in marked}
                for r in rows:
                    if r["id"] in marked_ids:
                        tx.publish_record(sent_record(r, now, causation_id=r["event_id"]))
                self.metrics.messages.labels(name, "sent").inc(len(marked_ids))
                if name == "sms":
                    self.metrics.sms_segments.inc(sum(r["segments"] or 1 for r in rows if r["id"] in marked_ids))
                if duplicates:
                    self.metrics.messages.labels(name, "duplicate").inc(duplicates)
            if retry:
                await conn.execute(
                    """UPDATE outgoing o SET not_before = t.not_before, claimed_at = NULL
                       FROM unnest($1::uuid[], $2::timestamptz[]) AS t(id, not_before) WHERE o.message_id = t.id""",
                    [x[0] for x in retry],
                    [x[1] for x in retry],
                )
                await conn.execute(
                    """UPDATE messages m SET last_error = t.error, attempts = t.attempts
                       FROM unnest($1::uuid[], $2::text[], $3::int[]) AS t(id, error, attempts) WHERE m.id = t.id""",
                    [x[0] for x in retry],
                    [x[2][:500] for x in retry],
                    [next(r["attempts"] for r in rows if r["id"] == x[0]) for x in retry],
                )
                self.metrics.messages.labels(name, "retried").inc(len(retry))
            if dead:
                await record_dead(conn, [(r, reason) for r, reason in dead], now)
                self.metrics.messages.labels(name, "dead").inc(len(dead))
                if self.service_metrics is not None:
                    self.service_metrics.dead_letters.labels(f"{name}-dispatch", "permanent").inc(len(dead))
                for r, reason in dead:
                    log.error(
                        "message dead-lettered",
                        channel=name,
                        template=r["template"],
                        recipient=mask_recipient(name, r["recipient"]),
                        reason=reason[:300],
                        correlation_id=str(r["correlation_id"]),
                    )
            await tx.flush()
        return {"sent": len(sent), "retry": len(retry), "dead": len(dead)}

    # -------------------------------------------------------------------------------------------- run
    async def dispatch_once(self) -> int:
        started = time.perf_counter()
        now = self.clock.now()
        rows = await self.claim(now)
        if not rows:
            return 0
        outgoing = [Outgoing(str(r["id"]), r["recipient"], r["subject"], r["content"]) for r in rows]
        outcomes = await self.channel.send(outgoing)
        await self.mark(rows, outcomes, self.clock.now())
        self.metrics.send_seconds.labels(self.channel.name).observe(time.perf_counter() - started)
        return len(rows)

    async def run(self, idle_s: float) -> None:
        wake = asyncio.Event()

        def on_notify(*_: Any) -> None:
            wake.set()

        async with self.pool.acquire() as listener:
            await listener.add_listener(WAKE_CHANNEL, on_notify)
            try:
                while True:
                    wake.clear()
                    n = await self.dispatch_once()
                    if n < self.batch_size:
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(wake.wait(), timeout=idle_s)
            finally:
                with contextlib.suppress(Exception):
                    await listener.remove_listener(WAKE_CHANNEL, on_notify)


class Claimed(dict[str, Any]):
    """A claimed message: its stored columns and the attempt number of this claim."""

    def __init__(self, record: asyncpg.Record, attempts: int) -> None:
        super().__init__(record.items())
        self["attempts"] = attempts


async def record_dead(conn: Any, dead: list[tuple[Any, str]], now: datetime) -> None:
    """Mark messages dead (off the queue) and keep a dead letter operators can list over HTTP."""
    ids = [r["id"] for r, _ in dead]
    await conn.execute(
        """UPDATE messages m SET status = 'dead', last_error = t.reason, attempts = greatest(m.attempts, t.attempts)
           FROM unnest($1::uuid[], $2::text[], $3::int[]) AS t(id, reason, attempts) WHERE m.id = t.id""",
        ids,
        [reason[:500] for _, reason in dead],
        [r["attempts"] for r, _ in dead],
    )
    await conn.execute("DELETE FROM outgoing WHERE message_id = ANY($1::uuid[])", ids)
    await conn.execute(
        """INSERT INTO message_dead_letters (message_id, channel, template, recipient_masked, application_id, reason,
                                             attempts, failed_at)
           SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::uuid[], $6::text[], $7::int[],
                                $8::timestamptz[])
           ON CONFLICT (message_id) DO NOTHING""",
        [r["id"] for r, _ in dead],
        [r["channel"] for r, _ in dead],
        [r["template"] for r, _ in dead],
        [mask_recipient(r["channel"], r["recipient"]) for r, _ in dead],
        [r["application_id"] for r, _ in dead],
        [reason[:500] for _, reason in dead],
        [r["attempts"] for r, _ in dead],
        [now] * len(dead),
    )
