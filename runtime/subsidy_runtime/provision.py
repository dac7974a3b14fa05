"""Create the platform's database, one login role and one schema per service (idempotent).

A service's role owns its schema and nothing else: it cannot read or write another service's tables, and
nobody may create objects in `public`. Run as the cluster's administrator:

    python -m subsidy_runtime.provision --admin-url postgresql://admin:pw@127.0.0.1:55432/postgres \\
        --database subsidy --services "registration eligibility payments notifications"

Each role's password comes from <SERVICE>_DB_PASSWORD, or defaults to "<service>_local" (local stacks only).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re

import asyncpg

_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")


def _ident(name: str) -> str:
    if not _IDENT.match(name):
        raise ValueError(f"not a plain identifier: {name!r}")
    return name


async def provision(admin_url: str, database: str, services: list[str]) -> None:
    database = _ident(database)
    conn = await asyncpg.connect(admin_url)
    try:
        for svc in services:
            role = _ident(svc)
            password = os.environ.get(f"{svc.upper()}_DB_PASSWORD", f"{svc}_local")
            exists = await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role)
            verb = "ALTER" if exists else "CREATE"
            # Password literals cannot be bound as parameters in utility statements; quote them safely.
            literal = await conn.fetchval("SELECT quote_literal($1)", password)
            await conn.execute(f"{verb} ROLE {role} LOGIN PASSWORD {literal} NOSUPERUSER NOCREATEDB NOCREATEROLE")
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database):
            await conn.execute(f"CREATE DATABASE {database} ENCODING 'UTF8' TEMPLATE template0")
        await conn.execute(f"REVOKE ALL ON DATABASE {database} FROM PUBLIC")
        for svc in services:
            await conn.execute(f"GRANT CONNECT, TEMPORARY ON DATABASE {database} TO {_ident(svc)}")
    finally:
        await conn.close()

    db_url = (
        re.sub(r"/[^/?]*(\?|$)", f"/{database}\\1", admin_url, count=1)
        if "/" in admin_url.split("@")[-1]
        else admin_url
    )
    conn = await asyncpg.connect(db_url)
    try:
        await conn.execute("REVOKE ALL ON SCHEMA public FROM PUBLIC")
        for svc in services:
            role = _ident(svc)
            await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {role} AUTHORIZATION {role}")
            await conn.execute(f"REVOKE ALL ON SCHEMA {role} FROM PUBLIC")
            await conn.execute(f"ALTER ROLE {role} IN DATABASE {database} SET search_path = {role}")
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m subsidy_runtime.provision")
    parser.add_argument("--admin-url", required=True)
    parser.add_argument("--database", required=True)
    parser.add_argument("--services", required=True, help="space-separated service names")
    args = parser.parse_args()
    asyncio.run(provision(args.admin_url, args.database, args.services.split()))


if __name__ == "__main__":
    main()
