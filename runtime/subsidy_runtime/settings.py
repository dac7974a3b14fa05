"""Settings every service reads from its environment (pydantic-settings). Services subclass ServiceSettings."""

from __future__ import annotations

import os
import socket

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    service_name: str = Field(description="registration | eligibility | payments | notifications")
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    database_url: str = Field(description="DSN of the service's own login role; it owns one schema.")
    db_schema: str | None = Field(default=None, description="Defaults to the service name.")
    db_pool_min_size: int = 2
    db_pool_max_size: int = 10
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    log_level: str = "info"
    instance_id: str = Field(default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}")

    consumer_max_records: int = Field(default=500, description="Records per batch handed to a handler.")
    consumer_batch_timeout_ms: int = Field(default=100, description="How long a poll waits to fill a batch.")
    consumer_transient_retry_budget_s: float = Field(
        default=120.0, description="How long one batch is retried in place on transient errors before re-reading."
    )
    retry_max_attempts: int = Field(default=6, description="Attempts through the retry topic before dead-lettering.")
    retry_base_delay_s: float = Field(default=1.0, description="First retry delay; doubles per attempt.")

    integrations_file: str | None = Field(
        default=None, description="YAML file of the integrations allowed to call the API (key ids, secrets, scope)."
    )
    max_body_bytes: int = Field(default=1_048_576, description="Larger request bodies are refused with 413.")

    outbox_batch_size: int = 2000
    outbox_poll_interval_s: float = Field(default=0.5, description="Fallback poll when no NOTIFY arrives.")
    kafka_linger_ms: int = 5
    kafka_idempotent_producer: bool = Field(
        default_factory=lambda: idempotent_producer(),
        description="False only on the fallback broker (Tansu), which has no idempotent producer; duplicates it "
        "may then write are absorbed by the consumers' inboxes.",
    )

    @property
    def schema_name(self) -> str:
        return self.db_schema or self.service_name


def idempotent_producer() -> bool:
    """Whether producers ask the broker for idempotence: KAFKA_IDEMPOTENT_PRODUCER if set, else yes unless the
    stack runs the fallback broker (BROKER_IMPLEMENTATION=tansu, deploy/local/env.sh), which has none. Used by
    the services' settings and by the tools and simulators that have no settings of their own."""
    explicit = os.environ.get("KAFKA_IDEMPOTENT_PRODUCER")
    if explicit is not None:
        return explicit.strip().lower() not in ("false", "0", "no")
    return os.environ.get("BROKER_IMPLEMENTATION", "kafka") != "tansu"
