"""schemathesis against the running registration service and its committed OpenAPI document: generated
requests (valid and invalid), signed like a real integration's; no 5xx, and every response conforms to the
document (status code, content type, body schema). At least 1,000 requests are made."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from subsidy_runtime.auth import IntegrationRegistry, signed_headers
from tests.conftest import Stack

pytestmark = [pytest.mark.e2e]
ROOT = Path(__file__).resolve().parents[2]
SCHEMA = schemathesis.openapi.from_path(ROOT / "docs" / "openapi" / "registration.json")
INTEGRATION = next(
    i
    for i in IntegrationRegistry.from_file(ROOT / "deploy" / "local" / "integrations.yaml")
    if i.id == "sx-provincial-platform"
)
SENT = {"requests": 0}
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


class SignedIntegration(requests.auth.AuthBase):
    """Signs the prepared request (final method, path, query and body bytes), as a provincial platform would."""

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        body: Any = r.body or b""
        if isinstance(body, str):
            body = body.encode()
        assert r.method is not None
        r.headers.update(
            signed_headers(
                INTEGRATION.key_id, INTEGRATION.secret, r.method, r.path_url, body, nonce=secrets.token_urlsafe(16)
            )
        )
        SENT["requests"] += 1
        return r


@pytest.fixture(scope="module")
def session() -> requests.Session:
    s = requests.Session()
    s.auth = SignedIntegration()
    return s


@SCHEMA.parametrize()
@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_generated_requests_get_conforming_answers(
    case: schemathesis.Case[Any], platform: Stack, session: requests.Session
) -> None:
    response = case.call(base_url=platform.url("registration"), session=session)
    case.validate_response(response, checks=CHECKS)


def test_at_least_a_thousand_requests_were_made() -> None:
    assert SENT["requests"] >= 1000, SENT
