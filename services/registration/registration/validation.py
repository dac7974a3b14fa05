"""The registration rules that need no database, shared by the HTTP use cases and the bulk intake path.

Each check raises InvalidField naming the field; `prefix` places the field inside a larger document (the bulk
intake record names them "person.id_number", "application.period.end" ...), so both paths report the same
rule with the same reason.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from subsidy_contracts.common import AccountKind, Period
from subsidy_contracts.facts import Fact

from .api.schemas import ContactIn, EnterpriseIn, PersonIn, ProxyIn
from .domain import identity
from .domain.errors import InvalidField


def check_person(body: PersonIn, prefix: str = "") -> identity.ResidentId:
    resident = identity.parse_resident_id(body.id_number, f"{prefix}id_number")
    identity.check_birth_consistent(resident, body.birth_date, f"{prefix}birth_date")
    identity.check_region_code(body.region_code, f"{prefix}region_code")
    if body.mobile is not None:
        identity.check_mobile(body.mobile, f"{prefix}mobile")
    if body.guardian_mobile is not None:
        identity.check_mobile(body.guardian_mobile, f"{prefix}guardian_mobile")
    return resident


def check_enterprise(body: EnterpriseIn, prefix: str = "") -> str:
    """The compact credit code."""
    code = identity.check_credit_code(body.credit_code, f"{prefix}credit_code")
    identity.check_region_code(body.region_code, f"{prefix}region_code")
    identity.check_mobile(body.contact_mobile, f"{prefix}contact_mobile")
    return code


def check_account_number(kind: AccountKind, number: str, bank_code: str, prefix: str = "") -> str:
    """The compact account number: a Luhn-checked card for 社保卡 accounts, digits for enterprise accounts."""
    identity.check_bank_code(bank_code, f"{prefix}bank_code")
    if kind is AccountKind.SOCIAL_SECURITY_CARD:
        return identity.check_card_number(number, f"{prefix}account_number")
    return identity.check_enterprise_account(number, f"{prefix}account_number")


def check_holder_name(owner_name: str, holder_name: str, field: str = "holder_name") -> None:
    if owner_name != holder_name:
        raise InvalidField(
            field, "户名与登记的姓名或单位名称不一致", "holder name differs from the registered owner's name"
        )


def check_period(period: Period | None, field: str = "period.end") -> None:
    if period is not None and period.end < period.start:
        raise InvalidField(field, "结束日期早于开始日期", "period ends before it starts")


def check_contacts(contacts: Sequence[ContactIn], prefix: str = "") -> None:
    for i, c in enumerate(contacts):
        if c.mobile is not None:
            identity.check_mobile(c.mobile, f"{prefix}contacts.{i}.mobile")


def check_proxy(proxy: ProxyIn, prefix: str = "") -> identity.ResidentId:
    resident = identity.parse_resident_id(proxy.id_number, f"{prefix}proxy.id_number")
    if proxy.mobile is not None:
        identity.check_mobile(proxy.mobile, f"{prefix}proxy.mobile")
    return resident


def check_fact_subjects(facts: Iterable[Fact], allowed: set[uuid.UUID], prefix: str = "") -> None:
    for i, fact in enumerate(facts):
        if fact.subject_id not in allowed:
            raise InvalidField(
                f"{prefix}facts.{i}.subject_id",
                "事实的主体必须是申请人或受益人",
                "a fact's subject must be the applicant or the beneficiary",
            )


def dedup_key(programme_id: str, applicant_id: Any, beneficiary_id: Any | None, period: Period | None) -> str:
    """One live application per applicant, programme, beneficiary and period (a unique index holds it)."""
    return "|".join(
        str(x)
        for x in (
            programme_id,
            applicant_id,
            beneficiary_id or "-",
            period.start if period else "-",
            period.end if period else "-",
        )
    )
