"""The append-only audit trail: one row per write, with the caller and the request id, in the same
transaction as the write (so a rolled-back write leaves no audit row, and no write goes unrecorded)."""

from __future__ import annotations

from typing import Any

from .db import Connection


async def audit(
    conn: Connection,
    *,
    integration_id: str,
    request_id: str,
    action: str,
    entity: str,
    entity_id: str | None,
    detail: dict[str, Any] | None = None,
) -> None:
    await conn.execute(
        """INSERT INTO audit_log (integration_id, request_id, action, entity, entity_id, detail)
           VALUES ($1, $2, $3, $4, $5, $6)""",
        integration_id,
        request_id,
        action,
        entity,
        entity_id,
        detail or {},
    )
