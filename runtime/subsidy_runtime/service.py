"""ServiceRuntime: what a service is made of, wired once.

A service declares its consumers and background loops on a runtime, and gets an HTTP app with /healthz,
/readyz, /metrics and problem responses. On start the runtime opens the database pool, applies the
migrations (the runtime's plumbing tables first, then the service's), starts the Kafka broker with its
subscribers, the outbox relay and the background loops; on stop it takes them down in reverse order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qsl

import asyncpg
import orjson
from fastapi import APIRouter, FastAPI, Response
from fastapi.responses import JSONResponse
from faststream import FastStream
from faststream.kafka import KafkaBroker
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from faststream.specification import AsyncAPI
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from structlog.contextvars import bind_contextvars, clear_contextvars

from subsidy_contracts.deadletter import DeadLetter
from subsidy_contracts.envelope import Event
from subsidy_contracts.topics import FAILURE_MAX_MESSAGE_BYTES, Topic, dead_letter_topic, retry_topic

from .auth import IntegrationRegistry, RateLimiter
from .consumer import EventConsumer, Handler, RetryRouter, UncheckedArguments, event_union
from .db import create_pool
from .logging import configure_logging, get_logger
from .metrics import ServiceMetrics
from .migrations import migrate, service_migrations
from .outbox import OutboxRecord, OutboxRelay, Transaction
from .outbox import transaction as outbox_transaction
from .problems import FieldError, Problem, ProblemDetail, install_problem_handlers
from .settings import ServiceSettings

log = get_logger(__name__)
CORRELATION_HEADER = "X-Correlation-ID"


class ServiceRuntime:
    def __init__(
        self,
        settings: ServiceSettings,
        *,
        migrations_package: str,
        title: str,
        description: str,
        version: str = "1.0.0",
    ) -> None:
        self.settings = settings
        self.migrations_package = migrations_package
        self.title = title
        self.description = description
        self.version = version
        self.metrics = ServiceMetrics(settings.service_name)
        self.broker = KafkaBroker(
            settings.kafka_bootstrap_servers,
            client_id=f"{settings.service_name}-{settings.instance_id}",
            acks="all",
            enable_idempotence=settings.kafka_idempotent_producer,
            serializer=UncheckedArguments(),
            linger_ms=settings.kafka_linger_ms,
            max_batch_size=1024 * 1024,
            # a dead letter quotes the whole original record, which may be an 8 MiB intake batch
            max_request_size=FAILURE_MAX_MESSAGE_BYTES,
            graceful_timeout=30.0,
            # FastStream's own records go through the platform's JSON pipeline (see logging.py).
            logger=logging.getLogger("faststream.kafka"),
            middlewares=(KafkaPrometheusMiddleware(registry=self.metrics.registry, app_name=settings.service_name),),
        )
        self.stream_app = FastStream(
            self.broker,
            specification=AsyncAPI(title=f"{title} (events)", version=version, description=description),
        )
        self.consumers: dict[str, EventConsumer[Any]] = {}
        self._loops: list[tuple[str, Callable[[], Awaitable[None]]]] = []
        self._on_start: list[Callable[[], Awaitable[None]]] = []
        self.integrations: IntegrationRegistry | None = (
            IntegrationRegistry.from_file(settings.integrations_file) if settings.integrations_file else None
        )
        self.rate_limiter = RateLimiter()
        self._pool: asyncpg.Pool | None = None
        self._relay: OutboxRelay | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._ready = False

    # ------------------------------------------------------------------------------------- declaration
    def consumer(
        self,
        topic: Topic,
        *,
        events: Sequence[type[Event]],
        name: str,
        max_records: int | None = None,
    ) -> Callable[[Handler], Handler]:
        """Decorator: the handler receives (transaction, events) for each batch of new events."""

        def register(handler: Handler) -> Handler:
            consumer: EventConsumer[Any] = EventConsumer(
                self, name=name, topic=topic, events=events, handler=handler, max_records=max_records
            )
            consumer.subscribe(self.broker)
            self.metrics.declare_consumer(name)
            if not self.consumers:
                self._declare_failure_topics()
            self.consumers[name] = consumer
            return handler

        return register

    def _declare_failure_topics(self) -> None:
        """A consuming service also reads its retry topic and writes its retry and dead-letter topics."""
        service = self.settings.service_name
        RetryRouter(self, self.consumers).subscribe(self.broker)
        dead = dead_letter_topic(service)
        self.broker.publisher(
            dead.name, schema=DeadLetter, title=f"{service}:{dead.name}", description=dead.description
        )
        retry = retry_topic(service)
        self.broker.publisher(retry.name, title=f"{service}:{retry.name}", description=retry.description)

    def produces(self, topic: Topic) -> None:
        """Document a topic this service publishes to (through its outbox) in the AsyncAPI document."""
        events = topic.events
        schema: Any = events[0] if len(events) == 1 else event_union(events)
        self.broker.publisher(
            topic.name, schema=schema, title=f"{self.settings.service_name}:{topic.name}", description=topic.description
        )

    def loop(self, name: str) -> Callable[[Callable[[], Awaitable[None]]], Callable[[], Awaitable[None]]]:
        """Decorator: a background coroutine that runs while the service runs (restarted if it fails)."""

        def register(fn: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
            self._loops.append((name, fn))
            return fn

        return register

    def on_start(self, fn: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
        """Decorator: runs after migrations, before consumers start."""
        self._on_start.append(fn)
        return fn

    # ----------------------------------------------------------------------------------------- running
    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("the service is not started")
        return self._pool

    @property
    def relay(self) -> OutboxRelay | None:
        return self._relay

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        """A transaction whose published events are written to the outbox when it commits."""
        async with outbox_transaction(self.pool, self.settings.schema_name) as tx:
            yield tx

    async def start(self) -> None:
        s = self.settings
        configure_logging(s.service_name, s.log_level)
        self._pool = await create_pool(
            s.database_url,
            schema=s.schema_name,
            application_name=s.service_name,
            min_size=s.db_pool_min_size,
            max_size=s.db_pool_max_size,
        )
        async with self._pool.acquire() as conn:
            await migrate(conn, s.schema_name, service_migrations(self.migrations_package))
        for fn in self._on_start:
            await fn()
        self._relay = OutboxRelay(
            dsn=s.database_url,
            pool=self._pool,
            schema=s.schema_name,
            publish=self._publish_record,
            metrics=self.metrics,
            batch_size=s.outbox_batch_size,
            poll_interval_s=s.outbox_poll_interval_s,
        )
        await self.broker.start()
        self._tasks.append(asyncio.create_task(self._relay.run(), name="outbox-relay"))
        self._tasks.append(asyncio.create_task(self._supervise("outbox-backlog", self._observe_backlog)))
        for name, fn in self._loops:
            self._tasks.append(asyncio.create_task(self._supervise(name, fn), name=name))
        self._ready = True
        log.info("service started", consumers=list(self.consumers), http_port=s.http_port)

    async def stop(self) -> None:
        self._ready = False
        await self.broker.stop()  # waits for in-flight batches (graceful_timeout)
        if self._relay is not None:
            await self._relay.stop()
        for task in self._tasks:
            if task.get_name() != "outbox-relay":
                task.cancel()
        relay_tasks = [t for t in self._tasks if t.get_name() == "outbox-relay"]
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.gather(*relay_tasks, return_exceptions=True), timeout=15)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
        log.info("service stopped")

    async def _publish_record(self, record: OutboxRecord) -> Any:
        return await self.broker.publish(
            record.value.encode(),
            record.topic,
            key=record.key.encode() if record.key is not None else None,
            headers=record.headers,
            correlation_id=record.headers.get("correlation_id"),
            no_confirm=True,
        )

    async def _observe_backlog(self) -> None:
        while True:
            if self._relay is not None:
                await self._relay.observe_backlog()
            await asyncio.sleep(5)

    async def _supervise(self, name: str, fn: Callable[[], Awaitable[None]]) -> None:
        while True:
            try:
                await fn()
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.error("background loop failed; restarting", loop=name, exc_info=exc)
                await asyncio.sleep(1.0)

    async def readiness(self) -> dict[str, Any]:
        checks: dict[str, Any] = {"started": self._ready}
        try:
            async with self.pool.acquire(timeout=2) as conn:
                await conn.fetchval("SELECT 1")
            checks["database"] = True
        except Exception as exc:
            checks["database"] = f"{type(exc).__name__}"
        try:
            checks["kafka"] = bool(await asyncio.wait_for(self.broker.ping(timeout=2), timeout=3))
        except Exception as exc:
            checks["kafka"] = f"{type(exc).__name__}"
        checks["outbox_relay"] = "leader" if self._relay and self._relay.is_leader else "standby"
        return checks

    # ----------------------------------------------------------------------------------------- HTTP app
    def http_app(
        self, routers: Sequence[APIRouter] = (), *, openapi_tags: list[dict[str, Any]] | None = None
    ) -> FastAPI:
        @asynccontextmanager
        async def lifespan(_: FastAPI) -> AsyncIterator[None]:
            await self.start()
            try:
                yield
            finally:
                await self.stop()

        app = FastAPI(
            title=self.title,
            description=self.description,
            version=self.version,
            lifespan=lifespan,
            openapi_tags=openapi_tags,
        )
        install_problem_handlers(app)
        metrics = self.metrics

        app.add_middleware(BodyLimitMiddleware, max_bytes=self.settings.max_body_bytes)
        app.add_middleware(RequestContextMiddleware, service=self.settings.service_name, metrics=metrics)

        @app.get("/healthz", include_in_schema=False)
        async def healthz() -> dict[str, str]:
            return {"status": "ok"}

        @app.get("/readyz", include_in_schema=False)
        async def readyz() -> Response:
            checks = await self.readiness()
            ok = checks["started"] is True and checks["database"] is True and checks["kafka"] is True
            return Response(
                orjson.dumps({"ready": ok, "checks": checks}),
                status_code=200 if ok else 503,
                media_type="application/json",
            )

        @app.get("/metrics", include_in_schema=False)
        async def prometheus_metrics() -> Response:
            return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

        for router in routers:
            app.include_router(router, responses=PROBLEM_RESPONSES)
        _document_problems(app)
        return app


PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ProblemDetail, "description": description}
    for status, description in (
        (400, "Malformed request"),
        (401, "Missing, wrong or replayed signature"),
        (403, "The integration may not use this endpoint"),
        (404, "No such resource, or not visible to the caller"),
        (409, "Conflicts with what is stored (duplicate, changed retry)"),
        (413, "Request body too large"),
        (422, "A field breaks a rule: errors name each field with reasons in Chinese and English"),
        (429, "Rate limit of the integration exceeded"),
    )
}


def _document_problems(app: FastAPI) -> None:
    """Error responses are RFC 9457 problem+json: say so in the OpenAPI document (FastAPI writes application/json)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()
        for path in schema.get("paths", {}).values():
            for operation in path.values():
                for status, response in operation.get("responses", {}).items():
                    content = response.get("content", {})
                    if status[0] in "45" and "application/json" in content:
                        content["application/problem+json"] = content.pop("application/json")
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


class RequestContextMiddleware:
    """Pure ASGI middleware (no per-request task group): binds the correlation id to the logs, echoes it
    in the response, and records request counts and durations by route template."""

    def __init__(self, app: ASGIApp, *, service: str, metrics: ServiceMetrics) -> None:
        self.app = app
        self.service = service
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"x-correlation-id"), None)
        correlation_id = incoming if incoming and len(incoming) <= 64 else _new_correlation_id()
        clear_contextvars()
        bind_contextvars(service=self.service, correlation_id=correlation_id)
        scope.setdefault("state", {})["correlation_id"] = correlation_id
        started = time.perf_counter()
        status = 500

        async def send_with_header(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = MutableHeaders(scope=message)
                headers[CORRELATION_HEADER] = correlation_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_header)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            method = scope["method"]
            self.metrics.http_requests.labels(method, route, f"{status // 100}xx").inc()
            self.metrics.http_seconds.labels(method, route).observe(time.perf_counter() - started)


_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")  # \u0000 not itself escaped


class BodyLimitMiddleware:
    """Refuses bodies above a limit with 413 problem+json, by Content-Length or while reading a stream, and
    NUL characters (in the query, or as \\u0000 in a JSON body) with 422: PostgreSQL text cannot hold them,
    so they would otherwise fail deep inside a handler instead of naming the field."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        nul_field = _query_field_with_nul(scope)
        if nul_field is not None:
            await self._refuse_nul(scope, receive, send, nul_field)
            return
        # The body is read whole before the app sees it (it is bounded by the limit): an exception raised from
        # inside receive() would be turned into a generic 400 by the framework's body parser.
        chunks: list[bytes] = []
        received = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if b"\\u0000" in body and _JSON_NUL.search(body):
            await self._refuse_nul(scope, receive, send, "body")
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse_nul(self, scope: Scope, receive: Receive, send: Send, field: str) -> None:
        problem = Problem(
            422,
            "validation",
            "Invalid request",
            "the request contains a NUL character",
            "请求中含有空字符(NUL)",
            errors=[
                FieldError(
                    field=field,
                    reason="NUL characters are not allowed",
                    reason_zh="不允许出现空字符(NUL)",
                    code="nul_character",
                )
            ],
        )
        response = JSONResponse(
            problem.body(scope.get("path")).model_dump(mode="json", exclude_none=True),
            status_code=422,
            media_type="application/problem+json",
        )
        await response(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        problem = Problem(
            413,
            "payload-too-large",
            "Request body too large",
            f"the body exceeds {self.max_bytes} bytes",
            f"请求体超过 {self.max_bytes} 字节",
        )
        response = JSONResponse(
            problem.body(scope.get("path")).model_dump(mode="json", exclude_none=True),
            status_code=413,
            media_type="application/problem+json",
        )
        await response(scope, receive, send)


def _query_field_with_nul(scope: Scope) -> str | None:
    if "\x00" in scope.get("path", ""):
        return "path"
    query = scope.get("query_string", b"")
    if b"%00" not in query.lower() and b"\x00" not in query:
        return None
    for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
        if "\x00" in name or "\x00" in value:
            return name.replace("\x00", "") or "query"
    return "query"


def _new_correlation_id() -> str:
    return str(uuid.uuid4())
