"""The service's connection pool, bound to its own schema, with JSON codecs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg
import orjson
from asyncpg.pool import PoolConnectionProxy


def _dumps(value: Any) -> str:
    return orjson.dumps(value, default=str).decode()


Connection = asyncpg.Connection | PoolConnectionProxy
"""A plain connection or one borrowed from the pool: both run queries the same way."""


async def _init_connection(conn: asyncpg.Connection) -> None:
    for name in ("json", "jsonb"):
        await conn.set_type_codec(name, encoder=_dumps, decoder=orjson.loads, schema="pg_catalog")


async def create_pool(
    dsn: str, *, schema: str, application_name: str, min_size: int = 2, max_size: int = 10
) -> asyncpg.Pool:
    """A pool whose sessions see only `schema` (plus pg_catalog) on their search path."""
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        init=_init_connection,
        server_settings={"search_path": schema, "application_name": application_name},
        command_timeout=60,
    )
    assert pool is not None
    return pool


def is_transient(exc: BaseException) -> bool:
    """Errors worth retrying unchanged: lost connections, failover, serialisation conflicts, overload."""
    if isinstance(exc, asyncpg.PostgresError):
        state = getattr(exc, "sqlstate", "") or ""
        return state.startswith(("08", "53", "57P", "58")) or state in {"40001", "40P01", "55P03"}
    return isinstance(
        exc,
        ConnectionError
        | OSError
        | TimeoutError
        | asyncpg.InterfaceError
        | asyncpg.exceptions.ConnectionDoesNotExistError,
    )


async def insert_many(
    conn: Connection,
    table: str,
    columns: Sequence[tuple[str, str]],
    rows: Sequence[Sequence[Any]],
    *,
    suffix: str = "",
) -> list[asyncpg.Record]:
    """Insert many rows in one statement: INSERT … SELECT FROM unnest(array per column).

    `columns` pairs each column with its PostgreSQL type. JSON columns travel as text and are cast back,
    because asyncpg would read a JSON array value as one more array dimension. `suffix` may hold an
    ON CONFLICT and a RETURNING clause.
    """
    if not rows:
        return []
    names = [name for name, _ in columns]
    arrays, select, values = [], [], []
    for i, (name, pg_type) in enumerate(columns):
        column = [row[i] for row in rows]
        if pg_type in ("json", "jsonb"):
            column = [None if v is None else _dumps(v) for v in column]
            arrays.append(f"${i + 1}::text[]")
            select.append(f"t.{name}::{pg_type}")
        else:
            arrays.append(f"${i + 1}::{pg_type}[]")
            select.append(f"t.{name}")
        values.append(column)
    sql = (
        f"INSERT INTO {table} ({', '.join(names)}) SELECT {', '.join(select)} "
        f"FROM unnest({', '.join(arrays)}) AS t({', '.join(names)}) {suffix}"
    )
    return await conn.fetch(sql, *values)
