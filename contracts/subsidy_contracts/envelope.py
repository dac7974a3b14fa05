"""The envelope every event travels in.

Consumers are tolerant readers (unknown fields are ignored), so a producer may add optional fields within a
schema version. Anything else (removing, retyping, making a field required) needs a new event type or
version; tests/contracts/test_event_schemas.py enforces that against the schemas committed in docs/.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Self, TypeVar, cast

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

E = TypeVar("E", bound="Event")


class ContractModel(BaseModel):
    """Base of every contract model: immutable, tolerant of fields added by newer producers."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)


class Event(ContractModel):
    """Envelope: who said what, when, about which subject, and in answer to what."""

    event_id: uuid.UUID = Field(description="Unique id of this event; consumers de-duplicate on it.")
    event_type: str = Field(description="Dotted name of the event, e.g. registration.application-submitted.")
    schema_version: int = Field(description="Version of this event type's payload schema.")
    occurred_at: AwareDatetime = Field(description="When the fact happened, with its time zone.")
    producer: str = Field(description="Service that produced the event.")
    correlation_id: uuid.UUID = Field(description="Id shared by every event of one business flow.")
    causation_id: uuid.UUID | None = Field(
        default=None, description="Id of the event or request that directly caused this one."
    )
    subject_key: str = Field(
        description="Id of the entity whose order matters; used as the Kafka key (partitioning).",
        min_length=1,
        max_length=200,
    )
    payload: ContractModel

    @classmethod
    def type_name(cls) -> str:
        """The event_type every instance of this class carries (its Literal default)."""
        return cast(str, cls.model_fields["event_type"].default)

    @classmethod
    def version(cls) -> int:
        return cast(int, cls.model_fields["schema_version"].default)

    @classmethod
    def create(
        cls,
        payload: Any,
        *,
        producer: str,
        subject_key: str,
        correlation_id: uuid.UUID,
        causation_id: uuid.UUID | None = None,
        occurred_at: datetime | None = None,
        event_id: uuid.UUID | None = None,
    ) -> Self:
        return cls(
            event_id=event_id or uuid.uuid4(),
            event_type=cls.type_name(),
            schema_version=cls.version(),
            occurred_at=occurred_at or datetime.now(UTC),
            producer=producer,
            correlation_id=correlation_id,
            causation_id=causation_id,
            subject_key=subject_key,
            payload=payload,
        )

    def follow_up(
        self,
        event_cls: type[E],
        payload: Any,
        *,
        producer: str,
        subject_key: str | None = None,
        occurred_at: datetime | None = None,
    ) -> E:
        """A new event caused by this one, in the same business flow."""
        return event_cls.create(
            payload,
            producer=producer,
            subject_key=subject_key or self.subject_key,
            correlation_id=self.correlation_id,
            causation_id=self.event_id,
            occurred_at=occurred_at,
        )
