"""Notifications' tables: the recipient directory, decisions for reminders, and the messages themselves.

Everything is read and written in batches (ANY($1) reads, unnest inserts, executemany updates).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson

from subsidy_contracts.eligibility import DecisionMade, DecisionRevised
from subsidy_contracts.notifications import MessageSent
from subsidy_contracts.registration import ApplicationSubmitted
from subsidy_contracts.topics import MESSAGES
from subsidy_runtime.db import Connection, insert_many
from subsidy_runtime.masking import mask_account, mask_mobile
from subsidy_runtime.outbox import OutboxRecord, Transaction

from .compose import Application, Draft, Recipient, missing_materials
from .metrics import NotificationMetrics

PRODUCER = "notifications"
WAKE_CHANNEL = "notifications_messages"


async def save_submitted(conn: Connection, events: Sequence[ApplicationSubmitted]) -> None:
    apps: list[tuple[object, ...]] = []
    recipients: list[tuple[object, ...]] = []
    for e in events:
        p = e.payload
        apps.append(
            (
                p.application_id,
                p.programme_id,
                p.jurisdiction,
                mask_account(p.payee.account_number),
                e.subject_key,
                p.applicant.applicant_id,
                e.correlation_id,
                p.submitted_at,
            )
        )
        recipients.extend((p.application_id, c.role.value, c.name, c.mobile, c.email) for c in p.contacts)
    await insert_many(
        conn,
        "applications",
        [
            ("application_id", "uuid"),
            ("programme_id", "text"),
            ("jurisdiction", "text"),
            ("payee_masked", "text"),
            ("subject_key", "text"),
            ("applicant_id", "uuid"),
            ("correlation_id", "uuid"),
            ("submitted_at", "timestamptz"),
        ],
        apps,
        suffix="ON CONFLICT DO NOTHING",
    )
    await insert_many(
        conn,
        "recipients",
        [("application_id", "uuid"), ("role", "text"), ("name", "text"), ("mobile", "text"), ("email", "text")],
        recipients,
        suffix="ON CONFLICT DO NOTHING",
    )


async def load_applications(conn: Connection, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Application]:
    if not ids:
        return {}
    rows = await conn.fetch(
        """SELECT a.*, coalesce(array_agg(r.role ORDER BY r.role, r.name) FILTER (WHERE r.role IS NOT NULL), '{}')
                      AS roles,
                  array_agg(r.name ORDER BY r.role, r.name) AS names,
                  array_agg(r.mobile ORDER BY r.role, r.name) AS mobiles,
                  array_agg(r.email ORDER BY r.role, r.name) AS emails
           FROM applications a LEFT JOIN recipients r USING (application_id)
           WHERE a.application_id = ANY($1::uuid[])
           GROUP BY a.application_id""",
        list(set(ids)),
    )
    out = {}
    for row in rows:
        recipients = tuple(
            Recipient(role, name, mobile, email)
            for role, name, mobile, email in zip(
                row["roles"], row["names"], row["mobiles"], row["emails"], strict=False
            )
        )
        out[row["application_id"]] = Application(
            application_id=row["application_id"],
            applicant_id=row["applicant_id"],
            programme_id=row["programme_id"],
            jurisdiction=row["jurisdiction"],
            payee_masked=row["payee_masked"],
            subject_key=row["subject_key"],
            correlation_id=row["correlation_id"],
            recipients=recipients,
        )
    return out


async def save_decisions(conn: Connection, events: Sequence[DecisionMade]) -> None:
    rows = []
    for e in events:
        p = e.payload
        ends = [i.covers_to or i.due_on for i in p.instalments]
        instalments = [
            {"number": i.number, "amount": str(i.amount), "due_on": i.due_on.isoformat()} for i in p.instalments
        ]
        rows.append(
            (
                p.decision_id,
                p.application_id,
                p.outcome.value,
                p.amount,
                p.schedule_kind.value if p.schedule_kind else None,
                orjson.dumps(instalments).decode(),
                max(ends) if ends else None,
                orjson.dumps(missing_materials(p.conditions)).decode(),
                p.decided_at,
            )
        )
    await conn.executemany(
        """INSERT INTO decisions (decision_id, application_id, outcome, amount, schedule_kind, instalments, period_end,
                                  missing, decided_at)
           VALUES ($1, $2, $3, $4, $5, $6::text::jsonb, $7, $8::text::jsonb, $9) ON CONFLICT DO NOTHING""",
        rows,
    )


async def revise_decisions(conn: Connection, events: Sequence[DecisionRevised]) -> None:
    await conn.executemany(
        """UPDATE decisions SET outcome = $2, amount = $3, revised_at = $4,
                  instalments = CASE WHEN $5::text = '[]' THEN instalments ELSE $5::text::jsonb END
           WHERE decision_id = $1 AND (revised_at IS NULL OR revised_at < $4)""",
        [
            (
                e.payload.decision_id,
                e.payload.outcome.value,
                e.payload.amount,
                e.payload.revised_at,
                orjson.dumps(
                    [
                        {"number": i.number, "amount": str(i.amount), "due_on": i.due_on.isoformat()}
                        for i in e.payload.instalments
                    ]
                ).decode(),
            )
            for e in events
        ],
    )


MESSAGE_COLUMNS = [
    ("id", "uuid"),
    ("event_id", "uuid"),
    ("template", "text"),
    ("channel", "text"),
    ("recipient", "text"),
    ("recipient_role", "text"),
    ("application_id", "uuid"),
    ("subject_key", "text"),
    ("correlation_id", "uuid"),
    ("jurisdiction", "text"),
    ("subject", "text"),
    ("content", "text"),
    ("priority", "int"),
    ("urgent", "bool"),
    ("segments", "int"),
    ("not_before", "timestamptz"),
    ("status", "text"),
    ("sent_at", "timestamptz"),
    ("delivered_at", "timestamptz"),
]


async def store_drafts(tx: Transaction, drafts: Sequence[Draft], metrics: NotificationMetrics, now: datetime) -> int:
    """Insert the drafts that do not exist yet; announce inbox copies (delivered when written). Returns the
    number of new messages."""
    if not drafts:
        return 0
    rows = await insert_many(
        tx.conn,
        "messages",
        MESSAGE_COLUMNS,
        [
            (
                d.id,
                d.key,
                d.template,
                d.channel,
                d.recipient,
                d.recipient_role,
                d.application_id,
                d.subject_key,
                d.correlation_id,
                d.jurisdiction,
                d.subject,
                d.content,
                d.priority,
                d.urgent,
                d.segments,
                d.not_before,
                d.status,
                now if d.status == "delivered" else None,
                now if d.status == "delivered" else None,
            )
            for d in drafts
        ],
        suffix="ON CONFLICT (event_id, template, channel, recipient) DO NOTHING RETURNING id",
    )
    new_ids = {r["id"] for r in rows}
    by_channel: dict[str, int] = {}
    inbox = []
    for d in drafts:
        if d.id in new_ids:
            by_channel[d.channel] = by_channel.get(d.channel, 0) + 1
            if d.channel == "inbox":
                inbox.append(d)
    queued = [d for d in drafts if d.id in new_ids and d.channel != "inbox"]
    await insert_many(
        tx.conn,
        "outgoing",
        [
            ("message_id", "uuid"),
            ("channel", "text"),
            ("recipient", "text"),
            ("priority", "int"),
            ("urgent", "bool"),
            ("created_at", "timestamptz"),
            ("not_before", "timestamptz"),
        ],
        [(d.id, d.channel, d.recipient, d.priority, d.urgent, now, d.not_before) for d in queued],
    )
    for channel, n in by_channel.items():
        metrics.messages.labels(channel, "queued").inc(n)
    if inbox:
        metrics.messages.labels("inbox", "delivered").inc(len(inbox))
        for d in inbox:
            tx.publish_record(sent_record(d.__dict__, now, causation_id=d.key))
    if queued:
        await tx.conn.execute(f"NOTIFY {WAKE_CHANNEL}")
    return len(new_ids)


def mask_recipient(channel: str, recipient: str) -> str:
    if channel == "sms":
        return mask_mobile(recipient)
    if channel == "email":
        local, _, domain = recipient.partition("@")
        return f"{local[:1]}***@{domain}"
    return recipient[:8] + "…"


def sent_record(row: Any, now: datetime, *, causation_id: uuid.UUID) -> OutboxRecord:
    """The outbox record of notifications.message-sent for a message a channel accepted (the registration
    timeline shows it). Built as JSON directly: this runs once per message, and pydantic's validation of
    values we construct ourselves cost more than the rest of marking (tests validate the result against
    the contract model)."""
    event_id = uuid.uuid4()
    at = now.isoformat()
    value = orjson.dumps(
        {
            "event_id": str(event_id),
            "event_type": SENT_TYPE,
            "schema_version": SENT_VERSION,
            "occurred_at": at,
            "producer": PRODUCER,
            "correlation_id": str(row["correlation_id"]),
            "causation_id": str(causation_id),
            "subject_key": row["subject_key"],
            "payload": {
                "message_id": str(row["id"]),
                "application_id": None if row["application_id"] is None else str(row["application_id"]),
                "template": row["template"],
                "channel": row["channel"],
                "recipient_role": row["recipient_role"],
                "recipient_masked": mask_recipient(row["channel"], row["recipient"]),
                "sent_at": at,
            },
        }
    ).decode()
    headers = {
        "content-type": "application/json",
        "event_type": SENT_TYPE,
        "schema_version": str(SENT_VERSION),
        "event_id": str(event_id),
        "correlation_id": str(row["correlation_id"]),
        "producer": PRODUCER,
    }
    return OutboxRecord(topic=MESSAGES.name, key=row["subject_key"], value=value, headers=headers, event_type=SENT_TYPE)


SENT_TYPE = MessageSent.type_name()
SENT_VERSION = MessageSent.version()
