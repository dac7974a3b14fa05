"""Hands pending SMS messages to the gateway in batches, highest priority first.

The claim, the gateway call and the status update share one transaction. If the process dies after the
gateway accepted a batch but before the commit, the rows are still pending and are sent again with the same
client message ids: the gateway answers "duplicate" and the handset receives nothing twice.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from typing import Any

from subsidy_contracts.common import ContactRole
from subsidy_contracts.notifications import Channel, MessageSent, MessageSentPayload
from subsidy_runtime.logging import get_logger
from subsidy_runtime.masking import mask_mobile
from subsidy_runtime.outbox import Transaction

from .gateway import SmsGateway, SmsMessage, TransientGatewayError

log = get_logger(__name__)
PRODUCER = "notifications"


async def dispatch_once(tx: Transaction, gateway: SmsGateway, batch_size: int) -> int:
    rows = await tx.conn.fetch(
        """SELECT * FROM messages
           WHERE status = 'pending' AND channel = 'sms' AND not_before <= now()
           ORDER BY priority, created_at LIMIT $1 FOR UPDATE SKIP LOCKED""",
        batch_size,
    )
    if not rows:
        return 0
    results = {
        r.client_msg_id: r
        for r in await gateway.send_batch([SmsMessage(str(r["id"]), r["recipient"], r["content"]) for r in rows])
    }
    now = datetime.now(UTC)
    sent, failed = [], []
    for r in rows:
        result = results.get(str(r["id"]))
        if result is not None and result.delivered_to_gateway:
            sent.append((r, result.gateway_msg_id))
        else:
            failed.append((r["id"], result.error if result else "no answer for this message"))
    if sent:
        await tx.conn.executemany(
            "UPDATE messages SET status = 'sent', sent_at = $2, gateway_id = $3, attempts = attempts + 1 WHERE id = $1",
            [(r["id"], now, gid) for r, gid in sent],
        )
        tx.publish(*(_sent_event(r, now) for r, _ in sent))
    if failed:
        await tx.conn.executemany(
            "UPDATE messages SET status = 'failed', last_error = $2, attempts = attempts + 1 WHERE id = $1", failed
        )
    return len(rows)


def _sent_event(row: Any, now: datetime) -> MessageSent:
    payload = MessageSentPayload(
        message_id=row["id"],
        application_id=row["application_id"],
        template=row["template"],
        channel=Channel.SMS,
        recipient_role=ContactRole(row["recipient_role"]),
        recipient_masked=mask_mobile(row["recipient"]),
        sent_at=now,
    )
    return MessageSent.create(
        payload,
        producer=PRODUCER,
        subject_key=row["subject_key"],
        correlation_id=row["correlation_id"],
        causation_id=row["event_id"],
        occurred_at=now,
    )


async def run_dispatcher(runtime: Any, gateway: SmsGateway, batch_size: int, idle_s: float) -> None:
    wake = asyncio.Event()
    async with runtime.pool.acquire() as listener:
        await listener.add_listener("notifications_messages", lambda *_: wake.set())
        delay = 0.5
        while True:
            wake.clear()
            try:
                async with runtime.transaction() as tx:
                    n = await dispatch_once(tx, gateway, batch_size)
                delay = 0.5
            except TransientGatewayError as exc:
                log.warning("SMS gateway unavailable; backing off", error=str(exc), delay_s=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
                continue
            if n < batch_size:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), timeout=idle_s)
