"""Exactly-once checks over what the platform stored, published and delivered."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from subsidy_contracts.common import PayeeAccount
from subsidy_contracts.eligibility import EntitlementReleased, EntitlementReleasedPayload, Instalment
from subsidy_contracts.envelope import Event
from subsidy_contracts.topics import ALL_TOPICS
from subsidy_runtime.outbox import record_for
from subsidy_runtime.settings import idempotent_producer


async def publish_events(bootstrap: str, events: Sequence[Event], *, concurrency: int = 1) -> None:
    """Publish contract events as a producing service's outbox relay would: topic, key and headers from the
    event. With concurrency > 1, that many sends are in flight at once (for large volumes)."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=idempotent_producer(), linger_ms=5
    )
    await producer.start()
    try:
        for start in range(0, len(events), concurrency):
            sends = []
            for e in events[start : start + concurrency]:
                r = record_for(e)
                sends.append(
                    await producer.send(
                        r.topic,
                        r.value.encode(),
                        key=r.key.encode() if r.key else None,
                        headers=[(k, v.encode()) for k, v in r.headers.items()],
                    )
                )
            await asyncio.gather(*sends)
    finally:
        await producer.stop()


async def partition_count(bootstrap: str, topic: str) -> int:
    registered = [t.partitions for t in ALL_TOPICS if t.name == topic]
    if registered:
        return registered[0]
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        (description,) = await admin.describe_topics([topic])
        return len(description["partitions"])
    finally:
        await admin.close()


async def read_topic(bootstrap: str, topic: str, timeout_s: float = 30.0) -> list[Any]:
    """Every record currently in the topic, from the beginning, without joining a group."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(await partition_count(bootstrap, topic))]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        records: list[Any] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s

        async def behind() -> bool:
            return any([await consumer.position(tp) < end[tp] for tp in partitions])

        while await behind():
            batch = await consumer.getmany(timeout_ms=500, max_records=5000)
            for recs in batch.values():
                records.extend(recs)
            if loop.time() > deadline:
                raise TimeoutError(f"reading {topic} took longer than {timeout_s}s")
        return records
    finally:
        await consumer.stop()


def events_by_type(records: list[Any], event_type: str) -> list[dict[str, Any]]:
    out = []
    for r in records:
        try:
            body = orjson.loads(r.value)
        except orjson.JSONDecodeError:
            continue
        if isinstance(body, dict) and body.get("event_type") == event_type:
            out.append(body)
    return out


async def assert_exactly_once(
    admin_dsn: str, bootstrap: str, sms_url: str, application_ids: list[str]
) -> dict[str, Any]:
    """The acceptance invariants for a set of applications; returns figures for the test's report."""
    ids = [uuid.UUID(a) for a in application_ids]
    wanted = set(application_ids)
    conn = await asyncpg.connect(admin_dsn)
    try:
        decisions = await conn.fetch(
            "SELECT application_id, id, outcome, amount FROM eligibility.decisions WHERE application_id = ANY($1)", ids
        )
        instructions = await conn.fetch(
            "SELECT decision_id, instalment_number, amount FROM payments.payment_instructions WHERE application_id = ANY($1)",
            ids,
        )
        messages = await conn.fetch(
            """SELECT id, application_id, template, channel, recipient, status FROM notifications.messages
               WHERE application_id = ANY($1)""",
            ids,
        )
        statuses = Counter(
            r["status"]
            for r in await conn.fetch("SELECT status FROM registration.applications WHERE id = ANY($1)", ids)
        )
    finally:
        await conn.close()

    # Every application has exactly one decision, stored and published (a republished record keeps its event id).
    per_app = Counter(str(r["application_id"]) for r in decisions)
    assert set(per_app) == wanted, f"{len(wanted - set(per_app))} applications without a decision"
    assert max(per_app.values()) == 1
    published: dict[str, set[str]] = defaultdict(set)
    for e in events_by_type(await read_topic(bootstrap, "eligibility.decisions.v1"), "eligibility.decision-made"):
        if e["payload"]["application_id"] in wanted:
            published[e["payload"]["application_id"]].add(e["event_id"])
    assert set(published) == wanted, "some decisions were stored but never published"
    assert all(len(v) == 1 for v in published.values()), "an application got two different decision events"

    # Every approved decision has exactly one payment instruction, for its amount; nothing else is paid.
    eligible = {r["id"]: r["amount"] for r in decisions if r["outcome"] == "eligible"}
    per_decision = Counter(r["decision_id"] for r in instructions)
    assert set(per_decision) == set(eligible), "instructions do not match the approved decisions"
    assert max(per_decision.values(), default=1) == 1
    paid: defaultdict[uuid.UUID, Decimal] = defaultdict(Decimal)
    for r in instructions:
        paid[r["decision_id"]] += r["amount"]
    assert all(paid[d] == amount for d, amount in eligible.items())

    # Every message exists once per (application, template, channel, recipient) and reached the handset once.
    # The demo's contacts have a mobile number and no e-mail: one SMS each, and one inbox copy per application.
    keys = Counter((r["application_id"], r["template"], r["channel"], r["recipient"]) for r in messages)
    assert max(keys.values()) == 1
    inbox = Counter(r["template"] for r in messages if r["channel"] == "inbox")
    messages = [r for r in messages if r["channel"] == "sms"]
    templates = Counter(r["template"] for r in messages)
    assert templates["application_received"] == len(wanted)
    assert sum(n for t, n in templates.items() if t.startswith("decision_")) == len(wanted)
    assert inbox["application_received"] == len(wanted)
    # sent: the gateway accepted it; delivered: the gateway's receipt came back. The receipt and decision
    # messages (what the pipeline waited for) are all out; payment messages follow the bank's answers and the
    # per-recipient flood guard (a host unit's contact hears about twenty interns), so some may be queued
    # still, but none failed.
    waited_for = [
        r for r in messages if r["template"] == "application_received" or r["template"].startswith("decision_")
    ]
    assert all(r["status"] in ("sent", "delivered") for r in waited_for), Counter(r["status"] for r in waited_for)
    assert all(r["status"] != "dead" for r in messages), Counter(r["status"] for r in messages)
    async with httpx.AsyncClient(base_url=sms_url) as http:
        delivered = (await http.get("/v1/sms/delivered")).json()
    handset = Counter(d["client_msg_id"] for d in delivered)
    ours = {str(r["id"]) for r in messages if r["status"] in ("sent", "delivered")}
    assert ours <= set(handset), f"{len(ours - set(handset))} messages never reached the gateway"
    assert all(handset[m] == 1 for m in ours)
    per_mobile_content = Counter((d["mobile"], d["content"]) for d in delivered if d["client_msg_id"] in ours)
    assert max(per_mobile_content.values()) == 1, "a handset received the same text twice"
    return {
        "decisions": len(decisions),
        "eligible": len(eligible),
        "instructions": len(instructions),
        "messages": len(messages),
        "statuses": dict(statuses),
    }


def released_entitlement(
    *,
    programme_id: str,
    fund_code: str,
    payee: PayeeAccount,
    amounts: Sequence[Decimal],
    due_on: date,
    applicant: uuid.UUID | None = None,
) -> EntitlementReleased:
    """An entitlement released for payment, as eligibility publishes it: one instalment per amount (to a new
    applicant unless one is given)."""
    applicant = applicant or uuid.uuid4()
    return EntitlementReleased.create(
        EntitlementReleasedPayload(
            decision_id=uuid.uuid4(),
            application_id=uuid.uuid4(),
            applicant_id=applicant,
            programme_id=programme_id,
            fund_code=fund_code,
            payee=payee,
            instalments=[Instalment(number=n, amount=a, due_on=due_on) for n, a in enumerate(amounts, 1)],
            released_at=datetime.now(UTC),
        ),
        producer="eligibility",
        subject_key=str(applicant),
        correlation_id=uuid.uuid4(),
    )
