"""The committed OpenAPI documents (docs/openapi/<service>.json) are what the services serve now."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

from subsidy_contracts.topics import SERVICES

ROOT = Path(__file__).resolve().parents[2]


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("docs_generate", ROOT / "docs" / "tools" / "generate.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["docs_generate"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def generated() -> dict[str, str]:
    files: dict[str, str] = _generator().openapi_files()
    return files


@pytest.mark.parametrize("service", SERVICES)
def test_committed_openapi_is_current(service: str, generated: dict[str, str]) -> None:
    rel = f"openapi/{service}.json"
    path = ROOT / "docs" / rel
    assert path.is_file(), f"docs/{rel} is missing: run `python docs/tools/generate.py`"
    assert path.read_text(encoding="utf-8") == generated[rel], (
        f"docs/{rel} is stale: run `python docs/tools/generate.py`"
    )


def test_every_registration_operation_requires_the_signature_and_documents_problems() -> None:
    document = json.loads((ROOT / "docs" / "openapi" / "registration.json").read_text(encoding="utf-8"))
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            schemes = {name for requirement in operation.get("security", []) for name in requirement}
            assert schemes == {"ApiKey", "Timestamp", "Nonce", "Signature"}, (method, path)
            for status in ("401", "422"):
                content = operation["responses"][status]["content"]
                assert list(content) == ["application/problem+json"], (method, path, status)
