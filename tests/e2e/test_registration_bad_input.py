"""Bad input and bad callers get the right 4xx with a precise problem+json body, and nothing is stored."""

from __future__ import annotations

import random
import secrets
import time
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import orjson
import pytest
from stdnum import luhn

from deploy.local.demo import data
from deploy.local.demo.client import RegistrationClient
from subsidy_runtime.auth import IntegrationRegistry, signed_headers
from tests.conftest import Stack

pytestmark = [pytest.mark.e2e]
ROOT = Path(__file__).resolve().parents[2]
REGISTRY = IntegrationRegistry.from_file(ROOT / "deploy" / "local" / "integrations.yaml")
SX = next(i for i in REGISTRY if i.id == "sx-provincial-platform")
TABLES = ("persons", "enterprises", "payee_accounts", "facts", "applications", "attachments", "audit_log")


async def _counts(stack: Stack) -> dict[str, int]:
    conn = await asyncpg.connect(stack.admin_dsn)
    try:
        return {t: await conn.fetchval(f"SELECT count(*) FROM registration.{t}") for t in TABLES}
    finally:
        await conn.close()


async def _send(
    stack: Stack,
    method: str,
    path: str,
    body: Any = None,
    *,
    raw: bytes | None = None,
    headers: dict[str, str] | None = None,
    sign: bool = True,
    key: Any = SX,
    timestamp: int | None = None,
    nonce: str | None = None,
) -> tuple[int, dict[str, str], dict[str, Any]]:
    payload = raw if raw is not None else (orjson.dumps(body) if body is not None else b"")
    h = {"Content-Type": "application/json"}
    if sign:
        h.update(
            signed_headers(
                key.key_id,
                key.secret,
                method,
                path,
                payload,
                nonce=nonce or secrets.token_urlsafe(16),
                timestamp=timestamp,
            )
        )
    h.update(headers or {})
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, stack.url("registration") + path, data=payload, headers=h) as response,
    ):
        text = await response.read()
        return response.status, dict(response.headers), orjson.loads(text) if text else {}


def _assert_problem(status: int, headers: dict[str, str], body: dict[str, Any], expected: int, slug: str) -> None:
    assert status == expected, body
    assert headers["Content-Type"].startswith("application/problem+json")
    assert body["status"] == expected
    assert body["type"].endswith("/" + slug), body["type"]
    assert body["title"]
    assert body["detail"]
    assert body["detail_zh"]


def _person(**overrides: Any) -> dict[str, Any]:
    rng = random.Random()
    person = data.intern(rng)
    return {
        "id_number": person.id_number,
        "name": person.name,
        "region_code": person.region_code,
        "mobile": person.mobile,
        **overrides,
    }


@pytest.fixture
async def unchanged(platform: Stack) -> AsyncIterator[None]:
    """Wraps a test whose requests must all be refused: no table gains a row."""
    before = await _counts(platform)
    yield
    assert await _counts(platform) == before


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        ({"id_number": "14010520000101123X"}, "id_number", "check digit"),
        ({"id_number": "1401052000010112"}, "id_number", "18 characters"),
        ({"region_code": "140102"}, "region_code", "no longer in use"),
        ({"region_code": "990000"}, "region_code", "does not exist"),
        ({"mobile": "12345678901"}, "mobile", "mobile number"),
        ({"birth_date": "1990-01-01"}, "birth_date", "does not match"),
        ({"name": 42}, "name", "string"),
        ({"nickname": "小王"}, "nickname", "Extra inputs are not permitted"),
    ],
)
async def test_invalid_person_fields_are_named_with_the_reason(
    platform: Stack, unchanged: None, body: dict[str, Any], field: str, reason: str
) -> None:
    status, headers, problem = await _send(platform, "POST", "/v1/persons", _person(**body))
    _assert_problem(status, headers, problem, 422, "validation")
    errors = {e["field"]: e for e in problem["errors"]}
    assert field in errors, problem
    assert reason in errors[field]["reason"]
    assert errors[field]["reason_zh"]


async def test_wrong_credit_code_and_card_check_digits(platform: Stack, unchanged: None) -> None:
    status, headers, problem = await _send(
        platform,
        "POST",
        "/v1/enterprises",
        {
            "credit_code": "91140105MA0K12345X",
            "name": "示例",
            "region_code": "140105",
            "size": "small",
            "contact_name": "王",
            "contact_mobile": "13812345678",
        },
    )
    _assert_problem(status, headers, problem, 422, "validation")
    assert problem["errors"][0]["field"] == "credit_code"
    assert "GB 32100" in problem["errors"][0]["reason"]
    card = "621700123456789012" + str((int(luhn.calc_check_digit("621700123456789012")) + 1) % 10)
    status, headers, problem = await _send(
        platform,
        "POST",
        "/v1/payee-accounts",
        {
            "owner_id": "00000000-0000-4000-8000-000000000001",
            "kind": "social_security_card",
            "account_number": card,
            "holder_name": "王",
            "bank_code": "102161000017",
            "bank_name": "工行",
        },
    )
    _assert_problem(status, headers, problem, 422, "validation")
    assert problem["errors"][0]["field"] == "account_number"
    assert "Luhn" in problem["errors"][0]["reason"]


async def test_malformed_json_and_oversized_bodies(platform: Stack, unchanged: None) -> None:
    status, headers, problem = await _send(platform, "POST", "/v1/persons", raw=b'{"id_number": ')
    _assert_problem(status, headers, problem, 422, "validation")
    assert problem["errors"][0]["code"] == "json_invalid"
    big = orjson.dumps({**_person(), "name": "王" * 600_000})
    status, headers, problem = await _send(platform, "POST", "/v1/persons", raw=big)
    _assert_problem(status, headers, problem, 413, "payload-too-large")


async def test_nul_characters_are_refused_with_the_field(platform: Stack, unchanged: None) -> None:
    # PostgreSQL text cannot hold NUL: found by schemathesis as a 500 on a list filter.
    status, headers, problem = await _send(platform, "GET", "/v1/applications?programme_id=a%00b&status=")
    _assert_problem(status, headers, problem, 422, "validation")
    assert problem["errors"][0]["field"] == "programme_id"
    status, headers, problem = await _send(platform, "POST", "/v1/persons", _person(name="王\u0000五"))
    _assert_problem(status, headers, problem, 422, "validation")
    assert problem["errors"][0]["code"] == "nul_character"


async def test_signature_problems_are_refused(platform: Stack, unchanged: None) -> None:
    body = _person()
    status, headers, problem = await _send(platform, "POST", "/v1/persons", body, sign=False)
    _assert_problem(status, headers, problem, 401, "unauthenticated")
    assert "X-Signature" in problem["detail"]
    assert headers["WWW-Authenticate"].startswith("HMAC-SHA256")
    status, headers, problem = await _send(platform, "POST", "/v1/persons", body, headers={"X-Signature": "AAAA"})
    _assert_problem(status, headers, problem, 401, "unauthenticated")
    assert "does not match" in problem["detail"]
    status, headers, problem = await _send(platform, "POST", "/v1/persons", body, timestamp=int(time.time()) - 301)
    _assert_problem(status, headers, problem, 401, "unauthenticated")
    assert "5-minute window" in problem["detail"]
    status, headers, problem = await _send(platform, "POST", "/v1/persons", body, headers={"X-Api-Key": "nobody"})
    _assert_problem(status, headers, problem, 401, "unauthenticated")
    assert "unknown API key" in problem["detail"]
    # A tampered body keeps the signature of the original: refused.
    tampered = orjson.dumps({**body, "name": "李四"})
    h = signed_headers(SX.key_id, SX.secret, "POST", "/v1/persons", orjson.dumps(body), nonce=secrets.token_urlsafe(16))
    status, headers, problem = await _send(
        platform, "POST", "/v1/persons", raw=tampered, sign=False, headers={**h, "Content-Type": "application/json"}
    )
    _assert_problem(status, headers, problem, 401, "unauthenticated")


async def test_a_replayed_request_is_refused(platform: Stack) -> None:
    body = _person()
    nonce = secrets.token_urlsafe(16)
    stamp = int(time.time())
    first = await _send(platform, "POST", "/v1/persons", body, nonce=nonce, timestamp=stamp)
    assert first[0] == 201
    before = await _counts(platform)
    status, headers, problem = await _send(platform, "POST", "/v1/persons", body, nonce=nonce, timestamp=stamp)
    _assert_problem(status, headers, problem, 401, "unauthenticated")
    assert "replay" in problem["detail"]
    assert await _counts(platform) == before


async def test_another_integrations_records_and_other_jurisdictions_are_invisible(platform: Stack) -> None:
    changsha = RegistrationClient(platform.url("registration"), "changsha-city")
    taiyuan = RegistrationClient(platform.url("registration"), "taiyuan-city")
    try:
        rng = random.Random()
        hn_region = "430102"
        birth = date(1995, 5, 5)
        ident = data.resident_id(rng, hn_region, birth, female=True)
        person = await changsha.register_person(
            id_number=ident, name=data.name_for(ident), region_code=hn_region, mobile=data.mobile(rng)
        )
        before = await _counts(platform)
        # Taiyuan (Shanxi) did not register this Changsha resident and does not cover Hunan.
        response = await taiyuan.request("GET", f"/v1/persons/{person['person_id']}")
        assert response.status == 404
        problem = response.json()
        assert problem["type"].endswith("/not-found")
        # Nor may it hang facts or an account on that person.
        response = await taiyuan.request(
            "POST",
            f"/v1/persons/{person['person_id']}/facts",
            {
                "facts": [
                    {
                        "kind": "poverty_status",
                        "subject_id": person["person_id"],
                        "category": "minimum_living",
                        "since": "2020-01-01",
                    }
                ]
            },
        )
        assert response.status == 404
        card = "621700123456789012" + luhn.calc_check_digit("621700123456789012")
        response = await taiyuan.request(
            "POST",
            "/v1/payee-accounts",
            {
                "owner_id": person["person_id"],
                "kind": "social_security_card",
                "account_number": card,
                "holder_name": person["name"],
                "bank_code": "102161000017",
                "bank_name": "工行",
            },
        )
        assert response.status == 422
        assert response.json()["errors"][0]["field"] == "owner_id"
        assert await _counts(platform) == before
        # The Hunan provincial platform covers Changsha, so it may see the person.
        hunan = RegistrationClient(platform.url("registration"), "hn-provincial-platform")
        try:
            assert (await hunan.request("GET", f"/v1/persons/{person['person_id']}")).status == 200
        finally:
            await hunan.close()
    finally:
        await changsha.close()
        await taiyuan.close()


async def test_an_application_outside_the_callers_jurisdiction_is_refused(platform: Stack) -> None:
    changsha = RegistrationClient(platform.url("registration"), "changsha-city")
    try:
        rng = random.Random()
        region = "430102"
        ident = data.resident_id(rng, region, date(1998, 3, 3), female=False)
        person = await changsha.register_person(
            id_number=ident, name=data.name_for(ident), region_code=region, mobile=data.mobile(rng)
        )
        card = "621700" + str(rng.randrange(10**11, 10**12))
        card += luhn.calc_check_digit(card)
        response = await changsha.request(
            "POST",
            "/v1/payee-accounts",
            {
                "owner_id": person["person_id"],
                "kind": "social_security_card",
                "account_number": card,
                "holder_name": person["name"],
                "bank_code": "102551000015",
                "bank_name": "工行长沙分行",
            },
        )
        assert response.status == 201, response.json()
        account_id = response.json()["account_id"]
        before = await _counts(platform)
        # Changsha (4301) may not file an application to be handled in Zhuzhou (4302).
        response = await changsha.request(
            "POST",
            "/v1/applications",
            {
                "programme_id": "hn.unemployment-assistance",
                "applicant": {"kind": "person", "id": person["person_id"]},
                "payee_account_id": account_id,
                "jurisdiction": "430202",
            },
        )
        problem = response.json()
        assert response.status == 422, problem
        assert problem["errors"][0]["field"] == "jurisdiction"
        assert "outside the integration's jurisdiction" in problem["errors"][0]["reason"]
        assert await _counts(platform) == before
    finally:
        await changsha.close()


async def test_a_caseworker_key_may_not_use_the_integration_api(platform: Stack, unchanged: None) -> None:
    caseworker = next(i for i in REGISTRY if i.id == "caseworker-desk")
    status, headers, problem = await _send(platform, "POST", "/v1/persons", _person(), key=caseworker)
    _assert_problem(status, headers, problem, 403, "forbidden")
