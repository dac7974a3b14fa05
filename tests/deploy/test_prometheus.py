"""Prometheus configuration and alert rules, checked by promtool (Debian's prometheus package).

promtool is installed by `deploy/local/stack.sh install-prometheus` (or prometheus-up); the
tests install it the same way when it is missing. Every alert of deploy/prometheus/alerts.yml must be
exercised by deploy/prometheus/alerts.test.yml, and every alert must have a runbook section.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = ROOT / "deploy" / "prometheus"
ALERTS = PROMETHEUS_DIR / "alerts.yml"
ALERT_TESTS = PROMETHEUS_DIR / "alerts.test.yml"
LOCAL_TEMPLATE = PROMETHEUS_DIR / "prometheus.local.yml"
RUNBOOK = ROOT / "docs" / "operations.md"
STACK_SH = ROOT / "deploy" / "local" / "stack.sh"


@pytest.fixture(scope="module")
def promtool() -> str:
    if shutil.which("promtool") is None:
        subprocess.run(["bash", str(STACK_SH), "install-prometheus"], cwd=ROOT, check=True, timeout=600)
    path = shutil.which("promtool")
    assert path is not None, "promtool is not installed (Debian package prometheus)"
    return path


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=120, check=False)


def alert_names() -> list[str]:
    data = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    return [str(rule["alert"]) for group in data["groups"] for rule in group["rules"] if "alert" in rule]


def test_promtool_accepts_the_alert_rules(promtool: str) -> None:
    result = _run(promtool, "check", "rules", str(ALERTS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(alert_names())} rules found" in result.stdout


def test_promtool_rule_unit_tests_pass(promtool: str) -> None:
    result = _run(promtool, "test", "rules", str(ALERT_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_the_rule_unit_tests_fail_when_an_alert_is_broken(promtool: str, tmp_path: Path) -> None:
    """The unit tests can fail: a threshold moved far away makes the expected alerts go missing."""
    broken = ALERTS.read_text(encoding="utf-8").replace("> 86400", "> 864000")
    (tmp_path / "alerts.yml").write_text(broken, encoding="utf-8")
    shutil.copy(ALERT_TESTS, tmp_path / "alerts.test.yml")
    result = _run(promtool, "test", "rules", str(tmp_path / "alerts.test.yml"))
    assert result.returncode != 0
    assert "SubsidyReconciliationBreakOld" in result.stdout + result.stderr


def test_every_alert_fires_and_stays_silent_in_the_unit_tests() -> None:
    tests = yaml.safe_load(ALERT_TESTS.read_text(encoding="utf-8"))
    fired: set[str] = set()
    silent: set[str] = set()
    for case in tests["tests"]:
        for check in case.get("alert_rule_test") or []:
            (fired if check.get("exp_alerts") else silent).add(str(check["alertname"]))
    names = set(alert_names())
    assert names - fired == set(), f"alerts never expected to fire: {sorted(names - fired)}"
    assert names - silent == set(), f"alerts never expected to stay silent: {sorted(names - silent)}"


def test_every_alert_has_a_runbook_section() -> None:
    runbook = RUNBOOK.read_text(encoding="utf-8")
    headings = {m.group(1).strip() for m in re.finditer(r"^#+\s+(.+)$", runbook, flags=re.MULTILINE)}
    data = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    for group in data["groups"]:
        for rule in group["rules"]:
            name = rule["alert"]
            assert name in headings, f"docs/operations.md has no section '{name}'"
            assert rule["annotations"]["runbook_url"] == f"docs/operations.md#{name.lower()}"


@pytest.mark.parametrize("config", ["prometheus.compose.yml", "prometheus.local.yml"])
def test_promtool_accepts_the_scrape_configs(promtool: str, tmp_path: Path, config: str) -> None:
    text = (PROMETHEUS_DIR / config).read_text(encoding="utf-8")
    # The local template is rendered as stack.sh does (ports of the developer stack).
    for name, value in {
        "STACK_NAME": "dev",
        "REGISTRATION_HTTP_PORT": "8081",
        "ELIGIBILITY_HTTP_PORT": "8082",
        "PAYMENTS_HTTP_PORT": "8083",
        "NOTIFICATIONS_HTTP_PORT": "8084",
    }.items():
        text = text.replace(f"@{name}@", value)
    assert not re.search(r"@[A-Z_]+@", text), "a placeholder of the local template is not rendered"
    (tmp_path / "prometheus.yml").write_text(text, encoding="utf-8")
    shutil.copy(ALERTS, tmp_path / "alerts.yml")
    result = _run(promtool, "check", "config", str(tmp_path / "prometheus.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 1 rule files found" in result.stdout
    jobs = [job["job_name"] for job in yaml.safe_load(text)["scrape_configs"]]
    assert jobs == ["registration", "eligibility", "payments", "notifications"]


def test_stack_sh_renders_every_placeholder_of_the_local_template() -> None:
    placeholders = set(re.findall(r"@([A-Z_]+)@", LOCAL_TEMPLATE.read_text(encoding="utf-8")))
    script = STACK_SH.read_text(encoding="utf-8")
    assert placeholders, "the local template has no port placeholders"
    for name in placeholders:
        assert f"s/@{name}@/${name}/" in script, f"stack.sh does not render @{name}@"
