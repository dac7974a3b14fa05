"""SMS-gateway simulator: the carrier side of the platform's SMS adapter, for local stacks and tests.

It speaks the batch protocol of notifications/gateway.py: each message carries the client's message id; a
repeated id is answered "duplicate" and not delivered again, as a real gateway's de-duplication would. It
keeps what each handset received so that tests can check "exactly once", and can be told to fail.

When a send request names a callback_url, the carrier's status reports follow as delivery receipts: a
signed POST (HMAC, the platform's scheme, key SMS_RECEIPT_KEY_ID / SMS_RECEIPT_SECRET) of
{"receipts": [{"client_msg_id", "gateway_msg_id", "status": "DELIVRD" | "UNDELIV", "error", "done_at"}]},
batched, shortly after the send. Numbers told to be unreachable get UNDELIV.

    POST /v1/sms/send          {"messages": [{"client_msg_id", "mobile", "content"}], "callback_url"?}
    GET  /v1/sms/delivered     every delivered message (?mobile= filters)
    GET  /v1/sms/stats         counts of requests, attempts, deliveries, duplicates, rejections, receipts
    POST /admin/faults         {"fail_requests": N, "status": 503, "undeliverable": [mobile, ...],
                                "receipts": true}: the next N requests fail; those numbers get UNDELIV;
                                with receipts false, receipts are lost (never posted)
    POST /admin/reset          forget everything
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from subsidy_runtime.auth import signed_headers

RECEIPT_KEY_ID = os.environ.get("SMS_RECEIPT_KEY_ID", "sms-gateway-local")
RECEIPT_SECRET = os.environ.get("SMS_RECEIPT_SECRET", "local-secret-sms-gateway-receipts")
RECEIPT_DELAY_S = float(os.environ.get("SMS_RECEIPT_DELAY_S", "0.2"))

MOBILE = re.compile(r"^1[3-9]\d{9}$")
SIGNATURE = re.compile(r"^【[^】]{2,12}】")


class OutgoingSms(BaseModel):
    client_msg_id: str = Field(min_length=1, max_length=64)
    mobile: str
    content: str = Field(min_length=1, max_length=1000)


class SendRequest(BaseModel):
    messages: list[OutgoingSms] = Field(min_length=1, max_length=1000)
    callback_url: str | None = Field(default=None, max_length=500)


class Faults(BaseModel):
    fail_requests: int = 0
    status: int = 503
    undeliverable: list[str] = Field(default_factory=list)
    receipts: bool = True


class GatewayState:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.delivered: dict[str, dict[str, Any]] = {}
        self.requests = 0
        self.attempts = 0
        self.duplicates = 0
        self.rejected = 0
        self.fail_requests = 0
        self.fail_status = 503
        self.undeliverable: set[str] = set()
        self.receipts_enabled = True
        self.receipts_posted = 0
        self.receipt_failures = 0
        self.pending_receipts: dict[str, list[dict[str, Any]]] = {}


state = GatewayState()
app = FastAPI(title="SMS gateway simulator")
_receipt_client: httpx.AsyncClient | None = None
_receipt_tasks: set[asyncio.Task[None]] = set()


async def _post_receipts(url: str) -> None:
    """Post the receipts collected for `url` in one signed batch (retried a few times, as carriers do)."""
    global _receipt_client
    await asyncio.sleep(RECEIPT_DELAY_S)
    batch = state.pending_receipts.pop(url, [])
    if not batch or not state.receipts_enabled:
        return
    if _receipt_client is None:
        _receipt_client = httpx.AsyncClient(timeout=10)
    split = httpx.URL(url)
    path = split.raw_path.decode()
    for chunk_start in range(0, len(batch), 1000):
        body = orjson.dumps({"receipts": batch[chunk_start : chunk_start + 1000]})
        for attempt in range(5):
            headers = signed_headers(
                RECEIPT_KEY_ID, RECEIPT_SECRET, "POST", path, body, nonce=secrets.token_urlsafe(16)
            )
            headers["Content-Type"] = "application/json"
            try:
                response = await _receipt_client.post(url, content=body, headers=headers)
                if response.status_code < 500:
                    state.receipts_posted += len(batch[chunk_start : chunk_start + 1000])
                    break
            except httpx.HTTPError:
                pass
            state.receipt_failures += 1
            await asyncio.sleep(0.5 * (attempt + 1))


def _queue_receipt(url: str, receipt: dict[str, Any]) -> None:
    first = url not in state.pending_receipts
    state.pending_receipts.setdefault(url, []).append(receipt)
    if first:
        task = asyncio.create_task(_post_receipts(url))
        _receipt_tasks.add(task)
        task.add_done_callback(_receipt_tasks.discard)


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/v1/sms/send", response_model=None)
async def send(body: SendRequest) -> Any:
    state.requests += 1
    if state.fail_requests > 0:
        state.fail_requests -= 1
        return JSONResponse({"error": "simulated gateway failure"}, status_code=state.fail_status)
    results = []
    for m in body.messages:
        state.attempts += 1
        if m.client_msg_id in state.delivered:
            state.duplicates += 1
            results.append(
                {
                    "client_msg_id": m.client_msg_id,
                    "status": "duplicate",
                    "gateway_msg_id": state.delivered[m.client_msg_id]["gateway_msg_id"],
                }
            )
            continue
        if not MOBILE.match(m.mobile):
            state.rejected += 1
            results.append({"client_msg_id": m.client_msg_id, "status": "rejected", "error": "invalid mobile number"})
            continue
        if not SIGNATURE.match(m.content):
            state.rejected += 1
            results.append({"client_msg_id": m.client_msg_id, "status": "rejected", "error": "missing signature 【…】"})
            continue
        gateway_id = uuid.uuid4().hex
        segments = 1 if len(m.content) <= 70 else -(-len(m.content) // 67)
        state.delivered[m.client_msg_id] = {
            "client_msg_id": m.client_msg_id,
            "mobile": m.mobile,
            "content": m.content,
            "gateway_msg_id": gateway_id,
            "segments": segments,
            "received_at": time.time(),
        }
        results.append({"client_msg_id": m.client_msg_id, "status": "accepted", "gateway_msg_id": gateway_id})
        if body.callback_url:
            unreachable = m.mobile in state.undeliverable
            _queue_receipt(
                body.callback_url,
                {
                    "client_msg_id": m.client_msg_id,
                    "gateway_msg_id": gateway_id,
                    "status": "UNDELIV" if unreachable else "DELIVRD",
                    "error": "MK:0001 用户关机或停机" if unreachable else None,
                    "done_at": datetime.now(UTC).isoformat(),
                },
            )
    return {"results": results}


@app.get("/v1/sms/delivered")
async def delivered(mobile: str | None = None) -> list[dict[str, Any]]:
    return [d for d in state.delivered.values() if mobile is None or d["mobile"] == mobile]


@app.get("/v1/sms/stats")
async def stats() -> dict[str, int]:
    return {
        "requests": state.requests,
        "attempts": state.attempts,
        "delivered": len(state.delivered),
        "duplicates": state.duplicates,
        "rejected": state.rejected,
        "receipts_posted": state.receipts_posted,
        "receipt_failures": state.receipt_failures,
    }


@app.post("/admin/faults")
async def faults(body: Faults) -> dict[str, int]:
    state.fail_requests = body.fail_requests
    state.fail_status = body.status
    state.undeliverable = set(body.undeliverable)
    state.receipts_enabled = body.receipts
    return {"fail_requests": state.fail_requests}


@app.post("/admin/reset")
async def reset() -> dict[str, str]:
    state.reset()
    return {"status": "reset"}
