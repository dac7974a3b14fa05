"""SMS gateway adapter: a provider-neutral interface and its HTTP implementation.

The wire protocol (a JSON batch of messages, each with the client's message id, answered per message) is
the shape Chinese SMS providers offer for batch sends; the client message id lets the gateway refuse a
duplicate when we retry after a crash, so a handset never gets the same message twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import httpx


@dataclass(frozen=True)
class SmsMessage:
    client_msg_id: str
    mobile: str
    content: str


@dataclass(frozen=True)
class SmsResult:
    client_msg_id: str
    status: str  # accepted | duplicate | rejected
    gateway_msg_id: str | None = None
    error: str | None = None

    @property
    def delivered_to_gateway(self) -> bool:
        return self.status in ("accepted", "duplicate")


class SmsGateway(Protocol):
    async def send_batch(self, messages: list[SmsMessage]) -> list[SmsResult]: ...


class TransientGatewayError(ConnectionError):
    """The gateway could not be reached or answered 5xx/429: try again later."""


class GatewayRefusedError(ValueError):
    """The gateway refused the whole request (4xx other than 429): sending it again will not help."""


class HttpSmsGateway:
    def __init__(self, base_url: str, *, receipt_url: str | None = None, timeout_s: float = 10.0) -> None:
        self._client = httpx.AsyncClient(
            base_url=base_url, timeout=timeout_s, limits=httpx.Limits(max_connections=32, max_keepalive_connections=32)
        )
        self._receipt_url = receipt_url

    async def send_batch(self, messages: list[SmsMessage]) -> list[SmsResult]:
        body: dict[str, object] = {
            "messages": [{"client_msg_id": m.client_msg_id, "mobile": m.mobile, "content": m.content} for m in messages]
        }
        if self._receipt_url:
            body["callback_url"] = self._receipt_url  # delivery receipts (DELIVRD / UNDELIV) are posted there
        try:
            response = await self._client.post("/v1/sms/send", json=body)
        except httpx.HTTPError as exc:
            raise TransientGatewayError(f"SMS gateway unreachable: {exc!r}") from exc
        if response.status_code == 429 or response.status_code >= 500:
            raise TransientGatewayError(f"SMS gateway answered {response.status_code}")
        if response.status_code >= 400:
            raise GatewayRefusedError(f"SMS gateway refused the batch: {response.status_code} {response.text[:300]}")
        return [
            SmsResult(r["client_msg_id"], r["status"], r.get("gateway_msg_id"), r.get("error"))
            for r in response.json()["results"]
        ]

    async def close(self) -> None:
        await self._client.aclose()
