"""The payments service writes its high-volume events straight to JSON; they must be exactly what the
contracts say (a consumer validates them with the Pydantic models)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import orjson

from payments.events import Change, created_record, status_record
from payments.ids import end_to_end_id, instruction_id
from subsidy_contracts.payments import PaymentInstructionCreated, PaymentStatus, PaymentStatusChanged
from subsidy_contracts.topics import PAYMENTS

NOW = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


def _row() -> dict[str, object]:
    decision = uuid.uuid4()
    return {
        "instruction_id": instruction_id(decision, 2),
        "decision_id": decision,
        "instalment_number": 2,
        "application_id": uuid.uuid4(),
        "applicant_id": uuid.uuid4(),
        "programme_id": "hn.on-the-job-training-subsidy",
        "fund_code": "skills-upgrading-account",
        "amount": Decimal("500.00"),
        "due_on": date(2026, 12, 1),
        "payee": {"account_number": "6217001234567890123", "holder_name": "张三"},
        "correlation_id": uuid.uuid4(),
    }


def test_instruction_created_json_is_the_contract() -> None:
    row = _row()
    record = created_record(row, PaymentStatus.HELD, NOW)
    event = PaymentInstructionCreated.model_validate_json(record.value)
    assert record.topic == PAYMENTS.name
    assert record.key == str(row["applicant_id"])
    assert record.headers["event_id"] == str(event.event_id)
    assert event.payload.end_to_end_id == row["instruction_id"]
    assert event.payload.amount == Decimal("500.00")
    assert event.payload.status is PaymentStatus.HELD
    assert event.payload.payee_account_masked == "****0123"
    assert "6217001234567890123" not in record.value


def test_status_changed_json_is_the_contract() -> None:
    row = _row()
    change = Change(
        instruction_id=str(row["instruction_id"]),
        end_to_end_id=end_to_end_id(str(row["instruction_id"]), 3),
        attempt=3,
        decision_id=row["decision_id"],  # type: ignore[arg-type]
        application_id=row["application_id"],  # type: ignore[arg-type]
        applicant_id=row["applicant_id"],  # type: ignore[arg-type]
        programme_id=str(row["programme_id"]),
        fund_code=str(row["fund_code"]),
        amount=Decimal("0.01"),
        account_number="6217001234567890123",
        correlation_id=row["correlation_id"],  # type: ignore[arg-type]
        status=PaymentStatus.RETURNED,
        previous=PaymentStatus.SETTLED,
        reason_code="MD07",
        reason_text="收款人已死亡",
        batch_id="B20261130080000ABCDEF1234",
    )
    record = status_record(change, NOW)
    event = PaymentStatusChanged.model_validate_json(record.value)
    assert event.payload.end_to_end_id.endswith("R03")
    assert len(event.payload.end_to_end_id) <= 35
    assert (event.payload.status, event.payload.previous_status) == (PaymentStatus.RETURNED, PaymentStatus.SETTLED)
    assert event.payload.amount == Decimal("0.01")
    assert orjson.loads(record.value)["payload"]["amount"] == "0.01"
    assert event.payload.changed_at == NOW


def test_instruction_id_is_the_unpadded_base32_of_the_decision() -> None:
    import base64

    for decision in [uuid.UUID(int=0), uuid.UUID(int=2**128 - 1), *(uuid.uuid4() for _ in range(2000))]:
        expected = base64.b32encode(decision.bytes).decode().rstrip("=")
        assert instruction_id(decision, 7) == expected + "007"
        assert len(instruction_id(decision, 999)) == 29
