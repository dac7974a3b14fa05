"""SMS-gateway simulator: the carrier side of the platform's SMS adapter, for local stacks and tests.

It speaks the batch protocol of notifications/gateway.py: each message carries the client's message id; a
repeated id is answered "duplicate" and not delivered again, as a real gateway's de-duplication would. It
keeps what each handset received so that tests can check "exactly once", and can be told to fail.

    POST /v1/sms/send          {"messages": [{"client_msg_id", "mobile", "content"}]}
    GET  /v1/sms/delivered     every delivered message (?mobile= filters)
    GET  /v1/sms/stats         counts of requests, attempts, deliveries, duplicates, rejections
    POST /admin/faults         {"fail_requests": N, "status": 503}: the next N requests fail
    POST /admin/reset          forget everything
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

MOBILE = re.compile(r"^1[3-9]\d{9}$")
SIGNATURE = re.compile(r"^【[^】]{2,12}】")


class OutgoingSms(BaseModel):
    client_msg_id: str = Field(min_length=1, max_length=64)
    mobile: str
    content: str = Field(min_length=1, max_length=1000)


class SendRequest(BaseModel):
    messages: list[OutgoingSms] = Field(min_length=1, max_length=1000)


class Faults(BaseModel):
    fail_requests: int = 0
    status: int = 503


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


state = GatewayState()
app = FastAPI(title="SMS gateway simulator")


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
    }


@app.post("/admin/faults")
async def faults(body: Faults) -> dict[str, int]:
    state.fail_requests = body.fail_requests
    state.fail_status = body.status
    return {"fail_requests": state.fail_requests}


@app.post("/admin/reset")
async def reset() -> dict[str, str]:
    state.reset()
    return {"status": "reset"}
