"""Notifications end to end: real Kafka and PostgreSQL, the notifications service as a process, the SMS-gateway
simulator (with delivery receipts) and the SMTP server on loopback. Events are built from the contract
models and published to Kafka by the test (the payments service is not needed to say what a payment did).
"""

from __future__ import annotations

import asyncio
import secrets
import signal
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import httpx
import orjson
import pytest

from subsidy_contracts.common import (
    AccountKind,
    Applicant,
    ApplicantKind,
    Contact,
    ContactRole,
    PayeeAccount,
    PersonSnapshot,
    Sex,
)
from subsidy_contracts.eligibility import (
    ConditionResult,
    DecisionMade,
    DecisionMadePayload,
    Outcome,
    PublicNoticeEnded,
    PublicNoticeEndedPayload,
    PublicNoticeResult,
    RulePackRef,
)
from subsidy_contracts.envelope import Event
from subsidy_contracts.payments import PaymentStatus, PaymentStatusChanged, PaymentStatusChangedPayload
from subsidy_contracts.registration import ApplicationSubmitted, ApplicationSubmittedPayload
from subsidy_runtime.auth import signed_headers
from tests.conftest import Stack
from tests.e2e.invariants import publish_events

E = TypeVar("E", bound=Event)

pytestmark = [pytest.mark.e2e]

PROGRAMME = "hn.one-off-hiring-subsidy"
ACCOUNT = "6222020202020202020"
FINAL = ("sent", "delivered")


@pytest.fixture(scope="module")
def notifications(infra: Stack) -> Iterator[Stack]:
    """Simulators and the notifications service only, tuned so the test needs no long waits: quiet hours off
    (they are tested on a manual clock), a short claim lease and short retry delays. If the session's platform
    is running, eligibility is stopped meanwhile (it would decide the test's synthetic applications and add
    decision messages) and notifications is restarted with these settings; both are put back afterwards."""
    stack = Stack(
        {
            **infra.env,
            "SMS_QUIET_HOURS": "off",
            "CLAIM_LEASE_S": "3",
            "RETRY_BASE_DELAY_MESSAGE_S": "0.2",
            "RETRY_MAX_ATTEMPTS_MESSAGE": "4",
            "RETRY_BASE_DELAY_S": "0.5",
        }
    )
    eligibility_was_running = infra.pid("eligibility") is not None
    notifications_was_running = infra.pid("notifications") is not None
    if eligibility_was_running:
        infra.kill("eligibility", signal.SIGTERM)
    if notifications_was_running:
        infra.kill("notifications", signal.SIGTERM)
    stack.run("simulators-up")
    stack.run("service-up", "notifications")
    yield stack
    if notifications_was_running:  # back to the platform's own settings for later modules
        stack.kill("notifications", signal.SIGTERM)
        infra.run("service-up", "notifications")
    if eligibility_was_running:
        infra.run("service-up", "eligibility")


# ------------------------------------------------------------------------------------------- events
def mobile() -> str:
    return "13" + "".join(secrets.choice("0123456789") for _ in range(9))


class Case:
    """One application and the events a test publishes about it."""

    def __init__(self, *, applicant_mobile: str | None = None, email: str | None = None) -> None:
        self.application_id = uuid.uuid4()
        self.applicant_id = uuid.uuid4()
        self.decision_id = uuid.uuid4()
        self.correlation_id = uuid.uuid4()
        self.applicant_mobile = applicant_mobile or mobile()
        self.guardian_mobile = mobile()
        self.email = email or f"u{self.application_id.hex[:10]}@example.cn"

    def _event(self, cls: type[E], payload: Any) -> E:
        return cls.create(
            payload, producer="test", subject_key=str(self.applicant_id), correlation_id=self.correlation_id
        )

    def submitted(self) -> ApplicationSubmitted:
        person = PersonSnapshot(
            person_id=self.applicant_id,
            name="王小明",
            id_number_masked="4301**********1234",
            birth_date=date(2004, 1, 1),
            sex=Sex.MALE,
            region_code="430102",
        )
        payload = ApplicationSubmittedPayload(
            application_id=self.application_id,
            programme_id=PROGRAMME,
            applicant=Applicant(kind=ApplicantKind.PERSON, person=person),
            payee=PayeeAccount(
                account_id=uuid.uuid4(),
                kind=AccountKind.SOCIAL_SECURITY_CARD,
                holder_name="王小明",
                account_number=ACCOUNT,
                bank_code="102551000015",
                bank_name="中国工商银行长沙分行",
            ),
            contacts=[
                Contact(role=ContactRole.APPLICANT, name="王小明", mobile=self.applicant_mobile, email=self.email),
                Contact(role=ContactRole.GUARDIAN, name="王大明", mobile=self.guardian_mobile),
                Contact(role=ContactRole.BENEFICIARY, name="不通知", mobile=mobile()),
            ],
            jurisdiction="430102",
            integration_id="hn-provincial-platform",
            submitted_at=datetime.now(UTC),
        )
        return self._event(ApplicationSubmitted, payload)

    def decided(self, outcome: Outcome = Outcome.ELIGIBLE) -> DecisionMade:
        payload = DecisionMadePayload(
            decision_id=self.decision_id,
            application_id=self.application_id,
            applicant_id=self.applicant_id,
            rule_pack=RulePackRef(programme_id=PROGRAMME, version="2024.1", jurisdiction="43"),
            outcome=outcome,
            amount=Decimal("1000.00") if outcome is Outcome.ELIGIBLE else Decimal("0.00"),
            conditions=[
                ConditionResult(
                    code="AGE", passed=outcome is Outcome.ELIGIBLE, reason_zh="年龄不在16至24周岁之间", reason_en="age"
                )
            ],
            legal_basis=[],
            evaluated_on=date.today(),
            decided_at=datetime.now(UTC),
            public_notice_days=5 if outcome is Outcome.ELIGIBLE else None,
        )
        return self._event(DecisionMade, payload)

    def notice_ended(self) -> PublicNoticeEnded:
        payload = PublicNoticeEndedPayload(
            decision_id=self.decision_id,
            application_id=self.application_id,
            applicant_id=self.applicant_id,
            result=PublicNoticeResult.RELEASED,
            ended_on=date.today(),
        )
        return self._event(PublicNoticeEnded, payload)

    def payment(self, status: PaymentStatus, reason_code: str | None = None) -> PaymentStatusChanged:
        payload = PaymentStatusChangedPayload(
            instruction_id=f"T{self.decision_id.hex[:20].upper()}",
            end_to_end_id=f"T{self.decision_id.hex[:20].upper()}",
            attempt=1,
            decision_id=self.decision_id,
            application_id=self.application_id,
            applicant_id=self.applicant_id,
            programme_id=PROGRAMME,
            fund_code="HN-EMP",
            amount=Decimal("1000.00"),
            status=status,
            reason_code=reason_code,
            payee_account_masked="****2020",
            changed_at=datetime.now(UTC),
        )
        return self._event(PaymentStatusChanged, payload)


async def publish(stack: Stack, *events: Event) -> None:
    await publish_events(stack.bootstrap, events)


# ------------------------------------------------------------------------------------------ readers
async def messages(stack: Stack, *application_ids: uuid.UUID) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(stack.admin_dsn)
    try:
        return await conn.fetch(
            """SELECT id, template, channel, recipient, status, content, last_error FROM notifications.messages
               WHERE application_id = ANY($1::uuid[])""",
            list(application_ids),
        )
    finally:
        await conn.close()


async def wait_for(check: Callable[[], Awaitable[bool]], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


async def settled(stack: Stack, ids: list[uuid.UUID], expected: int) -> list[asyncpg.Record]:
    """Wait until the applications have `expected` messages, none pending or sending; return them."""
    rows: list[asyncpg.Record] = []

    async def done() -> bool:
        nonlocal rows
        rows = await messages(stack, *ids)
        return len(rows) >= expected and all(r["status"] not in ("pending", "sending") for r in rows)

    try:
        await wait_for(done, 90, f"{expected} messages")
    except AssertionError:
        raise AssertionError(
            f"{len(rows)} of {expected}: {Counter((r['channel'], r['status']) for r in rows)}"
        ) from None
    return rows


async def handset(stack: Stack) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=stack.url("sms-gateway")) as http:
        result: list[dict[str, Any]] = (await http.get("/v1/sms/delivered")).json()
        return result


def mailbox(stack: Stack) -> list[dict[str, Any]]:
    path = Path(stack.state_dir) / "mail" / "received.jsonl"
    if not path.exists():
        return []
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


async def signed_get(stack: Stack, path: str, key_id: str, secret: str) -> httpx.Response:
    headers = signed_headers(key_id, secret, "GET", path, b"", nonce=secrets.token_urlsafe(12))
    async with httpx.AsyncClient(base_url=stack.url("notifications")) as http:
        return await http.get(path, headers=headers)


def assert_once_everywhere(
    rows: list[asyncpg.Record], delivered: list[dict[str, Any]], mails: list[dict[str, Any]]
) -> None:
    keys = Counter((r["template"], r["channel"], r["recipient"]) for r in rows)
    assert max(keys.values()) == 1, [k for k, n in keys.items() if n > 1]
    sms_ids = {str(r["id"]) for r in rows if r["channel"] == "sms"}
    at_handset = Counter(d["client_msg_id"] for d in delivered if d["client_msg_id"] in sms_ids)
    assert set(at_handset) == sms_ids, f"{len(sms_ids - set(at_handset))} SMS never reached the gateway"
    per_text = Counter((d["mobile"], d["content"]) for d in delivered if d["client_msg_id"] in sms_ids)
    assert max(per_text.values()) == 1, "a handset received the same text twice"
    mail_ids = {f"<{r['id']}@" for r in rows if r["channel"] == "email"}
    received = Counter(
        m["message_id"].split("@")[0] + "@" for m in mails if m["message_id"].split("@")[0] + "@" in mail_ids
    )
    assert set(received) == mail_ids, "some e-mails never arrived"
    assert max(received.values(), default=1) == 1, "an e-mail arrived twice"


# -------------------------------------------------------------------------------------------- tests
async def test_each_event_yields_its_messages_once_even_when_redelivered(notifications: Stack) -> None:
    case = Case()
    events = [
        case.submitted(),
        case.decided(),
        case.notice_ended(),
        case.payment(PaymentStatus.BATCHED),  # internal: says nothing
        case.payment(PaymentStatus.SENT),
        case.payment(PaymentStatus.SETTLED),
    ]
    await publish(notifications, *events)
    await publish(notifications, *events)  # redelivery: the same event ids again
    await publish(notifications, case.payment(PaymentStatus.SETTLED))  # a republished settlement, new event id
    # 5 kinds x (applicant SMS, guardian SMS, applicant e-mail, inbox); the beneficiary is not told.
    rows = await settled(notifications, [case.application_id], expected=20)
    assert len(rows) == 20
    by_template = Counter(r["template"] for r in rows)
    assert by_template == dict.fromkeys(
        ("application_received", "decision_public_notice", "public_notice_released", "payment_sent", "payment_arrived"),
        4,
    )
    assert all(r["status"] in FINAL for r in rows), Counter(r["status"] for r in rows)
    assert_once_everywhere(rows, await handset(notifications), mailbox(notifications))
    for r in rows:
        assert ACCOUNT not in r["content"]

    # Delivery receipts from the gateway move SMS to delivered.
    async def receipts_in() -> bool:
        return all(
            r["status"] == "delivered"
            for r in await messages(notifications, case.application_id)
            if r["channel"] == "sms"
        )

    await wait_for(receipts_in, 30, "delivery receipts")
    # The provincial platform reads the applicant's inbox over a signed, paginated API.
    path = f"/v1/inbox?applicant_id={case.applicant_id}&limit=2"
    page = (await signed_get(notifications, path, "hn-prov-0001", "local-secret-hn-provincial-platform")).json()
    assert len(page["items"]) == 2
    rest = await signed_get(
        notifications,
        f"/v1/inbox?applicant_id={case.applicant_id}&after={page['next_after']}&limit=10",
        "hn-prov-0001",
        "local-secret-hn-provincial-platform",
    )
    assert len(rest.json()["items"]) == 3
    # Another province's platform sees none of it; an unsigned request is refused.
    other = await signed_get(notifications, path, "sx-prov-0001", "local-secret-sx-provincial-platform")
    assert other.json()["items"] == []
    async with httpx.AsyncClient(base_url=notifications.url("notifications")) as http:
        assert (await http.get(path)).status_code == 401


async def test_a_payment_sent_but_not_confirmed_never_says_it_arrived(notifications: Stack) -> None:
    case = Case()
    await publish(notifications, case.submitted(), case.payment(PaymentStatus.SENT))
    rows = await settled(notifications, [case.application_id], expected=8)
    # Give a wrongly eager service every chance to announce an arrival before the bank confirmed it.
    await asyncio.sleep(2)
    rows = await messages(notifications, case.application_id)
    assert {r["template"] for r in rows} == {"application_received", "payment_sent"}
    await publish(notifications, case.payment(PaymentStatus.SETTLED))
    await publish(notifications, case.payment(PaymentStatus.SETTLED))  # confirmed twice (say, re-reported)
    rows = await settled(notifications, [case.application_id], expected=12)
    arrived = [r for r in rows if r["template"] == "payment_arrived"]
    assert Counter(r["channel"] for r in arrived) == {"sms": 2, "email": 1, "inbox": 1}
    assert_once_everywhere(rows, await handset(notifications), mailbox(notifications))


async def test_failures_retry_with_backoff_and_permanent_ones_become_dead_letters(notifications: Stack) -> None:
    unreachable = mobile()
    case = Case(applicant_mobile=unreachable, email="bounce-me@example.cn")
    async with httpx.AsyncClient(base_url=notifications.url("sms-gateway")) as http:
        # The next two requests fail with 503 (transient), and this number's handset is off (UNDELIV receipt).
        await http.post("/admin/faults", json={"fail_requests": 2, "status": 503, "undeliverable": [unreachable]})
    await publish(notifications, case.submitted(), case.payment(PaymentStatus.FAILED, "AC04"))
    rows = await settled(notifications, [case.application_id], expected=8)

    async def undelivered_dead() -> bool:
        rs = await messages(notifications, case.application_id)
        return bool(sum(r["status"] == "dead" for r in rs) == 4)  # 2 undelivered SMS + 2 bounced mails

    await wait_for(undelivered_dead, 30, "dead letters")
    rows = await messages(notifications, case.application_id)
    dead = {(r["channel"], r["recipient"]) for r in rows if r["status"] == "dead"}
    assert dead == {("sms", unreachable), ("email", "bounce-me@example.cn")}
    guardian = [r for r in rows if r["recipient"] == case.guardian_mobile]
    assert all(r["status"] in FINAL for r in guardian)  # sent after the gateway's 503s, by retrying
    failed_sms = next(r for r in guardian if r["template"] == "payment_failed")
    assert "收款账户已销户" in failed_sms["content"]
    response = await signed_get(
        notifications, "/v1/dead-letters?limit=500", "caseworker-0001", "local-secret-caseworker-desk"
    )
    assert response.status_code == 200
    letters = [d for d in response.json()["items"] if d["application_id"] == str(case.application_id)]
    assert len(letters) == 4
    assert unreachable not in str(letters)  # recipients are masked
    assert any("undelivered" in d["reason"] for d in letters)
    async with httpx.AsyncClient(base_url=notifications.url("notifications")) as http:
        text = (await http.get("/metrics")).text
        await httpx.AsyncClient(base_url=notifications.url("sms-gateway")).post("/admin/faults", json={})
    assert 'subsidy_notifications_messages_total{channel="sms",status="dead"}' in text
    assert 'subsidy_notifications_messages_total{channel="sms",status="retried"}' in text
    assert 'subsidy_dead_letters_total{consumer="sms-receipts",failure="undelivered"}' in text


async def test_killed_and_restarted_the_service_sends_each_message_once(notifications: Stack) -> None:
    cases = [Case() for _ in range(150)]
    events: list[Event] = []
    for c in cases:
        events += [c.submitted(), c.decided(Outcome.INELIGIBLE)]
    await publish(notifications, *events)
    ids = [c.application_id for c in cases]

    async def some_sent() -> bool:
        return sum(r["status"] in FINAL for r in await messages(notifications, *ids)) >= 100

    await wait_for(some_sent, 60, "the first messages")
    notifications.kill("notifications")  # SIGKILL mid-flight: batches claimed, maybe sent, not marked
    await publish(notifications, *events)  # and everything is redelivered while it is down
    notifications.run("service-up", "notifications")
    rows = await settled(notifications, ids, expected=150 * 8)
    assert len(rows) == 150 * 8
    assert all(r["status"] in FINAL for r in rows)
    assert_once_everywhere(rows, await handset(notifications), mailbox(notifications))
    # How often the kill landed between sending and marking (re-sent, recognised by the receiving side).
    async with httpx.AsyncClient(base_url=notifications.url("sms-gateway")) as http:
        stats = (await http.get("/v1/sms/stats")).json()
    mail_copies = Path(notifications.state_dir) / "mail" / "duplicates.jsonl"
    print(
        f"re-sent after the kill: {stats['duplicates']} SMS (gateway de-duplicated), "
        f"{len(mail_copies.read_bytes().splitlines()) if mail_copies.exists() else 0} e-mails (same Message-ID)"
    )
