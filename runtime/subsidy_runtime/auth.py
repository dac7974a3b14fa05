"""Authentication of integrations: API key with HMAC-SHA256 request signing.

Why HMAC signing rather than mutual TLS: provincial and city platforms reach us through their own gateways
and proxies that terminate TLS, so a client certificate would not survive to the service; a signature over
the request travels with it, binds the body, and lets every replica verify it with no shared session.

The client sends:
    X-Api-Key:    the key id of its integration
    X-Timestamp:  Unix time in seconds
    X-Nonce:      a random string used once (8–64 characters of [A-Za-z0-9_-])
    X-Signature:  base64( HMAC-SHA256( secret, canonical ) )
    canonical = METHOD \\n PATH[?QUERY] \\n TIMESTAMP \\n NONCE \\n hex(SHA-256(body))

A request is refused when the key is unknown, the signature does not match, the timestamp is more than
five minutes away from the server's clock, or the nonce was already used by that integration within the
window (nonces are kept in the service's own schema for the window, so every replica sees them).

Integrations (key id, secret, jurisdiction, rate limit) come from a YAML file named by the
INTEGRATIONS_FILE setting; secrets never live in the database or the logs.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml
from fastapi import Request, Security
from fastapi.security import APIKeyHeader

from .db import Connection
from .problems import Problem

WINDOW_S = 300
NONCE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


@dataclass(frozen=True)
class Integration:
    id: str
    key_id: str
    secret: str
    jurisdiction: str  # region prefix it may see: "43" a province, "4301" a city, "430102" a county
    name: str = ""
    requests_per_second: float = 200.0
    burst: int = 400
    roles: tuple[str, ...] = ("integration",)

    def covers(self, region_code: str | None) -> bool:
        return region_code is not None and region_code.startswith(self.jurisdiction)


class AuthError(Exception):
    def __init__(self, status: int, reason_en: str, reason_zh: str) -> None:
        super().__init__(reason_en)
        self.status = status
        self.reason_en = reason_en
        self.reason_zh = reason_zh


class IntegrationRegistry:
    def __init__(self, integrations: list[Integration]) -> None:
        self._by_key = {i.key_id: i for i in integrations}
        if len(self._by_key) != len(integrations):
            raise ValueError("two integrations share a key id")

    @classmethod
    def from_file(cls, path: str | Path) -> IntegrationRegistry:
        doc = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        return cls(
            [
                Integration(
                    id=str(i["id"]),
                    key_id=str(i["key_id"]),
                    secret=str(i["secret"]),
                    jurisdiction=str(i["jurisdiction"]),
                    name=str(i.get("name", "")),
                    requests_per_second=float(i.get("requests_per_second", 200)),
                    burst=int(i.get("burst", 400)),
                    roles=tuple(i.get("roles", ["integration"])),
                )
                for i in doc.get("integrations", [])
            ]
        )

    def by_key(self, key_id: str) -> Integration | None:
        return self._by_key.get(key_id)

    def __iter__(self) -> Iterator[Integration]:
        return iter(self._by_key.values())


def canonical_string(method: str, path_and_query: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    return "\n".join([method.upper(), path_and_query, timestamp, nonce, hashlib.sha256(body).hexdigest()]).encode()


def sign(secret: str, method: str, path_and_query: str, timestamp: str, nonce: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), canonical_string(method, path_and_query, timestamp, nonce, body), hashlib.sha256)
    return base64.b64encode(digest.digest()).decode()


def signed_headers(
    key_id: str, secret: str, method: str, path_and_query: str, body: bytes, *, nonce: str, timestamp: int | None = None
) -> dict[str, str]:
    """Headers a client adds to a request (used by the demo client, tests and documentation)."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    return {
        "X-Api-Key": key_id,
        "X-Timestamp": ts,
        "X-Nonce": nonce,
        "X-Signature": sign(secret, method, path_and_query, ts, nonce, body),
    }


def verify(
    registry: IntegrationRegistry,
    *,
    method: str,
    path_and_query: str,
    body: bytes,
    key_id: str | None,
    timestamp: str | None,
    nonce: str | None,
    signature: str | None,
    now: float | None = None,
) -> Integration:
    """The calling integration, or AuthError. Nonce freshness is checked separately (it needs the database)."""
    if not key_id or not timestamp or not nonce or not signature:
        raise AuthError(401, "X-Api-Key, X-Timestamp, X-Nonce and X-Signature are required", "缺少签名认证请求头")
    integration = registry.by_key(key_id)
    if integration is None:
        raise AuthError(401, "unknown API key", "未知的接入密钥")
    if not NONCE.match(nonce):
        raise AuthError(401, "X-Nonce must be 8 to 64 characters of A-Z, a-z, 0-9, _ or -", "X-Nonce 格式错误")
    try:
        ts = int(timestamp)
    except ValueError as exc:
        raise AuthError(401, "X-Timestamp must be Unix seconds", "X-Timestamp 应为 Unix 秒") from exc
    current = time.time() if now is None else now
    if abs(current - ts) > WINDOW_S:
        raise AuthError(401, "the request timestamp is outside the 5-minute window", "请求时间戳超出5分钟有效期")
    expected = sign(integration.secret, method, path_and_query, timestamp, nonce, body)
    if not hmac.compare_digest(expected, signature):
        raise AuthError(401, "the signature does not match the request", "签名与请求不符")
    return integration


async def claim_nonce(conn: Connection, integration_id: str, nonce: str, timestamp: int) -> None:
    """Record the nonce; AuthError if the integration already used it within the window."""
    inserted = await conn.fetchval(
        """WITH gone AS (DELETE FROM request_nonces WHERE seen_at < now() - make_interval(secs => $3 * 2))
           INSERT INTO request_nonces (integration_id, nonce, request_ts) VALUES ($1, $2, to_timestamp($4))
           ON CONFLICT DO NOTHING RETURNING true""",
        integration_id,
        nonce,
        WINDOW_S,
        timestamp,
    )
    if not inserted:
        raise AuthError(401, "this nonce was already used: the request is a replay", "该请求已处理过（重放）")


class RateLimiter:
    """Token bucket per integration, per process: with N replicas the platform-wide limit is N times this."""

    def __init__(self) -> None:
        self._buckets: dict[str, tuple[float, float]] = {}

    def allow(self, integration: Integration, now: float | None = None) -> bool:
        current = time.monotonic() if now is None else now
        tokens, last = self._buckets.get(integration.id, (float(integration.burst), current))
        tokens = min(float(integration.burst), tokens + (current - last) * integration.requests_per_second)
        if tokens < 1.0:
            self._buckets[integration.id] = (tokens, current)
            return False
        self._buckets[integration.id] = (tokens - 1.0, current)
        return True


# ------------------------------------------------------------------------------------------ FastAPI glue
# The four headers, declared as security schemes so that the OpenAPI documents say how to authenticate.
API_KEY = APIKeyHeader(
    name="X-Api-Key", scheme_name="ApiKey", auto_error=False, description="Key id of the calling integration."
)
TIMESTAMP = APIKeyHeader(
    name="X-Timestamp",
    scheme_name="Timestamp",
    auto_error=False,
    description="Unix time in seconds; at most 5 minutes from the server's clock.",
)
NONCE_HEADER = APIKeyHeader(
    name="X-Nonce",
    scheme_name="Nonce",
    auto_error=False,
    description="8–64 characters [A-Za-z0-9_-], never reused by the integration.",
)
SIGNATURE = APIKeyHeader(
    name="X-Signature",
    scheme_name="Signature",
    auto_error=False,
    description="base64(HMAC-SHA256(secret, METHOD\\nPATH[?QUERY]\\nTIMESTAMP\\nNONCE\\nhex(SHA-256(body)))).",
)


def requires(*roles: str) -> Callable[..., Awaitable[Integration]]:
    """FastAPI dependency: the signed-in integration, which must hold one of `roles`."""

    async def dependency(
        request: Request,
        _key: str | None = Security(API_KEY),
        _ts: str | None = Security(TIMESTAMP),
        _nonce: str | None = Security(NONCE_HEADER),
        _signature: str | None = Security(SIGNATURE),
    ) -> Integration:
        runtime = request.app.state.runtime
        registry: IntegrationRegistry | None = runtime.integrations
        if registry is None:
            raise Problem(
                503,
                "auth-not-configured",
                "Authentication not configured",
                "INTEGRATIONS_FILE is not set: the API refuses every request",
                "未配置接入方认证",
            )
        query = request.scope.get("query_string", b"").decode("latin-1")
        path = request.url.path + (f"?{query}" if query else "")
        headers = request.headers
        try:
            integration = verify(
                registry,
                method=request.method,
                path_and_query=path,
                body=await request.body(),
                key_id=headers.get("x-api-key"),
                timestamp=headers.get("x-timestamp"),
                nonce=headers.get("x-nonce"),
                signature=headers.get("x-signature"),
            )
            if roles and not set(roles) & set(integration.roles):
                raise AuthError(403, f"this endpoint needs one of the roles {', '.join(roles)}", "无权访问该接口")
            if not runtime.rate_limiter.allow(integration):
                raise Problem(
                    429,
                    "rate-limited",
                    "Too many requests",
                    f"integration {integration.id} exceeded {integration.requests_per_second:g} requests/s",
                    "请求过于频繁",
                    headers={"Retry-After": "1"},
                )
            async with runtime.pool.acquire() as conn:
                await claim_nonce(conn, integration.id, headers["x-nonce"], int(headers["x-timestamp"]))
        except AuthError as exc:
            slug = "unauthenticated" if exc.status == 401 else "forbidden"
            title = "Authentication failed" if exc.status == 401 else "Forbidden"
            raise Problem(
                exc.status,
                slug,
                title,
                exc.reason_en,
                exc.reason_zh,
                headers={"WWW-Authenticate": 'HMAC-SHA256 realm="subsidy"'} if exc.status == 401 else None,
            ) from exc
        request.state.integration = integration
        return integration

    return dependency
