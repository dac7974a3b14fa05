"""A client of the registration API, as a provincial platform would write one.

It uses aiohttp: under concurrency httpx's connection pool costs several milliseconds of client CPU per
request here, which would make the client, not the platform, the bottleneck of demos and benchmarks.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from subsidy_runtime.auth import IntegrationRegistry, signed_headers

LOCAL_INTEGRATIONS = Path(__file__).resolve().parents[1] / "integrations.yaml"


class ApiError(Exception):
    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"HTTP {status}: {body}")
        self.status = status
        self.body = body


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body) if self.body else None


class ApiClient:
    """Signs every request with the integration's key (see subsidy_runtime.auth for the scheme)."""

    def __init__(
        self,
        base_url: str,
        integration_id: str = "sx-provincial-platform",
        *,
        timeout_s: float = 60.0,
        max_connections: int = 64,
        integrations_file: Path = LOCAL_INTEGRATIONS,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.integration_id = integration_id
        integration = next(i for i in IntegrationRegistry.from_file(integrations_file) if i.id == integration_id)
        self.key_id = integration.key_id
        self._secret = integration.secret
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._max_connections),
                timeout=self._timeout,
                json_serialize=lambda v: orjson.dumps(v).decode(),
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def request(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> Response:
        """Send one request; connection failures are retried, which is safe: reads are idempotent, and writes
        carry an Idempotency-Key or a natural key (ID number, credit code) the server de-duplicates on."""
        data = orjson.dumps(body) if body is not None else None
        for attempt in range(4):
            # A fresh nonce and timestamp per attempt: a retried request is a new request to the server.
            h = {
                **signed_headers(self.key_id, self._secret, method, path, data or b"", nonce=secrets.token_urlsafe(16)),
                **(headers or {}),
            }
            if data is not None:
                h["Content-Type"] = "application/json"
            try:
                async with self._http().request(method, self.base_url + path, data=data, headers=h) as r:
                    return Response(r.status, dict(r.headers), await r.read())
            except (TimeoutError, aiohttp.ClientConnectionError):
                if attempt == 3:
                    raise
                await asyncio.sleep(0.2 * 2**attempt)
        raise AssertionError("unreachable")

    async def call(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
        response = await self.request(method, path, body, headers)
        if response.status >= 400:
            raise ApiError(response.status, response.json())
        return response.json()


class RegistrationClient(ApiClient):
    async def register_person(self, **fields: Any) -> Any:
        return await self.call("POST", "/v1/persons", fields)

    async def register_enterprise(self, **fields: Any) -> Any:
        return await self.call("POST", "/v1/enterprises", fields)

    async def register_account(self, **fields: Any) -> Any:
        return await self.call("POST", "/v1/payee-accounts", fields)

    async def submit_application(
        self, body: dict[str, Any], idempotency_key: str | None = None, correlation_id: str | None = None
    ) -> Any:
        headers = {"Idempotency-Key": idempotency_key or uuid.uuid4().hex}
        if correlation_id:
            headers["X-Correlation-ID"] = correlation_id
        return await self.call("POST", "/v1/applications", body, headers)

    async def get_application(self, application_id: str) -> Any:
        return await self.call("GET", f"/v1/applications/{application_id}")
