"""A small client of the registration API, as a provincial platform would write one."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx


class ApiError(Exception):
    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"HTTP {status}: {body}")
        self.status = status
        self.body = body


class RegistrationClient:
    def __init__(self, base_url: str, integration_id: str = "sx-provincial-platform", *, timeout_s: float = 30.0,
                 max_connections: int = 64) -> None:
        self.integration_id = integration_id
        self._http = httpx.AsyncClient(
            base_url=base_url, timeout=timeout_s,
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
        )

    async def close(self) -> None:
        await self._http.aclose()

    async def request(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> httpx.Response:
        """Send one request; connection failures are retried, which is safe: reads are idempotent, and writes
        carry an Idempotency-Key or a natural key (ID number, credit code) the server de-duplicates on."""
        h = {"X-Integration-Id": self.integration_id, **(headers or {})}
        for attempt in range(4):
            try:
                return await self._http.request(method, path, json=body, headers=h)
            except (httpx.ReadError, httpx.RemoteProtocolError, httpx.ConnectError):
                if attempt == 3:
                    raise
                await asyncio.sleep(0.2 * 2**attempt)
        raise AssertionError("unreachable")

    async def call(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
        response = await self.request(method, path, body, headers)
        if response.status_code >= 400:
            raise ApiError(response.status_code, response.json() if response.content else None)
        return response.json()

    async def register_person(self, **fields: Any) -> Any:
        return await self.call("POST", "/v1/persons", fields)

    async def register_enterprise(self, **fields: Any) -> Any:
        return await self.call("POST", "/v1/enterprises", fields)

    async def register_account(self, **fields: Any) -> Any:
        return await self.call("POST", "/v1/payee-accounts", fields)

    async def submit_application(self, body: dict[str, Any], idempotency_key: str | None = None,
                                 correlation_id: str | None = None) -> Any:
        headers = {"Idempotency-Key": idempotency_key or uuid.uuid4().hex}
        if correlation_id:
            headers["X-Correlation-ID"] = correlation_id
        return await self.call("POST", "/v1/applications", body, headers)

    async def get_application(self, application_id: str) -> Any:
        return await self.call("GET", f"/v1/applications/{application_id}")
