"""SQL business gauges: bounded labels without personal data, snapshots replaced whole."""

from __future__ import annotations

from decimal import Decimal

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from subsidy_runtime.business_metrics import SqlGauge, SqlGaugeCollector, label_value_problem

GAUGE = SqlGauge("subsidy_things", "Things.", ("programme", "status"), "SELECT 1", max_series=3)


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("sx.internship-subsidy", True),
        ("employment-subsidy-fund", True),
        ("2026", True),
        ("110101199003074514", False),  # a resident ID
        ("13800138000", False),  # a mobile number
        ("张三", False),  # a name is not a code
        ("has space", False),
        ("", False),
        (None, False),
    ],
)
def test_label_values_must_be_short_codes_without_identity_numbers(value: object, ok: bool) -> None:
    assert (label_value_problem(value) is None) is ok


def test_rows_become_series_and_bad_or_excess_rows_are_dropped_and_counted() -> None:
    registry = CollectorRegistry()
    collector = SqlGaugeCollector([GAUGE], registry)
    rows = [
        {"programme": "p1", "status": "submitted", "value": 3},
        {"programme": "13800138000", "status": "submitted", "value": 1},
        {"programme": "p1", "status": "approved", "value": Decimal("2.50")},
        {"programme": "p2", "status": "approved", "value": 7},
        {"programme": "p3", "status": "approved", "value": 9},
    ]
    series = collector.accept(GAUGE, rows)
    assert series == [(("p1", "submitted"), 3.0), (("p1", "approved"), 2.5), (("p2", "approved"), 7.0)]
    assert (
        registry.get_sample_value(
            "subsidy_business_metrics_dropped_series_total", {"metric": "subsidy_things", "reason": "label_value"}
        )
        == 1
    )
    assert (
        registry.get_sample_value(
            "subsidy_business_metrics_dropped_series_total", {"metric": "subsidy_things", "reason": "too_many_series"}
        )
        == 1
    )
    assert b"13800138000" not in generate_latest(registry)


class _FakeTransaction:
    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *exc: object) -> None:
        return None


class _FakeConnection:
    def __init__(self, rows: list[dict[str, object]]) -> None:
        self.rows = rows

    def transaction(self, readonly: bool = False) -> _FakeTransaction:
        assert readonly
        return _FakeTransaction()

    async def fetch(self, query: str) -> list[dict[str, object]]:
        return self.rows


async def test_a_refresh_replaces_the_snapshot_so_vanished_series_disappear() -> None:
    registry = CollectorRegistry()
    collector = SqlGaugeCollector([GAUGE], registry)
    await collector.refresh(_FakeConnection([{"programme": "p1", "status": "submitted", "value": 4}]))  # type: ignore[arg-type]
    assert registry.get_sample_value("subsidy_things", {"programme": "p1", "status": "submitted"}) == 4
    await collector.refresh(_FakeConnection([{"programme": "p1", "status": "approved", "value": 4}]))  # type: ignore[arg-type]
    assert registry.get_sample_value("subsidy_things", {"programme": "p1", "status": "submitted"}) is None
    assert registry.get_sample_value("subsidy_things", {"programme": "p1", "status": "approved"}) == 4
    assert (registry.get_sample_value("subsidy_business_metrics_refreshed_timestamp_seconds") or 0) > 0


@pytest.mark.parametrize(
    "bad",
    [
        {"name": "things", "labels": ()},
        {"name": "subsidy_things_total", "labels": ()},
        {"name": "subsidy_things", "labels": ("value",)},
        {"name": "subsidy_things", "labels": ("Bad-Label",)},
    ],
)
def test_bad_declarations_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"subsidy_|_total|label"):
        SqlGauge(str(bad["name"]), "doc", tuple(bad["labels"]), "SELECT 1")  # type: ignore[arg-type]
