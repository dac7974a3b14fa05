"""The Kafka interface with bank disbursement systems (the ISO 20022 files carry the same content).

Out: one PaymentBatch per released batch on bank.payment-batches.v1 (key: the bank's CNAPS code), with its
control totals (count and sum), like a pain.001 group header. In: PaymentResults on bank.payment-results.v1
(key: the bank's code), one entry per payment, like a pain.002 status report or a camt.054 notification.
Money is a decimal string in yuan; the end-to-end id is the platform's stable payment id.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Literal

from pydantic import AwareDatetime, Field

from .envelope import ContractModel, Event
from .money import Money


class Party(ContractModel):
    name: str = Field(max_length=140)
    account_number: str = Field(pattern=r"^\d{8,32}$")
    bank_code: str = Field(pattern=r"^\d{12}$", description="CNAPS code (支付系统行号).")


class BatchPayment(ContractModel):
    end_to_end_id: str = Field(min_length=1, max_length=35)
    amount: Money
    creditor: Party
    remittance: str = Field(max_length=140, description="Unstructured remittance text shown to the payee.")


class PaymentBatchPayload(ContractModel):
    batch_id: str = Field(max_length=35, description="Also the ISO 20022 MsgId and PmtInfId.")
    bank_code: str = Field(pattern=r"^\d{12}$")
    fund_code: str
    debtor: Party = Field(description="The fund's account the money leaves from.")
    requested_execution_date: date
    number_of_transactions: int = Field(ge=1)
    control_sum: Money
    payments: list[BatchPayment] = Field(min_length=1)
    created_at: AwareDatetime


class PaymentBatch(Event):
    event_type: Literal["bank.payment-batch"] = "bank.payment-batch"
    schema_version: Literal[1] = 1
    payload: PaymentBatchPayload


class ResultStatus(StrEnum):
    ACCEPTED = "accepted"  # pain.002 ACCP / ACSP: taken for processing, not yet credited
    SETTLED = "settled"  # credited to the payee (pain.002 ACSC, camt.054 credit booked)
    REJECTED = "rejected"  # refused before settlement (pain.002 RJCT), reason code says why
    RETURNED = "returned"  # credited, then returned by the payee's bank (camt.054 return)


class PaymentResult(ContractModel):
    end_to_end_id: str = Field(max_length=35)
    status: ResultStatus
    amount: Money
    reason_code: str | None = Field(default=None, max_length=4, description="ISO 20022 code, e.g. AC04 account closed.")
    reason_text: str | None = Field(default=None, max_length=140)
    bank_reference: str | None = Field(default=None, max_length=35)
    value_date: date | None = None


class PaymentResultsPayload(ContractModel):
    bank_code: str = Field(pattern=r"^\d{12}$")
    report_id: str = Field(max_length=35, description="The bank's id of this report; reports are idempotent on it.")
    original_batch_id: str | None = Field(default=None, max_length=35)
    results: list[PaymentResult] = Field(min_length=1)
    reported_at: AwareDatetime


class PaymentResults(Event):
    event_type: Literal["bank.payment-results"] = "bank.payment-results"
    schema_version: Literal[1] = 1
    payload: PaymentResultsPayload
