"""Regenerate the committed contract documents under docs/, or check that they are current.

    python docs/tools/generate.py            # write docs/events/*, docs/asyncapi/ and docs/openapi/<service>.json
    python docs/tools/generate.py --check    # write nothing; exit 1 and name the files that differ

docs/events comes from `subsidy_contracts.schemas` (the JSON Schema of every event, and the dead-letter record).
docs/asyncapi/<service>.json is the AsyncAPI 3.0 document FastStream builds from `<service>.app:stream_app`:
what the service subscribes to (batch subscribers: the payload is an array of events) and publishes (through
its outbox; declared with `ServiceRuntime.produces`). Each service is imported in its own interpreter, with a
fixed, minimal environment, because a service module reads its settings from the environment when imported;
nothing connects to Kafka or PostgreSQL at import time.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from subsidy_contracts import schemas
from subsidy_contracts.topics import SERVICES

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
ASYNCAPI_DIR = "asyncapi"

# What the documents may depend on, pinned so that they come out the same on every machine.
DOCS_ENV = {
    "DATABASE_URL": "postgresql://x:y@127.0.0.1:1/x",  # never connected to: only needed to build the settings
    "INSTANCE_ID": "docs",  # instead of <hostname>-<pid> in the Kafka client id
    "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9092",  # the document's `servers.development.host`
    "LOG_LEVEL": "warning",
    "PYTHONHASHSEED": "0",
    "PYTHONDONTWRITEBYTECODE": "1",
}
PASSED_THROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "PYTHONPATH", "SYSTEMROOT")

_DUMP = """
import importlib, json, sys
app = importlib.import_module(sys.argv[1] + ".app")
document = app.stream_app.schema.to_specification().to_jsonable()
sys.stdout.write(json.dumps(document, sort_keys=True))
"""


def service_env(service: str) -> dict[str, str]:
    env = {k: os.environ[k] for k in PASSED_THROUGH if k in os.environ}
    env.update(DOCS_ENV)
    env["SERVICE_NAME"] = service
    return env


def asyncapi_document(service: str, python: str = sys.executable) -> str:
    """The rendered AsyncAPI document of one service, built in a fresh interpreter."""
    done = subprocess.run(  # noqa: S603  (fixed arguments: this interpreter and a service name)
        [python, "-c", _DUMP, service],
        env=service_env(service),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"building the AsyncAPI document of {service} failed:\n{done.stderr.strip()}")
    return schemas.render_json(json.loads(done.stdout))


def asyncapi_files(services: tuple[str, ...] = SERVICES) -> dict[str, str]:
    """Path relative to docs/ → text, for each service's AsyncAPI document (built in parallel)."""
    with ThreadPoolExecutor(max_workers=len(services) or 1) as pool:
        documents = list(pool.map(asyncapi_document, services))
    return {f"{ASYNCAPI_DIR}/{service}.json": text for service, text in zip(services, documents, strict=True)}


_DUMP_OPENAPI = """
import importlib, json, sys
app = importlib.import_module(sys.argv[1] + ".app")
sys.stdout.write(json.dumps(app.app.openapi(), sort_keys=True))
"""
OPENAPI_DIR = "openapi"


def openapi_document(service: str, python: str = sys.executable) -> str:
    """The OpenAPI document FastAPI builds for one service's HTTP API, in a fresh interpreter."""
    done = subprocess.run(  # noqa: S603  (fixed arguments: this interpreter and a service name)
        [python, "-c", _DUMP_OPENAPI, service],
        env=service_env(service),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"building the OpenAPI document of {service} failed:\n{done.stderr.strip()}")
    return schemas.render_json(json.loads(done.stdout))


def openapi_files(services: tuple[str, ...] = SERVICES) -> dict[str, str]:
    with ThreadPoolExecutor(max_workers=len(services) or 1) as pool:
        documents = list(pool.map(openapi_document, services))
    return {f"{OPENAPI_DIR}/{service}.json": text for service, text in zip(services, documents, strict=True)}


def _check(docs: Path, files: dict[str, str]) -> list[str]:
    problems = []
    for rel, text in files.items():
        path = docs / rel
        if not path.is_file():
            problems.append(f"{rel}: missing")
        elif path.read_text(encoding="utf-8") != text:
            problems.append(f"{rel}: out of date")
    return problems


def _write(docs: Path, files: dict[str, str]) -> list[str]:
    changed = []
    for rel, text in files.items():
        path = docs / rel
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8", newline="\n")
            changed.append(rel)
    return changed


def check_asyncapi(docs: Path, services: tuple[str, ...] = SERVICES) -> list[str]:
    problems = []
    for rel, text in asyncapi_files(services).items():
        path = docs / rel
        if not path.is_file():
            problems.append(f"{rel}: missing")
        elif path.read_text(encoding="utf-8") != text:
            problems.append(f"{rel}: out of date")
    if services == SERVICES and (docs / ASYNCAPI_DIR).is_dir():
        expected = {f"{s}.json" for s in services}
        problems.extend(
            f"{ASYNCAPI_DIR}/{p.name}: no longer generated (not a service)"
            for p in sorted((docs / ASYNCAPI_DIR).glob("*.json"))
            if p.name not in expected
        )
    return problems


def write_asyncapi(docs: Path, services: tuple[str, ...] = SERVICES) -> list[str]:
    changed = []
    for rel, text in asyncapi_files(services).items():
        path = docs / rel
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8", newline="\n")
            changed.append(rel)
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 when a document is not current")
    parser.add_argument("--docs", type=Path, default=DOCS, help="docs directory (default: %(default)s)")
    parser.add_argument("--only", choices=("events", "asyncapi", "openapi"), help="one kind of document only")
    parser.add_argument(
        "--service",
        action="append",
        choices=SERVICES,
        help="AsyncAPI for this service only (repeatable; default: all four)",
    )
    args = parser.parse_args(argv)
    docs: Path = args.docs
    services: tuple[str, ...] = tuple(args.service or SERVICES)
    if args.check:
        problems = []
        if args.only in (None, "events"):
            problems += schemas.check(docs)
        if args.only in (None, "asyncapi"):
            problems += check_asyncapi(docs, services)
        if args.only in (None, "openapi"):
            problems += _check(docs, openapi_files(services))
        for line in problems:
            print(line)
        if problems:
            print(
                "the documents under docs/ are not current: run `python docs/tools/generate.py` "
                "(after an intentional change; BREAKING lines need a new schema version instead)"
            )
            return 1
        return 0
    changed = []
    if args.only in (None, "events"):
        changed += schemas.write(docs)
    if args.only in (None, "asyncapi"):
        changed += write_asyncapi(docs, services)
    if args.only in (None, "openapi"):
        changed += _write(docs, openapi_files(services))
    for rel in changed:
        print(f"{'wrote' if (docs / rel).exists() else 'removed'} {docs / rel}")
    if not changed:
        print("docs are current")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
