"""Acceptance 2 of issue 3: the HTTP dry run (`POST /v1/evaluate` on the running eligibility service, signed with
the auditor key of deploy/local/integrations.yaml) and the command line (`eligibility evaluate`) give identical
decisions for the same inputs: several programmes, eligible, ineligible and needs-review outcomes."""

from __future__ import annotations

import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from eligibility import casebook
from subsidy_runtime.auth import IntegrationRegistry, signed_headers
from tests.conftest import Stack

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
REGISTRY = IntegrationRegistry.from_file(ROOT / "deploy" / "local" / "integrations.yaml")
AUDITOR = next(i for i in REGISTRY if i.id == "audit-office")
PROGRAMMES = (
    "hn.one-off-hiring-subsidy",
    "hn.unemployment-assistance",
    "hn.job-retention-refund",
    "hn.public-welfare-post",
    "sx.internship-subsidy",
    "talent.skilled-worker-title",
)


def _inputs() -> dict[str, list[dict[str, Any]]]:
    """The casebook inputs of each programme (resolved ids), as an outside auditor would send them."""
    out: dict[str, list[dict[str, Any]]] = {p: [] for p in PROGRAMMES}
    for path in casebook.bundled_paths():
        for case in casebook.load(path):
            if case.programme_id in out:
                out[case.programme_id].append(case.data.model_dump(mode="json", exclude_none=True))
    return out


async def _dry_run(stack: Stack, programme: str, body: dict[str, Any]) -> dict[str, Any]:
    path = f"/v1/evaluate?programme_id={programme}"
    payload = orjson.dumps(body)
    headers = {"Content-Type": "application/json"}
    headers.update(
        signed_headers(AUDITOR.key_id, AUDITOR.secret, "POST", path, payload, nonce=secrets.token_urlsafe(16))
    )
    async with (
        aiohttp.ClientSession() as session,
        session.post(stack.url("eligibility") + path, data=payload, headers=headers) as response,
    ):
        text = await response.read()
        assert response.status == 200, text
        document: dict[str, Any] = orjson.loads(text)
        return document


def _cli(programme: str, bodies: list[dict[str, Any]], tmp_path: Path) -> list[dict[str, Any]]:
    source = tmp_path / f"{programme}.jsonl"
    source.write_bytes(b"\n".join(orjson.dumps(b) for b in bodies) + b"\n")
    done = subprocess.run(
        [sys.executable, "-m", "eligibility.cli", "evaluate", "--programme", programme, str(source)],
        capture_output=True,
        check=True,
        timeout=120,
        cwd=ROOT,
    )
    return [orjson.loads(line) for line in done.stdout.splitlines() if line.strip()]


async def test_dry_run_and_command_line_give_identical_decisions(platform: Stack, tmp_path: Path) -> None:
    outcomes: set[str] = set()
    compared = 0
    for programme, bodies in _inputs().items():
        assert bodies, programme
        from_cli = _cli(programme, bodies, tmp_path)
        assert len(from_cli) == len(bodies)
        for body, cli_document in zip(bodies, from_cli, strict=True):
            http_document = await _dry_run(platform, programme, body)
            assert http_document == cli_document, (programme, body)
            outcomes.add(http_document["outcome"])
            compared += 1
    assert {"eligible", "ineligible", "needs_review"} <= outcomes
    assert compared >= 60


async def test_a_changed_input_changes_both(platform: Stack, tmp_path: Path) -> None:
    """The comparison can fail: the same input with one fact removed gives another decision on both sides."""
    body = _inputs()["hn.unemployment-assistance"][0]
    stripped = {**body, "facts": []}
    full = await _dry_run(platform, "hn.unemployment-assistance", body)
    empty = await _dry_run(platform, "hn.unemployment-assistance", stripped)
    assert full["outcome"] == "eligible"
    assert empty["outcome"] == "ineligible"
    assert _cli("hn.unemployment-assistance", [stripped], tmp_path) == [empty]
