"""Notifications' business metrics, on the runtime's registry. Labels are bounded: channel and status."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

from subsidy_runtime.metrics import LATENCY_BUCKETS

STATUSES = ("queued", "sent", "delivered", "retried", "dead", "rate_limited", "quiet_hours", "duplicate")


class NotificationMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        r = registry or CollectorRegistry()
        self.messages = Counter(
            "subsidy_notifications_messages_total",
            "Messages by channel (sms, email, inbox) and what happened: queued (composed), sent (the channel "
            "accepted), delivered (receipt or inbox), retried, dead (permanent failure), rate_limited, "
            "quiet_hours (held until morning), duplicate (the gateway had it already).",
            ["channel", "status"],
            registry=r,
        )
        self.sms_segments = Counter(
            "subsidy_notifications_sms_segments_total",
            "SMS segments handed to the gateway (what is billed).",
            registry=r,
        )
        self.send_seconds = Histogram(
            "subsidy_notifications_send_seconds",
            "Time for one channel batch: claim, send, mark.",
            ["channel"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
