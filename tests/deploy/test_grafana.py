"""Grafana dashboards are well-formed and use the provisioned Prometheus data source (whether their queries
return data is tested against a running platform in tests/e2e/test_metrics_coverage.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = sorted((ROOT / "deploy" / "grafana" / "dashboards").glob("*.json"))
DATASOURCES = ROOT / "deploy" / "grafana" / "provisioning" / "datasources" / "prometheus.yml"
EXPECTED = {"pipeline-overview", "money", "quality"}


def _load(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_the_three_dashboards_exist_with_distinct_uids() -> None:
    assert {p.stem for p in DASHBOARDS} == EXPECTED
    uids = [_load(p)["uid"] for p in DASHBOARDS]
    assert len(set(uids)) == len(uids)


@pytest.mark.parametrize("path", DASHBOARDS, ids=[p.stem for p in DASHBOARDS])
def test_panels_query_the_provisioned_prometheus(path: Path) -> None:
    provisioned = {d["uid"] for d in yaml.safe_load(DATASOURCES.read_text(encoding="utf-8"))["datasources"]}
    dashboard = _load(path)
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(set(ids)) == len(ids), "panel ids repeat"
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] in provisioned, panel["title"]
        assert panel["targets"], f"panel {panel['title']} has no query"
        for target in panel["targets"]:
            assert target["expr"].strip(), panel["title"]
            assert target["datasource"]["uid"] in provisioned
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, f"panel {panel['title']} is wider than the dashboard"
