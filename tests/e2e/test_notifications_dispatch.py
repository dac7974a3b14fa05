"""The dispatcher's SQL on real PostgreSQL, driven by a manual clock (no sleeping): quiet hours, the per-recipient
rate limit, backoff to a dead letter, and a crash between sending and marking, re-sent to the real SMS-gateway
simulator, which recognises the client message id. Each test gets a scratch schema with notifications'
migrations, so the running service (if any) is not disturbed."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg
import httpx
import pytest

from notifications.channels import Outcome, OutcomeStatus, Outgoing, SmsChannel
from notifications.compose import Application, Composer, Recipient
from notifications.dispatch import Dispatcher
from notifications.gateway import HttpSmsGateway
from notifications.metrics import NotificationMetrics
from notifications.policy import Backoff, ManualClock, QuietHours, RateLimit
from notifications.settings import DEFAULT_SIGNATURES
from notifications.store import store_drafts
from subsidy_runtime.db import create_pool
from subsidy_runtime.migrations import migrate, service_migrations
from subsidy_runtime.outbox import Transaction
from tests.conftest import Stack

pytestmark = [pytest.mark.e2e]


def shanghai(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=UTC) - timedelta(hours=8)


@pytest.fixture(scope="module")
def gateway_stack(infra: Stack) -> Stack:
    infra.run("simulators-up")
    return infra


@pytest.fixture
async def pool(infra: Stack) -> AsyncIterator[asyncpg.Pool]:
    schema = f"notif_clock_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(infra.admin_dsn)
    await admin.execute(f'CREATE SCHEMA "{schema}"')
    await migrate(
        admin,
        schema,
        service_migrations("notifications.migrations"),
    )
    p = await create_pool(infra.admin_dsn, schema=schema, application_name="notifications-clock-test")
    try:
        yield p
    finally:
        await p.close()
        await admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await admin.close()


class RecordingChannel:
    """A channel that records what it was handed and answers as told."""

    name = "sms"

    def __init__(self, answer: OutcomeStatus = "accepted") -> None:
        self.answer = answer
        self.sent: list[Outgoing] = []

    async def send(self, messages: list[Outgoing]) -> list[Outcome]:
        self.sent.extend(messages)
        return [
            Outcome(m.message_id, self.answer, error=None if self.answer == "accepted" else "down") for m in messages
        ]


def app(*mobiles: str) -> Application:
    return Application(
        application_id=uuid.uuid4(),
        applicant_id=None,  # no inbox copy: these tests are about SMS
        programme_id="hn.one-off-hiring-subsidy",
        jurisdiction="430102",
        payee_masked="****2020",
        subject_key="k",
        correlation_id=uuid.uuid4(),
        recipients=tuple(
            Recipient("applicant" if i == 0 else "guardian", f"人{i}", m, None) for i, m in enumerate(mobiles)
        ),
    )


async def compose(pool: asyncpg.Pool, kinds_and_apps: list[tuple[str, Application]], now: datetime) -> None:
    composer = Composer(dict(DEFAULT_SIGNATURES), "【人社服务】", QuietHours())
    context = {
        "submitted_on": "2026年12月1日",
        "amount": "100.00",
        "reason": "收款账户已销户",
        "what_to_do": "请更正账户",
        "changed_on": "2026年12月1日",
        "payment_ref": "AB1001",
        "instalments": 1,
        "period_end": "2026年12月31日",
        "days_left": 30,
    }
    for kind, a in kinds_and_apps:
        composer.fan_out(kind, uuid.uuid4(), a, context, now=now, correlation_id=uuid.uuid4())
    async with pool.acquire() as conn, conn.transaction():
        tx = Transaction(conn, "x")
        await store_drafts(tx, composer.drafts, NotificationMetrics(), now)


def dispatcher(pool: asyncpg.Pool, channel: object, clock: ManualClock, **kw: object) -> Dispatcher:
    return Dispatcher(
        pool=pool,
        schema="x",
        channel=channel,  # type: ignore[arg-type]
        clock=clock,
        quiet_hours=QuietHours(),
        rate_limit=kw.pop("rate_limit", RateLimit(100, timedelta(hours=1))),  # type: ignore[arg-type]
        backoff=kw.pop("backoff", Backoff()),  # type: ignore[arg-type]
        lease=timedelta(seconds=30),
        batch_size=100,
        metrics=NotificationMetrics(),
    )


async def statuses(pool: asyncpg.Pool) -> Counter[tuple[str, str]]:
    async with pool.acquire() as conn:
        return Counter((r["template"], r["status"]) for r in await conn.fetch("SELECT template, status FROM messages"))


async def test_quiet_hours_hold_non_urgent_sms_until_eight_and_let_urgent_ones_through(pool: asyncpg.Pool) -> None:
    clock = ManualClock(shanghai(1, 23, 0))
    a = app("13800000001")
    await compose(pool, [("application_received", a), ("payment_failed", a)], clock.now())
    async with pool.acquire() as conn:
        held = await conn.fetchval("SELECT not_before FROM messages WHERE template = 'application_received'")
    assert held == shanghai(2, 8, 0)  # queued until morning
    channel = RecordingChannel()
    d = dispatcher(pool, channel, clock)
    assert await d.dispatch_once() == 1  # only the urgent payment failure
    assert "未能入账" in channel.sent[0].content
    clock.current = shanghai(2, 7, 59)
    assert await d.dispatch_once() == 0
    clock.current = shanghai(2, 8, 0)
    assert await d.dispatch_once() == 1
    assert await statuses(pool) == {("application_received", "sent"): 1, ("payment_failed", "sent"): 1}


async def test_quiet_hours_also_hold_a_message_due_for_retry_at_night(pool: asyncpg.Pool) -> None:
    clock = ManualClock(shanghai(1, 21, 59))
    await compose(pool, [("application_received", app("13800000002"))], clock.now())
    down = RecordingChannel("transient")
    d = dispatcher(pool, down, clock)
    assert await d.dispatch_once() == 1  # 21:59: tried, failed, retry in 5 s
    clock.advance(timedelta(minutes=5))  # 22:04: due again, but quiet hours
    d.channel = RecordingChannel()
    assert await d.dispatch_once() == 0
    clock.current = shanghai(2, 8, 0)
    assert await d.dispatch_once() == 1


async def test_rate_limit_defers_the_excess_per_recipient_lowest_priority_last(pool: asyncpg.Pool) -> None:
    clock = ManualClock(shanghai(1, 10, 0))
    busy, other = app("13800000003"), app("13800000004")
    kinds = ["reminder_period_ending", "application_received", "payment_failed", "payment_arrived", "decision_eligible"]
    await compose(pool, [(k, busy) for k in kinds] + [("application_received", other)], clock.now())
    channel = RecordingChannel()
    d = dispatcher(pool, channel, clock, rate_limit=RateLimit(3, timedelta(hours=1)))
    assert await d.dispatch_once() == 4  # 3 for the busy recipient, 1 for the other
    first = {m.recipient for m in channel.sent}
    assert first == {"13800000003", "13800000004"}
    after_first = await statuses(pool)
    # Priority order: the payment failure went first; the reminder waits.
    assert after_first[("payment_failed", "sent")] == 1
    assert after_first[("reminder_period_ending", "pending")] == 1
    clock.advance(timedelta(minutes=30))
    assert await d.dispatch_once() == 0  # still three in the last hour
    clock.advance(timedelta(minutes=30, seconds=1))
    assert await d.dispatch_once() == 2
    assert sum(n for (_, s), n in (await statuses(pool)).items() if s == "sent") == 6


async def test_transient_failures_back_off_then_become_a_dead_letter(pool: asyncpg.Pool) -> None:
    clock = ManualClock(shanghai(1, 10, 0))
    await compose(pool, [("application_received", app("13800000005"))], clock.now())
    channel = RecordingChannel("transient")
    d = dispatcher(pool, channel, clock, backoff=Backoff(timedelta(seconds=10), timedelta(minutes=1), max_attempts=3))
    assert await d.dispatch_once() == 1
    clock.advance(timedelta(seconds=9))
    assert await d.dispatch_once() == 0  # not before the backoff
    clock.advance(timedelta(seconds=1))
    assert await d.dispatch_once() == 1
    clock.advance(timedelta(seconds=20))
    assert await d.dispatch_once() == 1  # third attempt: out of attempts
    clock.advance(timedelta(hours=1))
    assert await d.dispatch_once() == 0
    assert len(channel.sent) == 3
    async with pool.acquire() as conn:
        letter = await conn.fetchrow("SELECT * FROM message_dead_letters")
        status = await conn.fetchval("SELECT status FROM messages")
    assert status == "dead"
    assert letter is not None
    assert letter["attempts"] == 3
    assert "gave up after 3 attempts" in letter["reason"]
    assert letter["recipient_masked"] == "138****0005"


async def test_a_crash_between_sending_and_marking_does_not_reach_the_handset_twice(
    pool: asyncpg.Pool, gateway_stack: Stack
) -> None:
    clock = ManualClock(shanghai(1, 10, 0))
    mobiles = [f"1390000{n:04d}" for n in range(3)]
    await compose(pool, [("application_received", app(m)) for m in mobiles], clock.now())
    sms = SmsChannel(HttpSmsGateway(gateway_stack.url("sms-gateway")))
    d = dispatcher(pool, sms, clock)
    # Claim and send, then "crash": the rows are never marked.
    rows = await d.claim(clock.now())
    assert len(rows) == 3
    outcomes = await sms.send([Outgoing(str(r["id"]), r["recipient"], None, r["content"]) for r in rows])
    assert {o.status for o in outcomes} == {"accepted"}
    # A restarted dispatcher leaves them alone while the lease runs ...
    clock.advance(timedelta(seconds=10))
    assert await d.dispatch_once() == 0
    # ... then re-sends with the same client message ids: the gateway answers duplicate, nothing is delivered twice.
    clock.advance(timedelta(seconds=30))
    assert await d.dispatch_once() == 3
    assert d.metrics.messages.labels("sms", "duplicate")._value.get() == 3
    assert (await statuses(pool)) == {("application_received", "sent"): 3}
    async with httpx.AsyncClient(base_url=gateway_stack.url("sms-gateway")) as http:
        delivered = (await http.get("/v1/sms/delivered")).json()
    ids = {str(r["id"]) for r in rows}
    per_id = Counter(x["client_msg_id"] for x in delivered if x["client_msg_id"] in ids)
    assert per_id == dict.fromkeys(ids, 1)


async def test_reminder_loop_finds_due_reminders_in_stored_decisions_once(pool: asyncpg.Pool) -> None:
    """The loop's SQL on real PostgreSQL: period ending, appraisal before a yearly instalment, missing materials."""
    from notifications.reminders import ReminderRules, remind_once
    from notifications.store import save_decisions
    from subsidy_contracts.eligibility import (
        ConditionResult,
        DecisionMade,
        DecisionMadePayload,
        Instalment,
        Outcome,
        RulePackRef,
        ScheduleKind,
    )

    clock = ManualClock(shanghai(1, 10, 0))
    today = clock.now().date()
    yearly, review, far = app("13800000011"), app("13800000012"), app("13800000013")

    def decided(a: Application, outcome: Outcome, instalments: list[Instalment], **kw: object) -> DecisionMade:
        payload = DecisionMadePayload(
            decision_id=uuid.uuid4(),
            application_id=a.application_id,
            applicant_id=uuid.uuid4(),
            rule_pack=RulePackRef(programme_id="hn.one-off-hiring-subsidy", version="1", jurisdiction="43"),
            outcome=outcome,
            amount=sum((i.amount for i in instalments), Decimal("0.00")),
            instalments=instalments,
            conditions=[ConditionResult(code="X", passed=False, reason_zh="缺少劳动合同", reason_en="")]
            if outcome is Outcome.NEEDS_REVIEW
            else [],
            legal_basis=[],
            evaluated_on=today,
            decided_at=clock.now(),
            **kw,
        )
        return DecisionMade.create(payload, producer="t", subject_key="k", correlation_id=uuid.uuid4())

    def inst(n: int, due: int, to: int) -> Instalment:
        return Instalment(
            number=n,
            amount=Decimal("1000.00"),
            due_on=today + timedelta(days=due),
            covers_from=today + timedelta(days=due),
            covers_to=today + timedelta(days=to),
        )

    events = [
        # Yearly: instalment 2 due in 20 days (appraisal due), and the period ends in 25 days.
        decided(yearly, Outcome.ELIGIBLE, [inst(1, -345, -1), inst(2, 20, 25)], schedule_kind=ScheduleKind.YEARLY),
        decided(review, Outcome.NEEDS_REVIEW, []),
        # Ends in 90 days: nothing yet.
        decided(far, Outcome.ELIGIBLE, [inst(1, -30, 90)], schedule_kind=ScheduleKind.MONTHLY),
    ]
    async with pool.acquire() as conn:
        await conn.executemany(
            """INSERT INTO applications (application_id, programme_id, jurisdiction, payee_masked, subject_key,
                                         correlation_id) VALUES ($1, $2, '430102', '****2020', 'k', $3)""",
            [(a.application_id, a.programme_id, a.correlation_id) for a in (yearly, review, far)],
        )
        await conn.executemany(
            "INSERT INTO recipients (application_id, role, name, mobile) VALUES ($1, 'applicant', '张三', $2)",
            [(a.application_id, a.recipients[0].mobile) for a in (yearly, review, far)],
        )
        await save_decisions(conn, events)
    composer = Composer(dict(DEFAULT_SIGNATURES), "【人社服务】", QuietHours())
    rules = ReminderRules()

    async def templates() -> Counter[tuple[str, str]]:
        async with pool.acquire() as conn:
            return Counter(
                (r["recipient"], r["template"]) for r in await conn.fetch("SELECT recipient, template FROM messages")
            )

    # Day 0: the review case is not 3 days old yet; the yearly one is due for both reminders.
    assert await remind_once(pool, "x", composer, rules, clock, NotificationMetrics()) == 2
    assert await templates() == {
        ("13800000011", "reminder_appraisal_due"): 1,
        ("13800000011", "reminder_period_ending"): 1,
    }
    # Running again composes nothing new.
    assert await remind_once(pool, "x", composer, rules, clock, NotificationMetrics()) == 0
    # Three days later the missing materials are reminded, once.
    clock.advance(timedelta(days=3))
    assert await remind_once(pool, "x", composer, rules, clock, NotificationMetrics()) == 1
    assert await remind_once(pool, "x", composer, rules, clock, NotificationMetrics()) == 0
    found = await templates()
    assert found[("13800000012", "reminder_materials_missing")] == 1
    assert not any(r == "13800000013" for r, _ in found)
    async with pool.acquire() as conn:
        text = await conn.fetchval("SELECT content FROM messages WHERE template = 'reminder_materials_missing'")
    assert "缺少劳动合同" in text
