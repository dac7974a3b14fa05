"""Which messages an event produces, for whom and on which channels, rendered from the Chinese templates.

Each message is keyed by (key, template, channel, recipient). The key is the event id, except where the same
fact may be announced by several events: a payment's arrival is keyed by its instruction (one arrival
message per payment, whatever is republished), its dispatch and failure by instruction and attempt, and a
reminder by what it reminds of. Composing the same thing twice therefore creates nothing new.

Recipients come from the directory kept per application (the contacts of application-submitted): the
applicant, the enterprise contact, and the guardian or proxy where one is registered, by SMS where they
have a mobile number and by e-mail where they have an address; the applicant's inbox on the provincial
platform gets one copy.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from subsidy_contracts.common import ContactRole
from subsidy_contracts.eligibility import (
    ConditionResult,
    DecisionMade,
    DecisionRevised,
    Outcome,
    PublicNoticeEnded,
    PublicNoticeResult,
)
from subsidy_contracts.money import format_money
from subsidy_contracts.payments import PaymentStatus, PaymentStatusChanged
from subsidy_contracts.programmes import title_zh

from .catalogue import KINDS, render
from .policy import QuietHours, sms_segments

NAMESPACE = uuid.UUID("6f1c1e0a-4c2b-5d9e-9a57-0c6e7b1d2f31")
APPLICANT_SIDE = frozenset(
    {ContactRole.APPLICANT, ContactRole.ENTERPRISE_CONTACT, ContactRole.GUARDIAN, ContactRole.PROXY}
)
# Failed conditions of a needs_review decision that name a missing fact (the rule packs write 「缺少…」).
MISSING_MARKERS_ZH = ("缺少", "未提供", "未上传", "未提交", "尚未登记")
MISSING_MARKERS_CODE = ("MISSING", "NOT_PROVIDED", "NO_RECORD")

OUTCOME_ZH = {Outcome.ELIGIBLE: "审核通过", Outcome.INELIGIBLE: "不予通过", Outcome.NEEDS_REVIEW: "继续复核"}

# Bank and platform reasons a payment did not arrive, in plain Chinese, with what the person should do.
PAYMENT_REASONS: dict[str, tuple[str, str]] = {
    "AC01": ("收款账号有误", "请携带本人身份证件到经办机构核对并更正收款账户信息。"),
    "AC03": ("收款账号有误", "请携带本人身份证件到经办机构核对并更正收款账户信息。"),
    "AC04": ("收款账户已销户", "请到经办机构登记新的本人社会保障卡或银行账户。"),
    "AC06": ("收款账户已冻结或挂失", "请先到开户银行解除冻结或挂失，再告知经办机构重新拨付。"),
    "AG01": ("收款账户不支持此类入账", "请到开户银行确认账户状态，或到经办机构更换收款账户。"),
    "BE01": ("户名与账号不符", "请到经办机构核对收款人姓名与账户信息。"),
    "MD07": ("收款人信息异常", "请携带身份证件到经办机构核实。"),
    "budget": ("本期资金额度暂不足", "无需操作，额度到位后将自动重新拨付。"),
}
DEFAULT_PAYMENT_REASON = ("银行未能入账", "请携带身份证件和社会保障卡到经办机构核实收款账户，核实后将重新拨付。")


def reference(application_id: uuid.UUID) -> str:
    """Short reference shown to people: the first 8 hex digits of the application id, upper case."""
    return application_id.hex[:8].upper()


def derived_key(*parts: object) -> uuid.UUID:
    """A stable message key for facts that several events may announce."""
    return uuid.uuid5(NAMESPACE, ":".join(str(p) for p in parts))


def yuan(amount: Decimal) -> str:
    return format_money(amount)


def cn_date(d: date | datetime) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


def missing_materials(conditions: Sequence[ConditionResult]) -> list[str]:
    """The failed conditions that say a fact or document is missing, in the rule pack's words."""
    out = []
    for c in conditions:
        if c.passed:
            continue
        if any(m in c.reason_zh for m in MISSING_MARKERS_ZH) or any(m in c.code.upper() for m in MISSING_MARKERS_CODE):
            out.append(c.reason_zh.rstrip("。；;"))
    return out


def failed_reasons(conditions: Sequence[ConditionResult]) -> list[str]:
    return [c.reason_zh.rstrip("。；;") for c in conditions if not c.passed] or ["不符合申请条件"]


@dataclass(frozen=True)
class Recipient:
    role: str
    name: str
    mobile: str | None
    email: str | None


@dataclass(frozen=True)
class Application:
    application_id: uuid.UUID
    applicant_id: uuid.UUID | None
    programme_id: str
    jurisdiction: str
    payee_masked: str
    subject_key: str
    correlation_id: uuid.UUID | None
    recipients: tuple[Recipient, ...] = ()


@dataclass(frozen=True)
class Draft:
    id: uuid.UUID
    key: uuid.UUID
    template: str
    channel: str
    recipient: str
    recipient_role: str
    application_id: uuid.UUID
    subject_key: str
    correlation_id: uuid.UUID
    jurisdiction: str
    subject: str | None
    content: str
    priority: int
    urgent: bool
    segments: int | None
    not_before: datetime
    status: str = "pending"


@dataclass
class Composer:
    """Renders drafts; holds what does not change per event (signatures, quiet hours)."""

    signatures: dict[str, str]
    default_signature: str
    quiet_hours: QuietHours
    drafts: list[Draft] = field(default_factory=list)

    def signature(self, jurisdiction: str) -> str:
        return self.signatures.get(jurisdiction[:2], self.default_signature)

    def fan_out(
        self,
        kind: str,
        key: uuid.UUID,
        app: Application,
        context: dict[str, Any],
        *,
        now: datetime,
        correlation_id: uuid.UUID,
    ) -> list[Draft]:
        """One draft per applicant-side recipient and channel they can be reached on, plus one inbox copy."""
        spec = KINDS[kind]
        base = {
            "signature": self.signature(app.jurisdiction),
            "programme": title_zh(app.programme_id),
            "reference": reference(app.application_id),
            "account_tail": app.payee_masked[-4:],
            **context,
        }
        out: list[Draft] = []
        seen: set[tuple[str, str]] = set()
        people = [r for r in app.recipients if r.role in APPLICANT_SIDE]
        # The inbox belongs to the applicant: addressed by the applicant's name where they are a contact.
        owner = next((r for r in people if r.role == ContactRole.APPLICANT), people[0] if people else None)
        inbox_rendered = None
        for person in people:
            # Render only what this person receives (the inbox copy goes to the owner).
            rendered = render(
                kind, {**base, "name": person.name}, sms=bool(person.mobile), mail=bool(person.email) or person is owner
            )
            if person is owner:
                inbox_rendered = rendered
            for channel, address in (("sms", person.mobile), ("email", person.email)):
                if not address or (channel, address) in seen:
                    continue
                seen.add((channel, address))
                sms = channel == "sms"
                out.append(
                    Draft(
                        id=uuid.uuid4(),
                        key=key,
                        template=kind,
                        channel=channel,
                        recipient=address,
                        recipient_role=person.role,
                        application_id=app.application_id,
                        subject_key=app.subject_key,
                        correlation_id=correlation_id,
                        jurisdiction=app.jurisdiction,
                        subject=None if sms else rendered.subject,
                        content=rendered.sms if sms else rendered.body,
                        priority=spec.priority,
                        urgent=spec.urgent,
                        segments=sms_segments(rendered.sms) if sms else None,
                        not_before=self.quiet_hours.earliest_send(now, channel, spec.urgent),
                    )
                )
        if inbox_rendered is not None and app.applicant_id is not None:
            out.append(
                Draft(
                    id=uuid.uuid4(),
                    key=key,
                    template=kind,
                    channel="inbox",
                    recipient=str(app.applicant_id),
                    recipient_role=ContactRole.APPLICANT.value,
                    application_id=app.application_id,
                    subject_key=app.subject_key,
                    correlation_id=correlation_id,
                    jurisdiction=app.jurisdiction,
                    subject=inbox_rendered.subject,
                    content=inbox_rendered.body,
                    priority=spec.priority,
                    urgent=spec.urgent,
                    segments=None,
                    not_before=now,
                    status="delivered",  # the inbox is ours: written is delivered
                )
            )
        self.drafts.extend(out)
        return out

    # ------------------------------------------------------------------------------------ per event
    def decision_made(self, e: DecisionMade, app: Application, now: datetime) -> None:
        p = e.payload
        context: dict[str, Any] = {"amount": yuan(p.amount), "instalments": len(p.instalments)}
        if p.outcome is Outcome.ELIGIBLE and (p.public_notice_days or p.public_notice_until):
            kind = "decision_public_notice"
            context["notice_days"] = p.public_notice_days or "规定"
            context["notice_until"] = cn_date(p.public_notice_until) if p.public_notice_until else ""
        elif p.outcome is Outcome.ELIGIBLE:
            kind = "decision_eligible"
        elif p.outcome is Outcome.INELIGIBLE:
            kind = "decision_ineligible"
            reasons = failed_reasons(p.conditions)
            context["reasons"] = "；".join(reasons)
            context["reason_list"] = reasons
        else:
            kind = "decision_review"
            missing = missing_materials(p.conditions)
            context["missing"] = "、".join(missing)
            context["missing_list"] = missing
        self.fan_out(kind, e.event_id, app, context, now=now, correlation_id=e.correlation_id)

    def public_notice_ended(self, e: PublicNoticeEnded, app: Application, now: datetime) -> None:
        p = e.payload
        kind = "public_notice_released" if p.result is PublicNoticeResult.RELEASED else "public_notice_objected"
        self.fan_out(kind, e.event_id, app, {"ended_on": cn_date(p.ended_on)}, now=now, correlation_id=e.correlation_id)

    def decision_revised(self, e: DecisionRevised, app: Application, now: datetime) -> None:
        p = e.payload
        context = {
            "outcome_zh": OUTCOME_ZH[p.outcome],
            "eligible": p.outcome is Outcome.ELIGIBLE,
            "amount": yuan(p.amount),
            "reason": p.reason,
        }
        self.fan_out("decision_revised", e.event_id, app, context, now=now, correlation_id=e.correlation_id)

    def payment_changed(self, e: PaymentStatusChanged, app: Application, now: datetime) -> None:
        """sent → "payment sent"; settled (the bank's confirmed credit) → "payment arrived", once per payment;
        failed or returned → "payment failed" with the reason and what to do. Other states say nothing."""
        p = e.payload
        context: dict[str, Any] = {"amount": yuan(p.amount), "changed_on": cn_date(p.changed_at)}
        context["account_tail"] = p.payee_account_masked[-4:]
        # Tells one instalment from another (same amount, same programme) on the same handset.
        context["payment_ref"] = p.instruction_id[-6:]
        if p.status is PaymentStatus.SENT:
            kind, key = "payment_sent", derived_key(p.instruction_id, p.attempt, "sent")
        elif p.status is PaymentStatus.SETTLED:
            kind, key = "payment_arrived", derived_key(p.instruction_id, "arrived")
        elif p.status in (PaymentStatus.FAILED, PaymentStatus.RETURNED):
            kind, key = "payment_failed", derived_key(p.instruction_id, p.attempt, "failed")
            reason_zh, what = PAYMENT_REASONS.get(p.reason_code or "", DEFAULT_PAYMENT_REASON)
            context["reason"] = reason_zh
            context["what_to_do"] = what
        else:
            return
        self.fan_out(kind, key, app, context, now=now, correlation_id=e.correlation_id)
