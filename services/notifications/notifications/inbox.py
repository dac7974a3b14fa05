"""Giving inbox messages their cursor after they are committed (see migration 0004): readers page by a cursor
that only ever grows in the order they can see it."""

from __future__ import annotations

from subsidy_runtime.db import Connection

SEQUENCER_LOCK = "notifications:inbox-sequencer"


async def sequence_inbox(conn: Connection, limit: int = 5000) -> int:
    """Number the committed inbox messages that have no cursor yet; returns how many. Runs in its own
    transaction; concurrent sequencers (other replicas) wait for the lock, so numbering never interleaves."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", SEQUENCER_LOCK)
        numbered = await conn.fetchval(
            """WITH pending AS (
                   SELECT id FROM messages WHERE channel = 'inbox' AND inbox_seq IS NULL
                   ORDER BY created_at, id LIMIT $1),
               numbered AS (
                   UPDATE messages m SET inbox_seq = nextval('inbox_seq') FROM pending
                   WHERE m.id = pending.id RETURNING 1)
               SELECT count(*) FROM numbered""",
            limit,
        )
    return int(numbered or 0)
