"""Grants history updated from payment events: eligibility consumes payments.status-changed (real Kafka, real
PostgreSQL, the running service) and records paid, failed and returned instalments against the grant, so that caps
count what was really paid. Late (older) changes never move an instalment backwards; a re-issue counts again; a
grant none of whose instalments was paid or is on its way drops out of the history the rules see."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg
import orjson
import pytest

from eligibility.decide import load_history
from subsidy_contracts.payments import PaymentStatus, PaymentStatusChanged, PaymentStatusChangedPayload
from tests.conftest import Stack
from tests.e2e.invariants import publish_events

pytestmark = pytest.mark.e2e

PROGRAMME = "hn.unemployment-assistance"
MONTHLY = Decimal("1224.00")
T0 = datetime(2020, 10, 1, 9, tzinfo=UTC)


async def _grant(conn: asyncpg.Connection, subject: uuid.UUID, months: int) -> uuid.UUID:
    decision = uuid.uuid4()
    await conn.execute(
        """INSERT INTO eligibility.decisions (id, application_id, applicant_id, programme_id, rule_pack_version,
               outcome, amount, instalments, conditions, legal_basis, input_snapshot, evaluated_on, status,
               correlation_id, decided_at)
           VALUES ($1, $2, $3, $4, '2020.1', 'eligible', $5, '[]', '[]', '[]', '{}', '2020-09-30', 'released', $6, now())""",
        decision,
        uuid.uuid4(),
        subject,
        PROGRAMME,
        MONTHLY * months,
        uuid.uuid4(),
    )
    await conn.execute(
        """INSERT INTO eligibility.grants (decision_id, programme_id, subject_id, granted_on, start_on, end_on, amount,
               status, attributes)
           VALUES ($1, $2, $3, '2020-09-30', '2020-06-01', '2020-08-31', $4, 'approved', $5::jsonb)""",
        decision,
        PROGRAMME,
        subject,
        MONTHLY * months,
        orjson.dumps({"months": str(months)}).decode(),
    )
    return decision


def _change(
    decision: uuid.UUID, instalment: int, status: PaymentStatus, at: datetime, attempt: int = 1
) -> PaymentStatusChanged:
    instruction = f"T{decision.hex[:24].upper()}{instalment:03d}"
    payload = PaymentStatusChangedPayload(
        instruction_id=instruction,
        end_to_end_id=instruction if attempt == 1 else f"{instruction}R{attempt:02d}",
        attempt=attempt,
        decision_id=decision,
        application_id=uuid.uuid4(),
        applicant_id=uuid.uuid4(),
        programme_id=PROGRAMME,
        fund_code="unemployment-insurance-fund",
        amount=MONTHLY,
        status=status,
        reason_code="AC04" if status is PaymentStatus.RETURNED else None,
        payee_account_masked="****2020",
        changed_at=at,
    )
    return PaymentStatusChanged.create(payload, producer="test", subject_key=str(decision), correlation_id=uuid.uuid4())


async def _publish(stack: Stack, *events: PaymentStatusChanged) -> None:
    await publish_events(stack.bootstrap, events)


async def _wait_for(conn: asyncpg.Connection, decision: uuid.UUID, **expected: object) -> asyncpg.Record:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60
    while True:
        row = await conn.fetchrow("SELECT * FROM eligibility.grants WHERE decision_id = $1", decision)
        assert row is not None
        if all(row[k] == v for k, v in expected.items()):
            return row
        assert loop.time() < deadline, (dict(row), expected)
        await asyncio.sleep(0.3)


async def test_payment_results_are_recorded_against_the_grant(platform: Stack) -> None:
    conn = await asyncpg.connect(platform.admin_dsn)
    try:
        subject = uuid.uuid4()
        three_months = await _grant(conn, subject, 3)
        all_returned = await _grant(conn, subject, 2)

        await _publish(
            platform,
            _change(three_months, 1, PaymentStatus.SETTLED, T0 + timedelta(hours=2)),
            _change(three_months, 2, PaymentStatus.RETURNED, T0 + timedelta(hours=3)),
            _change(three_months, 3, PaymentStatus.SENT, T0 + timedelta(hours=1)),
            _change(all_returned, 1, PaymentStatus.FAILED, T0),
            _change(all_returned, 2, PaymentStatus.RETURNED, T0),
        )
        await _publish(platform, _change(three_months, 1, PaymentStatus.SENT, T0 + timedelta(hours=1)))  # late, older
        # Waited for as a whole: the changes may be applied in more than one consumer batch.
        row = await _wait_for(
            conn,
            three_months,
            paid_amount=MONTHLY,
            unpaid_amount=MONTHLY,
            unpaid_instalments=1,
            payment_status="in_progress",
        )
        assert row["status"] == "approved"
        await _wait_for(conn, all_returned, payment_status="unpaid", unpaid_amount=2 * MONTHLY)

        await conn.execute("SET search_path TO eligibility")
        for name in ("json", "jsonb"):  # as the service's pool decodes them
            await conn.set_type_codec(
                name, encoder=lambda v: orjson.dumps(v).decode(), decoder=orjson.loads, schema="pg_catalog"
            )
        history = {g.decision_id: g for g, _ in await load_history(conn, [subject], [])}
        assert set(history) == {three_months}, "a grant nothing of which was paid does not count"
        assert history[three_months].amount == 2 * MONTHLY
        assert history[three_months].attribute("months") == "2"  # the returned month was not had

        # the returned instalment is re-issued (attempt 2) and settles; the third settles too
        await _publish(
            platform,
            _change(three_months, 2, PaymentStatus.SCHEDULED, T0 + timedelta(days=1), attempt=2),
            _change(three_months, 3, PaymentStatus.SETTLED, T0 + timedelta(days=1)),
        )
        await _wait_for(conn, three_months, unpaid_amount=Decimal("0.00"), paid_amount=2 * MONTHLY)
        await _publish(platform, _change(three_months, 2, PaymentStatus.SETTLED, T0 + timedelta(days=2), attempt=2))
        row = await _wait_for(conn, three_months, payment_status="paid")
        assert row["status"] == "paid"
        assert row["paid_amount"] == 3 * MONTHLY
        history = {g.decision_id: g for g, _ in await load_history(conn, [subject], [])}
        assert history[three_months].attribute("months") == "3"
        assert history[three_months].amount == 3 * MONTHLY
    finally:
        await conn.close()
