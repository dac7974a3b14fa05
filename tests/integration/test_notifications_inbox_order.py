"""The provincial platform pages its inbox by cursor; a message whose transaction commits late must still come
after the cursor the reader holds (cursors are given after commit, by one sequencer at a time)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from notifications.inbox import sequence_inbox
from subsidy_runtime.db import Connection, create_pool
from subsidy_runtime.migrations import migrate, service_migrations
from subsidy_runtime.provision import provision
from tests.conftest import Stack

pytestmark = [pytest.mark.infra]
SCHEMA = "nitest"


@pytest.fixture(scope="module")
async def pool(infra: Stack) -> AsyncIterator[asyncpg.Pool]:
    await provision(infra.admin_dsn.rsplit("/", 1)[0] + "/postgres", infra.env["PG_DATABASE"], [SCHEMA])
    dsn = f"postgresql://{SCHEMA}:{SCHEMA}_local@127.0.0.1:{infra.env['PG_PORT']}/{infra.env['PG_DATABASE']}"
    pool = await create_pool(dsn, schema=SCHEMA, application_name="nitest")
    async with pool.acquire() as conn:
        await migrate(
            conn,
            SCHEMA,
            service_migrations("notifications.migrations"),
        )
    yield pool
    await pool.close()


async def _insert(conn: Connection, content: str) -> uuid.UUID:
    message_id = uuid.uuid4()
    await conn.execute(
        """INSERT INTO messages (id, event_id, template, channel, recipient, recipient_role, subject_key,
                                 correlation_id, content, status, jurisdiction)
           VALUES ($1, $2, 'decision_eligible', 'inbox', 'applicant-1', 'applicant', 'k', $3, $4, 'delivered',
                   '430102')""",
        message_id,
        uuid.uuid4(),
        uuid.uuid4(),
        content,
    )
    return message_id


async def _page(conn: Connection, after: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT inbox_seq, id FROM messages WHERE channel = 'inbox' AND inbox_seq > $1
           AND jurisdiction LIKE '43%' ORDER BY inbox_seq""",
        after,
    )


async def test_a_late_commit_is_not_skipped_by_a_reader_past_it(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as slow, pool.acquire() as fast, pool.acquire() as sequencer:
        slow_tx = slow.transaction()
        await slow_tx.start()
        late = await _insert(slow, "written first, committed last")
        early = await _insert(fast, "written second, committed first")  # autocommit
        assert await sequence_inbox(sequencer) == 1  # the uncommitted row is not numbered yet
        first = await _page(sequencer, 0)
        assert [r["id"] for r in first] == [early]
        cursor = first[-1]["inbox_seq"]
        await slow_tx.commit()
        assert await sequence_inbox(sequencer) == 1
        rest = await _page(sequencer, cursor)
        assert [r["id"] for r in rest] == [late]
        assert rest[0]["inbox_seq"] > cursor
