"""Events notifications publishes about messages it delivered."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Literal

from pydantic import AwareDatetime, Field

from .common import ContactRole
from .envelope import ContractModel, Event


class Channel(StrEnum):
    SMS = "sms"
    EMAIL = "email"
    INBOX = "inbox"


class MessageSentPayload(ContractModel):
    message_id: uuid.UUID
    application_id: uuid.UUID | None = None
    template: str
    channel: Channel
    recipient_role: ContactRole
    recipient_masked: str = Field(description="Recipient address with the middle masked.")
    sent_at: AwareDatetime


class MessageSent(Event):
    event_type: Literal["notifications.message-sent"] = "notifications.message-sent"
    schema_version: Literal[1] = 1
    payload: MessageSentPayload
