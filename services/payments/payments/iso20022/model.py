"""What the platform writes to banks and reads back, independent of the XML that carries it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

# The message definitions this package writes and reads, by ISO 20022 name. pain.002 is version 12: the
# official schema of version 10 is not shipped by any package this project can install (see xsd/NOTICE.md).
MessageName = Literal["pain.001.001.09", "pain.002.001.12", "camt.054.001.08"]
PAIN001: MessageName = "pain.001.001.09"
PAIN002: MessageName = "pain.002.001.12"
CAMT054: MessageName = "camt.054.001.08"
NAMESPACE_PREFIX = "urn:iso:std:iso:20022:tech:xsd:"

# ClrSysMmbId/ClrSysId/Cd for China's National Advanced Payment System (ISO external clearing system code).
CNAPS = "CNAPS"
CURRENCY = "CNY"

PaymentStatus = Literal["accepted", "settled", "rejected", "returned"]
ReportKind = Literal["pain.002", "camt.054"]


class InvalidMessage(ValueError):
    """An XML message that is not well-formed or breaks its XSD; the text names the line and the reason."""


@dataclass(frozen=True, slots=True)
class CreditTransfer:
    end_to_end_id: str  # <= 35 chars, [A-Za-z0-9-]
    amount: Decimal  # yuan with fen, > 0
    creditor_name: str  # payee name (Chinese)
    creditor_account: str  # digits: 社保卡 account or enterprise basic account
    creditor_bank_code: str  # 12-digit CNAPS code (支付系统行号)
    creditor_bank_name: str
    remittance: str  # unstructured, <= 140 chars


@dataclass(frozen=True, slots=True)
class PaymentFile:
    message_id: str  # <= 35, the platform's batch id; also PmtInfId
    created_at: datetime  # aware
    initiating_party: str  # e.g. 湖南省人力资源和社会保障厅
    debtor_name: str
    debtor_account: str
    debtor_bank_code: str  # the fund's account and its bank
    requested_execution_date: date
    transfers: Sequence[CreditTransfer]  # NbOfTxs and CtrlSum are computed from these; currency CNY


@dataclass(frozen=True, slots=True)
class PaymentReport:
    """One transaction's status, from a pain.002 (accepted / rejected / settled) or a camt.054 (settled / returned)."""

    end_to_end_id: str
    status: PaymentStatus
    amount: Decimal | None
    reason_code: str | None  # ISO external codes: AC04 closed account, BE01 name mismatch, AM05 duplicate, ...
    reason_text: str | None
    bank_reference: str | None
    value_date: date | None


@dataclass(frozen=True, slots=True)
class BankReport:
    report_id: str  # MsgId of the pain.002 / camt.054: reports are applied idempotently on it
    kind: ReportKind
    original_message_id: str | None  # the batch (pain.001 MsgId) it answers, when known
    group_status: str | None  # pain.002 group status (ACCP, ACSC, RJCT, PART ...)
    created_at: datetime
    entries: list[PaymentReport]
    # Why a whole group was rejected (pain.002 OrgnlGrpInfAndSts/StsRsnInf), e.g. FF01 invalid file, AM19 count.
    group_reason_code: str | None = None
    group_reason_text: str | None = None
    original_message_ids: frozenset[str] = field(default_factory=frozenset)  # camt.054: every batch it touches
