"""Versioned SQL migrations, applied at service start, safe to re-run.

Each service keeps `NNNN_name.sql` files in its `migrations` package; the runtime's own tables (outbox,
inbox, dead letters) come first from `subsidy_runtime.migrations`. Applied versions are recorded with a
checksum in the schema's `schema_migrations` table: a changed file that was already applied is an error,
never silently re-run. An advisory lock serialises replicas starting together.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources

from .db import Connection
from .logging import get_logger

log = get_logger(__name__)
_FILE = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


@dataclass(frozen=True)
class Migration:
    version: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations(package: str, prefix: str = "") -> list[Migration]:
    files = [f for f in resources.files(package).iterdir() if _FILE.match(f.name)]
    return [
        Migration(prefix + f.name.removesuffix(".sql"), f.read_text(encoding="utf-8"))
        for f in sorted(files, key=lambda f: f.name)
    ]


def service_migrations(package: str) -> list[Migration]:
    """What a service's schema needs: the runtime's plumbing tables (outbox, inbox, dead letters, audit ...),
    then the service's own migrations from `package`."""
    return load_migrations("subsidy_runtime.plumbing_sql", prefix="runtime-") + load_migrations(package)


class MigrationError(RuntimeError):
    pass


async def migrate(conn: Connection, schema: str, migrations: list[Migration]) -> list[str]:
    """Apply the migrations not yet applied to `schema`; returns the versions applied now."""
    applied_now: list[str] = []
    await conn.execute("SELECT pg_advisory_lock(hashtext($1))", f"migrate:{schema}")
    try:
        await conn.execute(
            f"""CREATE TABLE IF NOT EXISTS "{schema}".schema_migrations (
                    version text PRIMARY KEY,
                    checksum text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        rows = await conn.fetch(f'SELECT version, checksum FROM "{schema}".schema_migrations')
        done = {r["version"]: r["checksum"] for r in rows}
        for m in migrations:
            if m.version in done:
                if done[m.version] != m.checksum:
                    raise MigrationError(f"migration {m.version} changed after it was applied to {schema}")
                continue
            async with conn.transaction():
                await conn.execute(f'SET LOCAL search_path = "{schema}"')
                await conn.execute(m.sql)
                await conn.execute(
                    f'INSERT INTO "{schema}".schema_migrations(version, checksum) VALUES ($1, $2)',
                    m.version,
                    m.checksum,
                )
            applied_now.append(m.version)
            log.info("migration applied", schema=schema, version=m.version)
    finally:
        await conn.execute("SELECT pg_advisory_unlock(hashtext($1))", f"migrate:{schema}")
    return applied_now
