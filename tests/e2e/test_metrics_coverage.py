"""Every metric a dashboard or an alert uses is exported by a running service, and every dashboard panel's
query returns data from a real Prometheus after a demo batch went through the platform.

The metrics are read from the Grafana dashboards (deploy/grafana/dashboards/*.json) and the alert rules
(deploy/prometheus/alerts.yml). The `platform` fixture starts the four services; `stack.sh prometheus-up`
starts Prometheus (Debian package) scraping them; a small demo batch (deploy/local/demo) is pushed through.
Each metric and each panel is its own test, so a failure names exactly what is missing.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import yaml

from deploy.local.demo import pipeline
from deploy.local.demo.client import RegistrationClient
from tests.conftest import SERVICES, Stack

pytestmark = [pytest.mark.e2e]

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = ROOT / "deploy" / "grafana" / "dashboards"
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
DEMO_APPLICATIONS = 40
PANEL_PATIENCE_S = 90
# Made by Prometheus itself for every target, not by a service.
PROMETHEUS_SYNTHETIC = frozenset({"up"})
PROMQL_KEYWORDS = frozenset(
    {
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "and",
        "or",
        "unless",
        "bool",
        "offset",
        "inf",
        "nan",
    }
)
_IDENTIFIER = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")


def metrics_in(expr: str) -> set[str]:
    """Metric names a PromQL expression selects (functions, keywords, labels and durations removed)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)  # label values
    text = re.sub(r"\{[^}]*\}", "", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", "", text)  # ranges
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)  # label lists
    names = set()
    for match in _IDENTIFIER.finditer(text):
        name = match.group(0)
        following = text[match.end() :].lstrip()
        if following.startswith("(") or name.lower() in PROMQL_KEYWORDS:
            continue
        names.add(name)
    return names


@dataclass(frozen=True)
class Panel:
    dashboard: str
    title: str
    ref: str
    expr: str

    @property
    def id(self) -> str:
        return f"{self.dashboard}:{self.title}:{self.ref}"


def dashboard_panels() -> list[Panel]:
    panels = []
    for path in sorted(DASHBOARDS.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        for panel in data["panels"]:
            for target in panel.get("targets") or []:
                panels.append(Panel(path.stem, panel["title"], target["refId"], target["expr"]))
    return panels


def alert_exprs() -> dict[str, str]:
    data = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    return {str(r["alert"]): str(r["expr"]) for g in data["groups"] for r in g["rules"] if "alert" in r}


def metrics_used() -> dict[str, list[str]]:
    """Metric name -> where it is used (dashboard panel or alert)."""
    used: dict[str, list[str]] = {}
    for panel in dashboard_panels():
        for name in metrics_in(panel.expr):
            used.setdefault(name, []).append(f"panel {panel.id}")
    for alert, expr in alert_exprs().items():
        for name in metrics_in(expr):
            used.setdefault(name, []).append(f"alert {alert}")
    return used


USED = metrics_used()
PANELS = dashboard_panels()


def test_the_expression_reader_finds_metrics_and_nothing_else() -> None:
    expr = (
        'sum by (fund_code) (increase(subsidy_payments_total{status=~"failed|returned"}[30m])) / '
        '(sum by (fund_code) (increase(subsidy_payments_total{status="sent"}[30m])) > 0) > 0.05 '
        "and on (job) histogram_quantile(0.95, sum by (le) (rate(subsidy_event_lag_seconds_bucket[5m])))"
    )
    assert metrics_in(expr) == {"subsidy_payments_total", "subsidy_event_lag_seconds_bucket"}
    assert {"subsidy_applications", "subsidy_dead_letters_total", "up"} <= set(USED)
    assert len(PANELS) >= 20


# ------------------------------------------------------------------------------------------- running
@dataclass
class Observed:
    stack: Stack
    sampled: dict[str, set[str]]  # service -> metric names with at least one sample
    declared: dict[str, set[str]]  # service -> metric names with a TYPE line (possibly no sample yet)
    ready_at: float  # monotonic time the demo batch was decided

    @property
    def prometheus(self) -> str:
        return f"http://127.0.0.1:{self.stack.env['PROMETHEUS_PORT']}"


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - local stack URLs only
        return str(response.read().decode("utf-8"))


def scrape(url: str) -> tuple[set[str], set[str]]:
    text = _get(f"{url}/metrics")
    sampled, declared = set(), set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            declared.add(line.split()[2])
        elif line and not line.startswith("#"):
            match = _IDENTIFIER.match(line)
            if match:
                sampled.add(match.group(0))
    return sampled, declared


def prometheus_query(base: str, expr: str) -> list[dict[str, Any]]:
    body = json.loads(_get(f"{base}/api/v1/query?{urllib.parse.urlencode({'query': expr})}"))
    assert body["status"] == "success", body
    return list(body["data"]["result"])


async def _push_demo_batch(stack: Stack, n: int) -> None:
    client = RegistrationClient(stack.url("registration"))
    try:
        interns, bodies = await pipeline.prepare(client, n, seed=20261130)
        submitted = await pipeline.submit_all(client, interns, bodies)
    finally:
        await client.close()
    ids = [s.application_id for s in submitted]
    conn = await asyncpg.connect(stack.admin_dsn)
    try:
        deadline = time.monotonic() + 120
        while True:
            decided = await conn.fetchval(
                "SELECT count(*) FROM eligibility.decisions WHERE application_id = ANY($1::uuid[])", ids
            )
            if decided == len(ids):
                break
            assert time.monotonic() < deadline, f"only {decided} of {len(ids)} demo applications decided"
            await asyncio.sleep(0.5)
    finally:
        await conn.close()


@pytest.fixture(scope="module")
def observed(platform: Stack) -> Iterator[Observed]:
    platform.run("prometheus-up", timeout=900)
    try:
        asyncio.run(_push_demo_batch(platform, DEMO_APPLICATIONS))
        ready_at = time.monotonic()
        # Business gauges are refreshed every 10 s and Prometheus scrapes every 5 s: let both catch up, and
        # let the later stages (payments, notifications) work on the batch.
        time.sleep(25)
        sampled: dict[str, set[str]] = {}
        declared: dict[str, set[str]] = {}
        for service in SERVICES:
            sampled[service], declared[service] = scrape(platform.url(service))
        yield Observed(platform, sampled, declared, ready_at)
    finally:
        platform.run("prometheus-down")


@pytest.mark.parametrize("metric", sorted(set(USED) - PROMETHEUS_SYNTHETIC))
def test_metric_used_by_dashboards_and_alerts_is_exported(observed: Observed, metric: str) -> None:
    exporters = sorted(s for s, names in observed.sampled.items() if metric in names)
    declaring = sorted(s for s, names in observed.declared.items() if metric in names)
    used_by = "; ".join(USED[metric])
    assert exporters, (
        f"MISSING METRIC {metric}: no running service exports a sample of it"
        + (f" (declared without samples by {declaring})" if declaring else " (not declared by any service)")
        + f"; used by {used_by}"
    )


def test_prometheus_scrapes_all_four_services(observed: Observed) -> None:
    results = prometheus_query(observed.prometheus, 'up{job=~"registration|eligibility|payments|notifications"}')
    health = {r["metric"]["job"]: r["value"][1] for r in results}
    assert health == dict.fromkeys(SERVICES, "1")


def test_prometheus_loaded_every_alert_rule(observed: Observed) -> None:
    body = json.loads(_get(f"{observed.prometheus}/api/v1/rules?type=alert"))
    loaded = {r["name"]: r["health"] for g in body["data"]["groups"] for r in g["rules"]}
    assert loaded == dict.fromkeys(alert_exprs(), "ok")


@pytest.mark.parametrize("panel", PANELS, ids=[p.id for p in PANELS])
def test_dashboard_panel_query_returns_data(observed: Observed, panel: Panel) -> None:
    # Later stages (bank settlement) may still be working on the batch: wait up to 90 s after it was decided.
    deadline = max(time.monotonic() + 5, observed.ready_at + PANEL_PATIENCE_S)
    while True:
        results = prometheus_query(observed.prometheus, panel.expr)
        if results:
            break
        if time.monotonic() > deadline:
            missing = sorted(
                m
                for m in metrics_in(panel.expr) - PROMETHEUS_SYNTHETIC
                if not any(m in names for names in observed.sampled.values())
            )
            present = sorted(m for m in metrics_in(panel.expr) if m not in missing)
            pytest.fail(
                f"panel {panel.id} returned no data for {panel.expr!r}"
                + (f"; MISSING METRICS {missing}" if missing else "")
                + (f"; exported but no series matches the selector or window: {present}" if present else "")
            )
        time.sleep(2)
    assert all("value" in r for r in results)
