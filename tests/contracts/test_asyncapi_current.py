"""The AsyncAPI documents committed under docs/asyncapi: current, and saying what each service reads and writes.

Each service's document is rebuilt by docs/tools/generate.py, which imports `<service>.app` in its own
interpreter (a service reads its settings from the environment at import; nothing connects). When a test here
fails after an intentional change to a service's consumers or publishers, run `python docs/tools/generate.py`.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from subsidy_contracts import schemas
from subsidy_contracts.topics import (
    ALL_TOPICS,
    APPLICATIONS,
    DECISIONS,
    MESSAGES,
    PAYEE_ACCOUNTS,
    PAYMENTS,
    SERVICES,
    Topic,
)

ROOT = Path(__file__).resolve().parents[2]
GENERATOR = ROOT / "docs" / "tools" / "generate.py"
ASYNCAPI = ROOT / "docs" / "asyncapi"


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("docs_tools_generate", GENERATOR)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


generate = _load_generator()

# (topics it consumes, topics it publishes): at least these; the registry is the source of the names.
EXPECTED: dict[str, tuple[tuple[Topic, ...], tuple[Topic, ...]]] = {
    "registration": ((DECISIONS, PAYMENTS, MESSAGES), (APPLICATIONS, PAYEE_ACCOUNTS)),
    "eligibility": ((APPLICATIONS,), (DECISIONS,)),
    "payments": ((DECISIONS, PAYEE_ACCOUNTS), (PAYMENTS,)),
    "notifications": ((APPLICATIONS, DECISIONS), (MESSAGES,)),
}
EVENT_NAMES = {cls.__name__: cls for t in ALL_TOPICS for cls in t.events}


@pytest.fixture(scope="module")
def generated() -> dict[str, str]:
    """Each service's document, freshly built (the four interpreters run in parallel)."""
    files: dict[str, str] = generate.asyncapi_files()
    return files


def _committed(service: str) -> dict[str, Any]:
    path = ASYNCAPI / f"{service}.json"
    assert path.is_file(), f"docs/asyncapi/{service}.json is missing: run `python docs/tools/generate.py`"
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document


def test_every_service_has_an_expectation() -> None:
    assert set(EXPECTED) == set(SERVICES)


@pytest.mark.parametrize("service", SERVICES)
def test_committed_document_is_current(service: str, generated: dict[str, str]) -> None:
    rel = f"asyncapi/{service}.json"
    path = ROOT / "docs" / rel
    assert path.is_file(), f"docs/{rel} is missing: run `python docs/tools/generate.py` and commit it"
    if path.read_text(encoding="utf-8") != generated[rel]:
        pytest.fail(
            f"docs/{rel} is not what {service}.app:stream_app documents now: run `python docs/tools/generate.py` "
            "and commit the result (after checking the change to its subscriptions and publications is intended)",
            pytrace=False,
        )


def test_generation_is_deterministic(generated: dict[str, str]) -> None:
    again = generate.asyncapi_document("payments")
    assert again == generated["asyncapi/payments.json"]
    for text in generated.values():
        assert schemas.render_json(json.loads(text)) == text


def test_only_service_documents_are_committed() -> None:
    assert sorted(p.name for p in ASYNCAPI.glob("*.json")) == sorted(f"{s}.json" for s in SERVICES)


def _deref(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def _operations(document: dict[str, Any], action: str) -> dict[str, list[dict[str, Any]]]:
    """Topic address → the payload schemas of the operations with this action (send or receive)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for operation in document["operations"].values():
        if operation["action"] != action:
            continue
        channel = _deref(document, operation["channel"])
        for message in operation["messages"]:
            payload = _deref(document, _deref(document, message)["payload"])
            out.setdefault(channel["address"], []).append(payload)
    return out


def _event_names(document: dict[str, Any], payload: dict[str, Any]) -> set[str]:
    """The contract classes a payload schema names: one event, a discriminated union of them, or an array."""
    if payload.get("type") == "array":
        payload = payload["items"]  # a $ref to one event, or an inline union
    members = payload.get("oneOf") or payload.get("anyOf") or [payload]
    names = set()
    for member in members:
        target = _deref(document, member)
        names.add(member["$ref"].rsplit("/", 1)[-1] if "$ref" in member else target.get("title", "?"))
    return names


@pytest.mark.parametrize("service", SERVICES)
def test_document_lists_what_the_service_consumes_and_publishes(service: str) -> None:
    document = _committed(service)
    assert document["asyncapi"].startswith("3.")
    consumes, publishes = EXPECTED[service]
    received = _operations(document, "receive")
    sent = _operations(document, "send")
    for topic in consumes:
        assert topic.name in received, f"{service} should subscribe to {topic.name}; documents {sorted(received)}"
        for payload in received[topic.name]:
            assert payload.get("type") == "array", "consumers are batch subscribers: a list of events"
            names = _event_names(document, payload)
            assert names, topic.name
            assert names <= {e.__name__ for e in topic.events}, (topic.name, names)
    for topic in publishes:
        assert topic.name in sent, f"{service} should publish to {topic.name}; documents {sorted(sent)}"
        for payload in sent[topic.name]:
            assert _event_names(document, payload) == {e.__name__ for e in topic.events}, topic.name
    registry = {t.name for t in ALL_TOPICS}
    assert set(received) | set(sent) <= registry, "every documented topic is in the registry"


@pytest.mark.parametrize("service", SERVICES)
def test_event_schemas_agree_with_docs_events(service: str) -> None:
    """The AsyncAPI components of the contracts have the same fields as docs/events (one source, two views)."""
    document = _committed(service)
    event_files = schemas.event_schemas()
    components = document["components"]["schemas"]
    seen = 0
    for name, cls in EVENT_NAMES.items():
        if name not in components:
            continue
        seen += 1
        expected = event_files[schemas.schema_file_name(cls.type_name(), cls.version())]
        assert set(components[name]["properties"]) == set(expected["properties"]), name
        assert set(components[name].get("required", ())) == set(expected.get("required", ())), name
    assert seen, f"no contract event in docs/asyncapi/{service}.json"


def test_check_cli_reports_and_exits_non_zero_when_not_current(tmp_path: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(GENERATOR), *args, "--docs", str(tmp_path)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    missing = run("--check", "--only", "asyncapi", "--service", "payments")
    assert missing.returncode == 1
    assert "asyncapi/payments.json: missing" in missing.stdout
    assert run("--service", "payments").returncode == 0
    assert run("--check", "--service", "payments").returncode == 0
    path = tmp_path / "asyncapi" / "payments.json"
    path.write_text(path.read_text().replace("payments.payments.v1", "payments.payments.v2"))
    stale = run("--check", "--only", "asyncapi", "--service", "payments")
    assert stale.returncode == 1
    assert "asyncapi/payments.json: out of date" in stale.stdout
