"""Shared test fixtures.

Tests that need servers use the session fixtures below: `infra` starts a throwaway Kafka and PostgreSQL
(STACK_NAME=test: other ports and state folder than the developer's stack) once per run, `platform`
additionally starts the four services and the SMS-gateway simulator. Both are stopped at the end of the
run, whatever happened. Unit tests use neither.
"""

from __future__ import annotations

import atexit
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STACK_SCRIPT = ROOT / "deploy" / "local" / "stack.sh"
SERVICES = ("registration", "eligibility", "payments", "notifications")


def _stack_env(name: str) -> dict[str, str]:
    keep = ("STACK_PORT_OFFSET",)
    env = {
        k: v
        for k, v in os.environ.items()
        if k in keep or (not k.endswith(("_PORT", "_DATABASE_URL")) and k not in ("STATE_DIR", "ADMIN_DATABASE_URL"))
    }
    env["STACK_NAME"] = name
    # Tests run at any hour: SMS quiet hours (22:00-08:00 Shanghai) would hold messages back overnight. They
    # are tested on a manual clock instead (tests/unit/test_notifications_policy.py, tests/e2e/test_notifications*).
    env.setdefault("SMS_QUIET_HOURS", "off")
    out = subprocess.run(
        ["bash", "-c", f"source {STACK_SCRIPT.parent / 'env.sh'} && env -0"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return dict(item.split("=", 1) for item in out.split("\0") if "=" in item)


@dataclass
class Stack:
    env: dict[str, str]

    @property
    def state_dir(self) -> Path:
        return Path(self.env["STATE_DIR"])

    @property
    def admin_dsn(self) -> str:
        return self.env["ADMIN_DATABASE_URL"]

    @property
    def bootstrap(self) -> str:
        return self.env["KAFKA_BOOTSTRAP_SERVERS"]

    def dsn(self, role: str) -> str:
        return f"postgresql://{role}:{role}_local@127.0.0.1:{self.env['PG_PORT']}/{self.env['PG_DATABASE']}"

    def url(self, service: str) -> str:
        port = self.env[f"{service.upper().replace('-', '_')}_{'PORT' if service == 'sms-gateway' else 'HTTP_PORT'}"]
        return f"http://127.0.0.1:{port}"

    def run(self, *args: str, timeout: float = 600) -> None:
        subprocess.run(["bash", str(STACK_SCRIPT), *args], env=self.env, cwd=ROOT, check=True, timeout=timeout)

    def pid(self, name: str) -> int | None:
        path = self.state_dir / "pids" / f"{name}.pid"
        if not path.exists():
            return None
        pid = int(path.read_text().strip())
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        return pid

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        pid = self.pid(name)
        assert pid is not None, f"{name} is not running"
        os.killpg(pid, sig)
        deadline = time.monotonic() + 30
        while self.pid(name) is not None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert self.pid(name) is None, f"{name} survived signal {sig}"

    def start_services(self) -> None:
        self.run("services-up")


def _stop(stack: Stack) -> None:
    subprocess.run(["bash", str(STACK_SCRIPT), "down"], env=stack.env, cwd=ROOT, check=False, timeout=180)


@pytest.fixture(scope="session")
def infra() -> Iterator[Stack]:
    stack = Stack(_stack_env(os.environ.get("STACK_NAME", "test")))
    # A fresh cluster and broker every run (a run that was killed may also have left processes behind).
    subprocess.run(["bash", str(STACK_SCRIPT), "wipe"], env=stack.env, cwd=ROOT, check=True, timeout=180)
    atexit.register(_stop, stack)
    try:
        stack.run("infra-up")
        yield stack
    finally:
        _stop(stack)


@pytest.fixture(scope="session")
def platform(infra: Stack) -> Iterator[Stack]:
    infra.start_services()
    try:
        yield infra
    finally:
        infra.run("services-down")
