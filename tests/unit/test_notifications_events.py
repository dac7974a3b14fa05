"""notifications.message-sent, built as JSON on the hot path, is a valid contract event with the runtime's headers."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from notifications.store import sent_record
from subsidy_contracts.notifications import Channel, MessageSent
from subsidy_contracts.topics import topic_for
from subsidy_runtime.outbox import event_headers


def test_sent_record_is_a_valid_message_sent_event_with_the_runtime_headers() -> None:
    now = datetime(2026, 11, 30, 4, 0, tzinfo=UTC)
    row = {
        "id": uuid.uuid4(),
        "application_id": uuid.uuid4(),
        "template": "payment_arrived",
        "channel": "sms",
        "recipient": "13800138000",
        "recipient_role": "guardian",
        "subject_key": "applicant-1",
        "correlation_id": uuid.uuid4(),
    }
    cause = uuid.uuid4()
    record = sent_record(row, now, causation_id=cause)
    event = MessageSent.model_validate_json(record.value)
    assert event.payload.message_id == row["id"]
    assert event.payload.channel is Channel.SMS
    assert event.payload.recipient_masked == "138****8000"
    assert "13800138000" not in record.value
    assert event.causation_id == cause
    assert event.occurred_at == now
    assert record.topic == topic_for(event.event_type).name
    assert record.key == "applicant-1"
    assert record.headers == event_headers(event)
    inbox = sent_record(
        {**row, "channel": "inbox", "recipient": str(uuid.uuid4()), "application_id": None}, now, causation_id=cause
    )
    assert MessageSent.model_validate_json(inbox.value).payload.application_id is None
