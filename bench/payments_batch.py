"""Benchmark (issue 5, acceptance 4): approved decisions to pain.001 files.

    python -m bench.payments_batch --instructions 1000000 [--workers 1] [--validate] [--out FILE]

With deploy/local/env.sh sourced (a running PostgreSQL from ./dev up). The benchmark uses its own schema
("pbench", dropped and recreated) and the payments service's own code and migrations: released entitlements
arrive as the JSON the decisions topic carries; the clock starts before they are parsed, and stops when the
last pain.001 file is renamed into the outgoing directory. Phases: parse + create instructions (budget
reservation, attempts, instruction-created events in the outbox) in consumer-sized transactions; then
batching and release into files of 10,000 transfers (status events in the outbox). Prints JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import shutil
import sys
import tempfile
import time
import uuid
from contextlib import AbstractAsyncContextManager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg

from payments import batching, funds
from payments.instructions import create_instructions
from payments.iso20022.schemas import validate
from payments.settings import PaymentsSettings
from subsidy_contracts.common import AccountKind, PayeeAccount
from subsidy_contracts.eligibility import EntitlementReleased, EntitlementReleasedPayload, Instalment
from subsidy_runtime.db import create_pool
from subsidy_runtime.migrations import migrate, service_migrations
from subsidy_runtime.outbox import Transaction
from subsidy_runtime.outbox import transaction as outbox_transaction
from subsidy_runtime.provision import provision

SCHEMA = "pbench"
CONSUMER_BATCH = 2000
BANKS = ["102551000015", "103551000019", "104551000012", "105551000018"]
FUND = {
    "code": "bench-fund",
    "name": "就业补助资金",
    "account_name": "湖南省就业补助资金专户",
    "account_number": "1901234567890123456",
    "bank_code": "102551000015",
    "budgets": {},
}


def make_entitlements(n: int, due: date, seed: int = 1) -> list[bytes]:
    """n released entitlements of one instalment each, as the JSON on the decisions topic (not timed)."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        applicant = uuid.uuid4()
        event = EntitlementReleased.create(
            EntitlementReleasedPayload(
                decision_id=uuid.uuid4(),
                application_id=uuid.uuid4(),
                applicant_id=applicant,
                programme_id="hn.one-off-hiring-subsidy",
                fund_code=FUND["code"],
                payee=PayeeAccount(
                    account_id=uuid.uuid4(),
                    kind=AccountKind.SOCIAL_SECURITY_CARD,
                    holder_name=rng.choice(["张伟", "王芳", "李娜", "刘洋", "陈静"]),
                    account_number="6217" + "".join(rng.choice("0123456789") for _ in range(15)),
                    bank_code=rng.choice(BANKS),
                    bank_name="银行",
                ),
                instalments=[Instalment(number=1, amount=Decimal(rng.randrange(10_000, 200_000)) / 100, due_on=due)],
                released_at=datetime.now(UTC),
            ),
            producer="eligibility",
            subject_key=str(applicant),
            correlation_id=uuid.uuid4(),
        )
        out.append(event.model_dump_json().encode())
    return out


def transaction(pool: asyncpg.Pool) -> AbstractAsyncContextManager[Transaction]:
    return outbox_transaction(pool, SCHEMA)


async def prepare(admin_dsn: str, database: str) -> asyncpg.Pool:
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
    finally:
        await admin.close()
    await provision(admin_dsn.rsplit("/", 1)[0] + "/postgres", database, [SCHEMA])
    host_port = admin_dsn.rsplit("@", 1)[1].split("/", 1)[0]
    pool = await create_pool(
        f"postgresql://{SCHEMA}:{SCHEMA}_local@{host_port}/{database}", schema=SCHEMA, application_name="bench"
    )
    async with pool.acquire() as conn:
        await migrate(
            conn,
            SCHEMA,
            service_migrations("payments.migrations"),
        )
        await funds.seed_funds(conn, [FUND | {"budgets": {date.today().year: "9999999999999.00"}}])
    return pool


async def run(n: int, workers: int, validate_files: bool) -> dict[str, Any]:
    admin_dsn = os.environ["ADMIN_DATABASE_URL"]
    pool = await prepare(admin_dsn, os.environ.get("PG_DATABASE", "subsidy"))
    outgoing = Path(tempfile.mkdtemp(prefix="pain001-"))
    settings = PaymentsSettings(
        database_url="postgresql://unused",
        db_schema=SCHEMA,
        bank_channel="file",
        outgoing_dir=str(outgoing),
        approval_threshold=Decimal("1e12"),
    )
    today = datetime.now(UTC).date()
    raw = make_entitlements(n, today - timedelta(days=1))
    load0 = os.getloadavg()[0]
    async with pool.acquire() as conn:
        wal0 = await conn.fetchval("SELECT pg_current_wal_lsn()")
    pg0, cpu0, t0 = _postgres_cpu(), time.process_time(), time.perf_counter()

    chunks = [raw[i : i + CONSUMER_BATCH] for i in range(0, len(raw), CONSUMER_BATCH)]
    queue: asyncio.Queue[list[bytes] | None] = asyncio.Queue()
    for c in chunks:
        queue.put_nowait(c)

    async def consume() -> None:
        while not queue.empty():
            chunk = queue.get_nowait()
            if chunk is None:
                return
            events = [EntitlementReleased.model_validate_json(b) for b in chunk]
            async with transaction(pool) as tx:
                await create_instructions(tx, events)

    await asyncio.gather(*(consume() for _ in range(workers)))
    t_created = time.perf_counter()

    files = 0

    async def batch_round() -> int:
        async with transaction(pool) as tx:
            formed = await batching.form_batches(tx, settings, datetime.now(UTC), today, limit=50_000)
        return len(formed)

    while True:
        rounds = await asyncio.gather(*(batch_round() for _ in range(workers)))
        if sum(rounds) == 0:
            break
        files += sum(rounds)
    t_files = time.perf_counter()
    cpu = time.process_time() - cpu0
    pg_cpu = _postgres_cpu() - pg0

    async with pool.acquire() as conn:
        wal = await conn.fetchval("SELECT pg_current_wal_lsn() - $1::pg_lsn", wal0)
        totals = await conn.fetchrow(
            """SELECT count(*) AS batches, sum(number_of_transactions) AS transfers, sum(control_sum) AS total,
                      count(*) FILTER (WHERE status = 'sent') AS sent FROM payment_batches"""
        )
        outbox = await conn.fetchval("SELECT count(*) FROM outbox")
    assert totals is not None
    paths = _files(outgoing)
    result: dict[str, Any] = {
        "benchmark": "payments_batch",
        "instructions": n,
        "workers": workers,
        "seconds_total": round(t_files - t0, 2),
        "instructions_per_s": round(n / (t_files - t0)),
        "seconds_parse_and_create": round(t_created - t0, 2),
        "seconds_batch_and_write_files": round(t_files - t_created, 2),
        "python_cpu_seconds": round(cpu, 2),
        "postgres_cpu_seconds": round(pg_cpu, 2),
        "postgres_wal_megabytes": round(float(wal) / 1e6),
        "batches": totals["batches"],
        "batches_sent": totals["sent"],
        "transfers_in_batches": int(totals["transfers"] or 0),
        "control_sum_total": str(totals["total"]),
        "files": len(paths),
        "megabytes_written": round(sum(p.stat().st_size for p in paths) / 1e6, 1),
        "outbox_records": outbox,
    }
    if validate_files:
        v0 = time.perf_counter()
        for p in paths:
            validate(p.read_bytes(), "pain.001.001.09")
        result["validated_files"] = len(paths)
        result["validate_seconds"] = round(time.perf_counter() - v0, 2)
    result |= {
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cpus",
        "load_average_1m_at_start": round(load0, 2),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }
    shutil.rmtree(outgoing)
    async with pool.acquire() as conn:
        await conn.execute("TRUNCATE outbox, payment_attempts, payment_batches, payment_instructions CASCADE")
    await pool.close()
    return result


def _cpu_seconds(pid: int) -> float:
    """utime + stime of one process (0 when it is gone or unreadable)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _postgres_cpu() -> float:
    """CPU seconds of the PostgreSQL cluster's running processes (backends, WAL writer, checkpointer ...);
    0 when the cluster's postmaster.pid is not found (STATE_DIR from deploy/local/env.sh)."""
    pidfile = Path(os.environ.get("STATE_DIR", "/nonexistent")) / "postgres" / "data" / "postmaster.pid"
    try:
        postmaster = int(pidfile.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0.0
    total = _cpu_seconds(postmaster)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == postmaster:
                total += _cpu_seconds(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return total


def _files(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.xml"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--instructions", type=int, default=100_000)
    parser.add_argument(
        "--workers", type=int, default=1, help="concurrent consumers (they share the fund budget row lock)"
    )
    parser.add_argument("--validate", action="store_true", help="also validate every file against the XSD")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    result = asyncio.run(run(args.instructions, args.workers, args.validate))
    text = json.dumps(result, indent=2, ensure_ascii=False)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    sys.exit(0 if result["transfers_in_batches"] == args.instructions else 1)


if __name__ == "__main__":
    main()
