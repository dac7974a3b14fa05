"""What PostgreSQL alone needs for the payment states issue 5 asks for (a floor under acceptance 4).

    python -m bench.payments_floor [--instructions 1000000] [--model two-step|one-step] [--out FILE]

With deploy/local/env.sh sourced (a running PostgreSQL from ./dev up). No Python work is timed: the rows are
generated inside the server by `generate_series`, so nothing is parsed, sent over the socket or written to a file.
Two connections work in parallel (one per core), each on half the payments, step by step:

  two-step (the issue's states: scheduled, then sent in a batch, every change announced):
    1. insert the instructions, scheduled      2. their instruction-created events into the outbox
    3. the batching update to sent             4. their status-changed events into the outbox
  one-step (a payment created straight into a batch; no scheduled state to cancel in): steps 1 and 2 only.

The tables are a reduced payments schema ("pbfloor", dropped and recreated): one table of instructions with the
payments service's unique keys and two of its indexes, no attempts, budgets, inbox or batches; the outbox is the
runtime's. The event values are built in SQL at the size the service writes (about 800 characters). Whatever
this prints is less than the service can do, because the service does all of it and more.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import asyncpg

SCHEMA = "pbfloor"
PARTS = 2

_TABLES = f"""
DROP SCHEMA IF EXISTS {SCHEMA} CASCADE;
CREATE SCHEMA {SCHEMA};
SET search_path = {SCHEMA};
CREATE TABLE instructions (
    instruction_id text PRIMARY KEY, decision_id uuid NOT NULL, instalment_number int NOT NULL,
    application_id uuid NOT NULL, applicant_id uuid NOT NULL, programme_id text NOT NULL, fund_code text NOT NULL,
    amount numeric(15, 2) NOT NULL, due_on date NOT NULL, payee jsonb NOT NULL, status text NOT NULL,
    correlation_id uuid NOT NULL, batch_id text, part int NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (decision_id, instalment_number));
CREATE INDEX ON instructions (application_id);
CREATE INDEX ON instructions (fund_code, due_on) WHERE status = 'scheduled';
CREATE TABLE outbox (id bigserial PRIMARY KEY, topic text NOT NULL, key text, event_type text,
    headers jsonb NOT NULL DEFAULT '{{}}'::jsonb, value text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp());
"""

_INSERT = f"""
INSERT INTO {SCHEMA}.instructions (instruction_id, decision_id, instalment_number, application_id, applicant_id,
    programme_id, fund_code, amount, due_on, payee, status, correlation_id, part, batch_id)
SELECT upper(md5(g::text)) || '001', gen_random_uuid(), 1, gen_random_uuid(), gen_random_uuid(),
       'hn.one-off-hiring-subsidy', 'bench-fund', (g % 190000 + 10000) / 100.0, current_date - 1,
       jsonb_build_object('account_id', gen_random_uuid(), 'kind', 'social_security_card', 'holder_name', '张伟',
                          'account_number', '6217' || lpad(g::text, 15, '0'), 'bank_code', '102551000015',
                          'bank_name', '中国工商银行'),
       $3, gen_random_uuid(), $4, CASE WHEN $3 = 'sent' THEN 'B' || (g / 10000)::text END
FROM generate_series($1::int, $2::int) g"""


def _event_sql(event_type: str, extra: str) -> str:
    return f"""
INSERT INTO {SCHEMA}.outbox (topic, key, event_type, headers, value)
SELECT 'payments.payments.v1', applicant_id::text, '{event_type}',
       jsonb_build_object('event_type', '{event_type}', 'correlation_id', correlation_id),
       json_build_object('event_id', gen_random_uuid(), 'event_type', '{event_type}', 'schema_version', 1,
           'occurred_at', now(), 'producer', 'payments', 'correlation_id', correlation_id, 'causation_id', NULL,
           'subject_key', applicant_id,
           'payload', json_build_object('instruction_id', instruction_id, 'end_to_end_id', instruction_id,
               'attempt', 1, 'decision_id', decision_id, 'application_id', application_id,
               'applicant_id', applicant_id, 'programme_id', programme_id, 'fund_code', fund_code,
               'amount', amount::text, 'status', status, 'batch_id', batch_id,
               'payee_account_masked', '****' || right(payee ->> 'account_number', 4), {extra}))::text
FROM {SCHEMA}.instructions WHERE part = $1"""


_CREATED = _event_sql("payments.instruction-created", "'due_on', due_on, 'created_at', now()")
_BATCHED = f"""
UPDATE {SCHEMA}.instructions SET status = 'sent', batch_id = 'B' || (hashtext(instruction_id) & 127)::text,
       updated_at = now()
WHERE status = 'scheduled' AND part = $1"""
_STATUS = _event_sql(
    "payments.status-changed", "'previous_status', 'scheduled', 'reason_code', NULL, 'changed_at', now()"
)


async def _parallel(conns: list[asyncpg.Connection], sql: str, args: list[tuple[Any, ...]]) -> float:
    started = time.perf_counter()
    await asyncio.gather(*(c.execute(sql, *a) for c, a in zip(conns, args, strict=True)))
    return round(time.perf_counter() - started, 2)


async def run(n: int, model: str) -> dict[str, Any]:
    dsn = os.environ["ADMIN_DATABASE_URL"]
    admin = await asyncpg.connect(dsn)
    conns = [await asyncpg.connect(dsn) for _ in range(PARTS)]
    try:
        await admin.execute(_TABLES)
        await admin.execute("CHECKPOINT")
        settings = {
            r["name"]: r["setting"]
            for r in await admin.fetch(
                """SELECT name, setting FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit',
                   'full_page_writes', 'wal_compression', 'max_wal_size', 'shared_buffers')"""
            )
        }
        wal0 = await admin.fetchval("SELECT pg_current_wal_lsn()")
        status = "scheduled" if model == "two-step" else "sent"
        half = n // PARTS
        ranges = [(p * half + 1, n if p == PARTS - 1 else (p + 1) * half, status, p) for p in range(PARTS)]
        parts = [(p,) for p in range(PARTS)]
        started = time.perf_counter()
        steps = {"insert_instructions": await _parallel(conns, _INSERT, ranges)}
        steps["instruction_created_events"] = await _parallel(conns, _CREATED, parts)
        if model == "two-step":
            steps["batching_update"] = await _parallel(conns, _BATCHED, parts)
            steps["status_changed_events"] = await _parallel(conns, _STATUS, parts)
        total = time.perf_counter() - started
        wal = await admin.fetchval("SELECT pg_current_wal_lsn() - $1::pg_lsn", wal0)
        rows = await admin.fetchval(f"SELECT count(*) FROM {SCHEMA}.instructions")
        events = await admin.fetchval(f"SELECT count(*) FROM {SCHEMA}.outbox")
        event_chars = await admin.fetchval(f"SELECT avg(length(value))::int FROM {SCHEMA}.outbox")
        await admin.execute(f"DROP SCHEMA {SCHEMA} CASCADE")
    finally:
        for c in [*conns, admin]:
            await c.close()
    return {
        "benchmark": "payments_floor (PostgreSQL only, rows generated in the server)",
        "model": model,
        "instructions": n,
        "connections": PARTS,
        "seconds_total": round(total, 2),
        "seconds_per_step": steps,
        "instructions_per_s": round(n / total),
        "instructions_stored": rows,
        "outbox_events": events,
        "average_event_characters": event_chars,
        "postgres_wal_megabytes": round(float(wal) / 1e6),
        "postgres_settings": settings,
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cpus",
        "load_average_1m": round(os.getloadavg()[0], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--instructions", type=int, default=1_000_000)
    parser.add_argument("--model", choices=["two-step", "one-step"], default="two-step")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    result = asyncio.run(run(args.instructions, args.model))
    text = json.dumps(result, indent=2, ensure_ascii=False)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
