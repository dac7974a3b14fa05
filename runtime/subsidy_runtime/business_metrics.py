"""Business metrics read from a service's own tables: gauges whose values come from declared SQL queries.

A service declares each gauge as a query returning one row per label combination (the label columns, then a
numeric `value` column). A background loop of the service runs all queries every few seconds in one
read-only transaction and replaces the previous snapshot, so a label combination that disappears from the
table also disappears from /metrics, and scraping never touches the database.

Labels must stay bounded and free of personal data: every label value must match a short code pattern
(programme ids, fund codes, statuses) and may not hold a run of digits long enough to be an identity,
account or mobile number; values that do not qualify are counted and dropped, never exported. A gauge also
has a ceiling on its number of series.

Prometheus values are floats: money is summed as NUMERIC in PostgreSQL and only converted at exposition.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from prometheus_client import Counter, Gauge
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector, CollectorRegistry

from .logging import get_logger

if TYPE_CHECKING:
    from .db import Connection
    from .service import ServiceRuntime

log = get_logger(__name__)

_METRIC_NAME = re.compile(r"^subsidy_[a-z][a-z0-9_]*$")
_LABEL_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
# Codes, not free text: programme ids, fund codes, statuses, years.
_LABEL_VALUE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,79}$")
# Eight digits in a row could be part of a resident ID, a bank account or a mobile number.
_LONG_DIGIT_RUN = re.compile(r"\d{8,}")
DEFAULT_MAX_SERIES = 200


@dataclass(frozen=True)
class SqlGauge:
    """One gauge: `query` returns the label columns named in `labels` and a numeric column `value`."""

    name: str
    documentation: str
    labels: tuple[str, ...]
    query: str
    max_series: int = DEFAULT_MAX_SERIES

    def __post_init__(self) -> None:
        if not _METRIC_NAME.match(self.name):
            raise ValueError(f"metric name {self.name!r} must be snake_case and start with subsidy_")
        if self.name.endswith("_total"):
            raise ValueError(f"{self.name}: _total is for counters; a SQL gauge is a gauge")
        for label in self.labels:
            if not _LABEL_NAME.match(label) or label == "value":
                raise ValueError(f"{self.name}: bad label name {label!r}")


def label_value_problem(value: object) -> str | None:
    """Why a value may not be a label value (None when it may)."""
    if not isinstance(value, str):
        return f"not text: {type(value).__name__}"
    if not _LABEL_VALUE.match(value):
        return "not a short code"
    if _LONG_DIGIT_RUN.search(value):
        return "holds a long run of digits"
    return None


@dataclass
class _Snapshot:
    series: dict[str, list[tuple[tuple[str, ...], float]]] = field(default_factory=dict)


class SqlGaugeCollector(Collector):
    """Exposes the last snapshot of every declared gauge; `refresh` takes a new one from the database."""

    def __init__(self, gauges: Sequence[SqlGauge], registry: CollectorRegistry) -> None:
        names = [g.name for g in gauges]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate business metric names: {names}")
        self.gauges = tuple(gauges)
        self._snapshot = _Snapshot()
        self.refresh_seconds = Gauge(
            "subsidy_business_metrics_refresh_seconds",
            "Time the last refresh of the SQL business metrics took.",
            registry=registry,
        )
        self.refreshed_at = Gauge(
            "subsidy_business_metrics_refreshed_timestamp_seconds",
            "Unix time of the last successful refresh of the SQL business metrics.",
            registry=registry,
        )
        self.refresh_failures = Counter(
            "subsidy_business_metrics_refresh_failures_total",
            "Refreshes of the SQL business metrics that failed (the previous values stay exported).",
            registry=registry,
        )
        self.dropped = Counter(
            "subsidy_business_metrics_dropped_series_total",
            "Rows a business-metric query returned that were not exported (label not a code, or too many series).",
            ["metric", "reason"],
            registry=registry,
        )
        registry.register(self)

    def collect(self) -> Iterable[GaugeMetricFamily]:
        snapshot = self._snapshot
        for gauge in self.gauges:
            family = GaugeMetricFamily(gauge.name, gauge.documentation, labels=list(gauge.labels))
            for labels, value in snapshot.series.get(gauge.name, []):
                family.add_metric(list(labels), value)
            yield family

    def describe(self) -> Iterable[GaugeMetricFamily]:
        # Lets the registry check for name clashes at registration without running collect().
        for gauge in self.gauges:
            yield GaugeMetricFamily(gauge.name, gauge.documentation, labels=list(gauge.labels))

    def accept(self, gauge: SqlGauge, rows: Iterable[Any]) -> list[tuple[tuple[str, ...], float]]:
        """The exportable series of one query's rows."""
        series: list[tuple[tuple[str, ...], float]] = []
        for row in rows:
            labels = tuple(row[label] for label in gauge.labels)
            problem = next((p for p in map(label_value_problem, labels) if p is not None), None)
            if problem is not None:
                self.dropped.labels(gauge.name, "label_value").inc()
                log.warning("business metric row dropped", metric=gauge.name, reason=problem)
                continue
            if len(series) >= gauge.max_series:
                self.dropped.labels(gauge.name, "too_many_series").inc()
                continue
            value = row["value"]
            series.append((labels, float(value if isinstance(value, Decimal | int | float) else 0)))
        return series

    async def refresh(self, conn: Connection) -> None:
        started = time.perf_counter()
        fresh: dict[str, list[tuple[tuple[str, ...], float]]] = {}
        async with conn.transaction(readonly=True):
            for gauge in self.gauges:
                fresh[gauge.name] = self.accept(gauge, await conn.fetch(gauge.query))
        self._snapshot = _Snapshot(fresh)
        self.refresh_seconds.set(time.perf_counter() - started)
        self.refreshed_at.set(time.time())


def register_sql_gauges(
    runtime: ServiceRuntime, gauges: Sequence[SqlGauge], *, interval_s: float = 10.0
) -> SqlGaugeCollector:
    """Adds the gauges to the service's /metrics and a background loop refreshing them every interval_s."""
    collector = SqlGaugeCollector(gauges, runtime.metrics.registry)

    @runtime.loop("business-metrics")
    async def refresh_business_metrics() -> None:
        while True:
            try:
                async with runtime.pool.acquire() as conn:
                    await collector.refresh(conn)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                collector.refresh_failures.inc()
                log.warning("business metrics refresh failed", error=type(exc).__name__)
            await asyncio.sleep(interval_s)

    return collector
