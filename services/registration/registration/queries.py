"""Read side: application status with its timeline, and paginated listings."""

from __future__ import annotations

import base64
import uuid
from datetime import datetime
from typing import Any

from subsidy_contracts.common import Period
from subsidy_runtime.auth import Integration
from subsidy_runtime.db import Connection

from .api.schemas import ApplicationOut, ApplicationPage, TimelineEntry
from .domain.errors import InvalidField, NotFound


def _application_out(row: Any, timeline: list[TimelineEntry]) -> ApplicationOut:
    period = Period(start=row["period_start"], end=row["period_end"]) if row["period_start"] else None
    return ApplicationOut(
        application_id=row["id"],
        programme_id=row["programme_id"],
        status=row["status"],
        applicant_kind=row["applicant_kind"],
        applicant_id=row["applicant_id"],
        beneficiary_person_id=row["beneficiary_id"],
        period=period,
        submitted_at=row["submitted_at"],
        updated_at=row["updated_at"],
        source_reference=row["source_reference"],
        correlation_id=row["correlation_id"],
        decision=row["decision"],
        timeline=timeline,
    )


VISIBLE = "(integration_id = {0} OR jurisdiction LIKE {1} || '%')"
"""An application is visible to the integration that submitted it and to those whose jurisdiction covers it."""


async def get_application(conn: Connection, application_id: uuid.UUID, caller: Integration) -> ApplicationOut:
    row = await conn.fetchrow(
        f"SELECT * FROM applications WHERE id = $1 AND {VISIBLE.format('$2', '$3')}",
        application_id,
        caller.id,
        caller.jurisdiction,
    )
    if row is None:
        raise NotFound("application", str(application_id))
    entries = await conn.fetch(
        "SELECT at, kind, summary, detail FROM application_timeline WHERE application_id = $1 ORDER BY at, id",
        application_id,
    )
    timeline = [TimelineEntry(at=e["at"], kind=e["kind"], summary=e["summary"], detail=e["detail"]) for e in entries]
    return _application_out(row, timeline)


def _encode_cursor(at: datetime, ident: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(f"{at.isoformat()}|{ident}".encode()).decode()


def _decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        at, ident = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        return datetime.fromisoformat(at), uuid.UUID(ident)
    except Exception as exc:
        raise InvalidField("cursor", "分页游标无效", "the cursor is invalid") from exc


async def list_applications(
    conn: Connection,
    caller: Integration,
    *,
    limit: int,
    cursor: str | None,
    status: str | None,
    programme_id: str | None,
) -> ApplicationPage:
    """Newest first, keyset-paginated (stable under concurrent inserts)."""
    after_at, after_id = _decode_cursor(cursor) if cursor else (None, None)
    rows = await conn.fetch(
        """SELECT * FROM applications
           WHERE (integration_id = $1 OR jurisdiction LIKE $7 || '%')
             AND ($2::timestamptz IS NULL OR (submitted_at, id) < ($2, $3))
             AND ($4::text IS NULL OR status = $4)
             AND ($5::text IS NULL OR programme_id = $5)
           ORDER BY submitted_at DESC, id DESC LIMIT $6""",
        caller.id,
        after_at,
        after_id,
        status,
        programme_id,
        limit + 1,
        caller.jurisdiction,
    )
    items = [_application_out(r, []) for r in rows[:limit]]
    next_cursor = _encode_cursor(rows[limit - 1]["submitted_at"], rows[limit - 1]["id"]) if len(rows) > limit else None
    return ApplicationPage(items=items, next_cursor=next_cursor)
