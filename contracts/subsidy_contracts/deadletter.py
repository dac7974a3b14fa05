"""What a service writes to its dead-letter topic when it cannot process a record."""

from __future__ import annotations

from enum import StrEnum

from pydantic import AwareDatetime, Field

from .envelope import ContractModel


class FailureKind(StrEnum):
    UNDECODABLE = "undecodable"  # not JSON, or not UTF-8
    INVALID = "invalid"  # JSON that does not match the contract
    UNKNOWN_VERSION = "unknown_version"  # a schema version this consumer cannot read
    PROCESSING = "processing"  # valid event, but the handler failed on it for good
    RETRIES_EXHAUSTED = "retries_exhausted"


class DeadLetter(ContractModel):
    """A record a consumer gave up on, with the reason and enough to replay it."""

    service: str
    consumer: str = Field(description="Consumer group that failed.")
    failure: FailureKind
    reason: str = Field(description="Why it failed: the validation errors or the exception, one line each.")
    error_class: str | None = None
    original_topic: str
    original_partition: int
    original_offset: int
    original_key: str | None = None
    original_headers: dict[str, str] = Field(default_factory=dict)
    original_value: str = Field(description="The record's value: UTF-8 text, or base64 when not valid UTF-8.")
    original_value_encoding: str = Field(default="utf-8", description="utf-8 or base64.")
    event_id: str | None = Field(default=None, description="Event id when the envelope could be read.")
    event_type: str | None = None
    attempts: int = Field(default=1, ge=1)
    failed_at: AwareDatetime
