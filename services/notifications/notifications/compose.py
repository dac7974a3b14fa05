"""Which messages an event produces, for whom, rendered from the Chinese templates (Jinja2).

Each message is keyed by (event id, template, channel, recipient): composing the same event twice creates
nothing new.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from subsidy_contracts.common import ContactRole
from subsidy_contracts.eligibility import DecisionMade, Outcome
from subsidy_contracts.programmes import title_zh
from subsidy_contracts.registration import ApplicationSubmitted
from subsidy_runtime.db import insert_many
from subsidy_runtime.masking import mask_account
from subsidy_runtime.outbox import Transaction

# Plain-text SMS bodies, not HTML: there is nothing to escape, and escaping would mangle the text.
ENV = Environment(
    loader=PackageLoader("notifications", "templates"),
    undefined=StrictUndefined,
    autoescape=False,  # noqa: S701
    keep_trailing_newline=False,
)

# Carrier-registered SMS signatures, by province (the first two digits of the region code).
SIGNATURES = {"14": "【山西人社】", "15": "【内蒙古人社】", "33": "【浙江人社】", "43": "【湖南人社】"}
DEFAULT_SIGNATURE = "【人社服务】"
APPLICANT_SIDE = (ContactRole.APPLICANT, ContactRole.ENTERPRISE_CONTACT, ContactRole.GUARDIAN, ContactRole.PROXY)


def signature(region_code: str) -> str:
    return SIGNATURES.get(region_code[:2], DEFAULT_SIGNATURE)


def render(template: str, **context: Any) -> str:
    return ENV.get_template(f"{template}.sms.j2").render(**context).strip()


@dataclass(frozen=True)
class Draft:
    event_id: uuid.UUID
    template: str
    recipient: str
    recipient_role: str
    application_id: uuid.UUID
    subject_key: str
    correlation_id: uuid.UUID
    content: str
    priority: int


def reference(application_id: uuid.UUID) -> str:
    """Short reference shown to people: the first 8 hex digits of the application id, upper case."""
    return application_id.hex[:8].upper()


async def on_submitted(tx: Transaction, events: list[ApplicationSubmitted]) -> None:
    apps, recipients, drafts = [], [], []
    for e in events:
        p = e.payload
        apps.append(
            (p.application_id, p.programme_id, p.jurisdiction, mask_account(p.payee.account_number), e.subject_key)
        )
        for c in p.contacts:
            recipients.append((p.application_id, c.role.value, c.name, c.mobile, c.email))
            if c.role in APPLICANT_SIDE and c.mobile:
                content = render(
                    "application_received",
                    signature=signature(p.jurisdiction),
                    name=c.name,
                    programme=title_zh(p.programme_id),
                    reference=reference(p.application_id),
                )
                drafts.append(
                    Draft(
                        e.event_id,
                        "application_received",
                        c.mobile,
                        c.role.value,
                        p.application_id,
                        e.subject_key,
                        e.correlation_id,
                        content,
                        priority=5,
                    )
                )
    await tx.conn.executemany(
        """INSERT INTO applications (application_id, programme_id, jurisdiction, payee_masked, subject_key)
           VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING""",
        apps,
    )
    await tx.conn.executemany(
        "INSERT INTO recipients (application_id, role, name, mobile, email) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        recipients,
    )
    await store(tx, drafts)


async def on_decided(tx: Transaction, events: list[DecisionMade]) -> None:
    ids = [e.payload.application_id for e in events]
    known = {
        r["application_id"]: r
        for r in await tx.conn.fetch("SELECT * FROM applications WHERE application_id = ANY($1)", ids)
    }
    people: dict[uuid.UUID, list[Any]] = {}
    for r in await tx.conn.fetch("SELECT * FROM recipients WHERE application_id = ANY($1) ORDER BY role, name", ids):
        people.setdefault(r["application_id"], []).append(r)
    drafts = []
    for e in events:
        p = e.payload
        app = known.get(p.application_id)
        if app is None:
            # The application-submitted event (with the contacts) has not been applied yet: ask again later.
            tx.defer(e, "recipients of the application are not known yet")
            continue
        template = {
            Outcome.ELIGIBLE: "decision_eligible",
            Outcome.INELIGIBLE: "decision_ineligible",
            Outcome.NEEDS_REVIEW: "decision_review",
        }[p.outcome]
        reasons = "；".join(c.reason_zh for c in p.conditions if not c.passed) or "不符合条件"
        for r in people.get(p.application_id, []):
            if r["role"] not in APPLICANT_SIDE or not r["mobile"]:
                continue
            content = render(
                template,
                signature=signature(app["jurisdiction"]),
                name=r["name"],
                programme=title_zh(app["programme_id"]),
                reference=reference(p.application_id),
                amount=p.amount,
                account_tail=app["payee_masked"][-4:],
                reasons=reasons,
            )
            drafts.append(
                Draft(
                    e.event_id,
                    template,
                    r["mobile"],
                    r["role"],
                    p.application_id,
                    e.subject_key,
                    e.correlation_id,
                    content,
                    priority=3,
                )
            )
    await store(tx, drafts)


async def store(tx: Transaction, drafts: list[Draft]) -> None:
    if not drafts:
        return
    await insert_many(
        tx.conn,
        "messages",
        [
            ("id", "uuid"),
            ("event_id", "uuid"),
            ("template", "text"),
            ("channel", "text"),
            ("recipient", "text"),
            ("recipient_role", "text"),
            ("application_id", "uuid"),
            ("subject_key", "text"),
            ("correlation_id", "uuid"),
            ("content", "text"),
            ("priority", "int"),
        ],
        [
            (
                uuid.uuid4(),
                d.event_id,
                d.template,
                "sms",
                d.recipient,
                d.recipient_role,
                d.application_id,
                d.subject_key,
                d.correlation_id,
                d.content,
                d.priority,
            )
            for d in drafts
        ],
        suffix="ON CONFLICT (event_id, template, channel, recipient) DO NOTHING",
    )
    await tx.conn.execute("NOTIFY notifications_messages")
