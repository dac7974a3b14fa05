"""Every event type notifications serves has a template, and every template renders with an example event.

The examples are real contract events; composing them goes through the same code the consumers run.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from notifications.catalogue import BLOCKS, KINDS, render, template
from notifications.compose import (
    APPLICANT_SIDE,
    Application,
    Composer,
    Draft,
    Recipient,
    derived_key,
    missing_materials,
)
from notifications.policy import QuietHours, sms_segments
from notifications.reminders import ReminderRules
from notifications.settings import DEFAULT_SIGNATURES
from subsidy_contracts.eligibility import (
    ConditionResult,
    DecisionMade,
    DecisionMadePayload,
    DecisionRevised,
    DecisionRevisedPayload,
    Outcome,
    PublicNoticeEnded,
    PublicNoticeEndedPayload,
    PublicNoticeResult,
    RulePackRef,
)
from subsidy_contracts.payments import PaymentStatus, PaymentStatusChanged, PaymentStatusChangedPayload

TEMPLATES = Path(__file__).resolve().parents[2] / "services" / "notifications" / "notifications" / "templates"
NOW = datetime(2026, 11, 30, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai: outside quiet hours
APP_ID = uuid.UUID("4a1f0c2e-0000-4000-8000-000000000001")
APPLICANT_ID = uuid.uuid4()
ID_NUMBER = "430102199001011234"
ACCOUNT = "6222020202020202020"


def application(*recipients: Recipient) -> Application:
    return Application(
        application_id=APP_ID,
        applicant_id=APPLICANT_ID,
        programme_id="hn.one-off-hiring-subsidy",
        jurisdiction="430102",
        payee_masked="****2020",
        subject_key=str(APPLICANT_ID),
        correlation_id=uuid.uuid4(),
        recipients=recipients
        or (
            Recipient("applicant", "张三", "13800138000", "zhangsan@example.cn"),
            Recipient("guardian", "张父", "13900139000", None),
            Recipient("beneficiary", "李四", "13700137000", None),  # not applicant side: never told
        ),
    )


def composer() -> Composer:
    return Composer(dict(DEFAULT_SIGNATURES), "【人社服务】", QuietHours())


def decision(outcome: Outcome, **extra: object) -> DecisionMade:
    conditions = [
        ConditionResult(
            code="AGE", passed=outcome is Outcome.ELIGIBLE, reason_zh="年龄不在16至24周岁之间", reason_en="age"
        ),
        ConditionResult(code="CONTRACT_MISSING", passed=False, reason_zh="缺少劳动合同", reason_en="no contract"),
    ]
    payload = DecisionMadePayload(
        decision_id=uuid.uuid4(),
        application_id=APP_ID,
        applicant_id=APPLICANT_ID,
        rule_pack=RulePackRef(programme_id="hn.one-off-hiring-subsidy", version="2024.1", jurisdiction="43"),
        outcome=outcome,
        amount=Decimal("1000.00") if outcome is Outcome.ELIGIBLE else Decimal("0.00"),
        conditions=conditions if outcome is not Outcome.ELIGIBLE else conditions[:1],
        legal_basis=[],
        evaluated_on=date(2026, 11, 30),
        decided_at=NOW,
        **extra,
    )
    return DecisionMade.create(
        payload, producer="eligibility", subject_key=str(APPLICANT_ID), correlation_id=uuid.uuid4()
    )


def payment(status: PaymentStatus, reason_code: str | None = None, attempt: int = 1) -> PaymentStatusChanged:
    payload = PaymentStatusChangedPayload(
        instruction_id="E2E0001",
        end_to_end_id=f"E2E0001-{attempt}",
        attempt=attempt,
        decision_id=uuid.uuid4(),
        application_id=APP_ID,
        applicant_id=APPLICANT_ID,
        programme_id="hn.one-off-hiring-subsidy",
        fund_code="HN-EMP",
        amount=Decimal("1000.00"),
        status=status,
        reason_code=reason_code,
        reason_text="account closed" if reason_code else None,
        payee_account_masked="****2020",
        changed_at=NOW,
    )
    return PaymentStatusChanged.create(payload, producer="payments", subject_key="x", correlation_id=uuid.uuid4())


def example_drafts() -> dict[str, list[Draft]]:
    """Compose one example of every message kind, through the code the consumers and the reminder loop run."""
    c = composer()
    app = application()
    c.fan_out(
        "application_received",
        uuid.uuid4(),
        app,
        {"submitted_on": "2026年11月30日"},
        now=NOW,
        correlation_id=uuid.uuid4(),
    )
    c.decision_made(decision(Outcome.ELIGIBLE), app, NOW)
    c.decision_made(decision(Outcome.ELIGIBLE, public_notice_days=5, public_notice_until=date(2026, 12, 7)), app, NOW)
    c.decision_made(decision(Outcome.INELIGIBLE), app, NOW)
    c.decision_made(decision(Outcome.NEEDS_REVIEW), app, NOW)
    for result in PublicNoticeResult:
        c.public_notice_ended(
            PublicNoticeEnded.create(
                PublicNoticeEndedPayload(
                    decision_id=uuid.uuid4(),
                    application_id=APP_ID,
                    applicant_id=APPLICANT_ID,
                    result=result,
                    ended_on=date(2026, 12, 7),
                ),
                producer="eligibility",
                subject_key="x",
                correlation_id=uuid.uuid4(),
            ),
            app,
            NOW,
        )
    c.decision_revised(
        DecisionRevised.create(
            DecisionRevisedPayload(
                decision_id=uuid.uuid4(),
                application_id=APP_ID,
                applicant_id=APPLICANT_ID,
                previous_outcome=Outcome.NEEDS_REVIEW,
                outcome=Outcome.ELIGIBLE,
                amount=Decimal("1000.00"),
                reason=f"补充材料已核实（身份证{ID_NUMBER}）",
                reviewed_by="caseworker-1",
                revised_at=NOW,
            ),
            producer="eligibility",
            subject_key="x",
            correlation_id=uuid.uuid4(),
        ),
        app,
        NOW,
    )
    for status, code in ((PaymentStatus.SENT, None), (PaymentStatus.SETTLED, None), (PaymentStatus.FAILED, "AC04")):
        c.payment_changed(payment(status, code), app, NOW)
    rules = ReminderRules()
    stored = {
        "decision_id": uuid.uuid4(),
        "application_id": APP_ID,
        "outcome": "eligible",
        "schedule_kind": "yearly",
        "period_end": (NOW + timedelta(days=20)).date(),
        "instalments": [
            {"number": 1, "amount": "1000.00", "due_on": "2025-12-20"},
            {"number": 2, "amount": "1000.00", "due_on": (NOW + timedelta(days=20)).date().isoformat()},
        ],
        "missing": [],
        "decided_at": NOW - timedelta(days=400),
        "revised_at": None,
    }
    review = {
        **stored,
        "decision_id": uuid.uuid4(),
        "outcome": "needs_review",
        "missing": ["缺少劳动合同"],
        "decided_at": NOW - timedelta(days=4),
    }
    for r in rules.due(stored, NOW) + rules.due(review, NOW):
        c.fan_out(r.kind, r.key, app, r.context, now=NOW, correlation_id=uuid.uuid4())
    out: dict[str, list[Draft]] = {}
    for d in c.drafts:
        out.setdefault(d.template, []).append(d)
    return out


def test_every_kind_has_a_template_file_with_all_blocks_and_no_orphan_files() -> None:
    files = {p.name.removesuffix(".j2") for p in TEMPLATES.glob("*.j2")}
    assert files == set(KINDS), (
        f"files without a kind: {files - set(KINDS)}; kinds without a file: {set(KINDS) - files}"
    )
    for kind in KINDS:
        assert set(BLOCKS) <= set(template(kind).blocks), kind


def test_every_event_type_served_has_a_template_and_renders_with_an_example_event() -> None:
    drafts = example_drafts()
    assert set(drafts) == set(KINDS), f"kinds never composed from an example: {set(KINDS) - set(drafts)}"
    for kind, items in drafts.items():
        for d in items:
            assert d.content.strip(), kind
            assert re.search(r"[\u4e00-\u9fff]", d.content), f"{kind} is not in Chinese"
            if d.channel == "sms":
                assert d.content.startswith("【湖南人社】"), d.content
                assert d.segments == sms_segments(d.content)
            else:
                assert d.subject, kind


def test_recipients_are_the_applicant_side_on_each_channel_they_have_plus_one_inbox_copy() -> None:
    received = example_drafts()["application_received"]
    by_channel = {(d.channel, d.recipient) for d in received}
    assert by_channel == {
        ("sms", "13800138000"),
        ("sms", "13900139000"),
        ("email", "zhangsan@example.cn"),
        ("inbox", str(APPLICANT_ID)),
    }
    assert "13700137000" not in {d.recipient for d in received}
    assert {r.value for r in APPLICANT_SIDE} == {"applicant", "enterprise_contact", "guardian", "proxy"}


def test_decisions_carry_plain_chinese_reasons_and_missing_materials() -> None:
    drafts = example_drafts()
    refused = next(d for d in drafts["decision_ineligible"] if d.channel == "sms")
    assert "年龄不在16至24周岁之间" in refused.content
    review = next(d for d in drafts["decision_review"] if d.channel == "email")
    assert "缺少劳动合同" in review.content
    conditions = decision(Outcome.NEEDS_REVIEW).payload.conditions
    assert missing_materials(conditions) == ["缺少劳动合同"]


def test_payment_failure_says_why_and_what_to_do_and_arrival_is_keyed_by_the_payment() -> None:
    drafts = example_drafts()
    failed = next(d for d in drafts["payment_failed"] if d.channel == "sms")
    assert "收款账户已销户" in failed.content
    assert "登记新的" in failed.content
    assert failed.urgent
    assert failed.priority < min(KINDS[k].priority for k in KINDS if k.startswith("reminder_"))
    arrived = drafts["payment_arrived"][0]
    assert arrived.key == derived_key("E2E0001", "arrived")
    c = composer()
    c.payment_changed(payment(PaymentStatus.BATCHED), application(), NOW)
    c.payment_changed(payment(PaymentStatus.SCHEDULED), application(), NOW)
    assert c.drafts == []


def test_identity_and_account_numbers_are_masked_in_every_rendered_text() -> None:
    drafts = example_drafts()
    revised = drafts["decision_revised"]
    for d in revised:
        assert ID_NUMBER not in d.content
        assert "4301**********1234" in d.content
    text = render(
        "payment_failed",
        {
            "signature": "【湖南人社】",
            "name": "张三",
            "programme": "x",
            "reference": "R",
            "amount": "1.00",
            "account_tail": "2020",
            "reason": f"账号{ACCOUNT}已销户",
            "what_to_do": "请更正",
            "payment_ref": "AB1001",
        },
    )
    assert ACCOUNT not in text.sms + text.body
    assert "****2020" in text.sms


@pytest.mark.parametrize(("length", "segments"), [(1, 1), (70, 1), (71, 2), (134, 2), (135, 3), (201, 3), (202, 4)])
def test_sms_segments_70_single_67_per_concatenated_part(length: int, segments: int) -> None:
    assert sms_segments("字" * length) == segments


def test_two_instalments_of_the_same_amount_read_differently_on_one_handset() -> None:
    c = composer()
    first = payment(PaymentStatus.SETTLED)
    second = first.model_copy(
        update={"payload": first.payload.model_copy(update={"instruction_id": "E2E0002"}), "event_id": uuid.uuid4()}
    )
    c.payment_changed(first, application(), NOW)
    c.payment_changed(second, application(), NOW)
    texts = [d.content for d in c.drafts if d.channel == "sms" and d.recipient == "13800138000"]
    assert len(texts) == 2
    assert texts[0] != texts[1]
