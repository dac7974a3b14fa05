"""The metrics every service exports on /metrics. Names follow Prometheus conventions (units in the name,
_total counters) and labels are bounded: consumer, topic, event type, failure kind; never personal data.
Services add their business metrics to the same registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from subsidy_contracts.deadletter import FailureKind

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
FAILURE_KINDS = ("transient", "retry", "dead_letter")
LAG_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)


class ServiceMetrics:
    def __init__(self, service: str, registry: CollectorRegistry | None = None) -> None:
        self.service = service
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.info = Gauge(
            "subsidy_service_info", "Constant 1, labelled with the service name.", ["service"], registry=r
        )
        self.info.labels(service).set(1)
        self.events_consumed = Counter(
            "subsidy_events_consumed_total",
            "Events a consumer applied (duplicates and skipped types excluded).",
            ["consumer", "event_type"],
            registry=r,
        )
        self.events_duplicate = Counter(
            "subsidy_events_duplicate_total",
            "Redelivered events the inbox recognised and skipped.",
            ["consumer"],
            registry=r,
        )
        self.events_produced = Counter(
            "subsidy_events_produced_total",
            "Records the outbox relay published and Kafka acknowledged.",
            ["topic"],
            registry=r,
        )
        self.events_failed = Counter(
            "subsidy_events_failed_total",
            "Processing failures: transient (retried in place), retry (sent to the retry topic), dead_letter.",
            ["consumer", "kind"],
            registry=r,
        )
        self.dead_letters = Counter(
            "subsidy_dead_letters_total",
            "Records written to the service's dead-letter topic, by failure kind.",
            ["consumer", "failure"],
            registry=r,
        )
        self.batch_seconds = Histogram(
            "subsidy_batch_processing_seconds",
            "Time to apply one consumed batch (decode, inbox, handler, commit).",
            ["consumer"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.batch_size = Histogram(
            "subsidy_batch_size_records",
            "Records per consumed batch.",
            ["consumer"],
            buckets=(1, 5, 10, 25, 50, 100, 250, 500, 1000, 2000),
            registry=r,
        )
        self.event_lag = Histogram(
            "subsidy_event_lag_seconds",
            "From an event's occurred_at to the moment this service applied it.",
            ["consumer"],
            buckets=LAG_BUCKETS,
            registry=r,
        )
        self.outbox_backlog = Gauge("subsidy_outbox_backlog_records", "Outbox rows not yet published.", registry=r)
        self.outbox_lag = Gauge(
            "subsidy_outbox_lag_seconds", "Age of the oldest unpublished outbox row (0 when empty).", registry=r
        )
        self.outbox_publish_seconds = Histogram(
            "subsidy_outbox_publish_seconds",
            "Time for one relay round: claim rows, publish, wait for acks, delete.",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.consumer_lag = Gauge(
            "subsidy_consumer_lag_records",
            "Records between the group's position and the end of the partitions it owns.",
            ["consumer", "topic"],
            registry=r,
        )
        self.http_requests = Counter(
            "subsidy_http_requests_total",
            "HTTP requests by route template and status class.",
            ["method", "route", "status"],
            registry=r,
        )
        self.http_seconds = Histogram(
            "subsidy_http_request_seconds",
            "HTTP request duration by route template.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )

    def declare_consumer(self, consumer: str) -> None:
        """Exports a consumer's failure counters at 0 from the start: a series that only appears with its first
        dead letter is invisible to increase() and rate(), so the first one would never alert."""
        self.events_duplicate.labels(consumer)
        for kind in FAILURE_KINDS:
            self.events_failed.labels(consumer, kind)
        for failure in FailureKind:
            self.dead_letters.labels(consumer, failure.value)
