"""Notifications benchmark: messages per second rendered and handed to channels.

    python -m bench.notifications --dsn postgresql://…/subsidy --gateway http://127.0.0.1:8090 \
        [--applications 20000] [--workers 4] [--batch 1000]

Needs PostgreSQL and the SMS-gateway simulator (`STACK_NAME=… bash deploy/local/stack.sh infra-up` then
`… simulators-up`). It works in a scratch schema with notifications' migrations (dropped afterwards), so a
running service is not disturbed. Before the clock starts it stores N applications, each with an applicant
and a guardian who have mobile numbers (the recipient directory), and builds N decision-made events.

Timed, with the service's own code:
1. compose: per batch of 500 events (a consumer batch), one transaction that loads the directory, renders
   each message from its Jinja2 template (SMS text, e-mail subject and body), and inserts the messages with
   one unnest INSERT … ON CONFLICT DO NOTHING. Each event gives 2 SMS and 1 inbox message.
2. dispatch: `--workers` dispatchers claim batches (SKIP LOCKED), hand them to the HTTP gateway adapter
   (the simulator's batch API) and mark them sent, until nothing is pending.
The figure that answers the target is `messages_per_s`: all messages (SMS + inbox) over compose + dispatch
wall time. With --dispatch-processes N (and --pipelined) this process composes while N other processes
dispatch, as a second replica of the service would (claims skip each other's rows). With --pipelined both run at once, as in the service (consumers compose while dispatchers send),
and the time is from the first compose to the last message handed over; without it they run one after the
other and are timed apart (planner statistics are refreshed in between, untimed). Wall and CPU seconds of this process are reported; the simulator and PostgreSQL run beside it on
the same machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import platform
import random
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg

from notifications.channels import SmsChannel
from notifications.compose import Composer
from notifications.dispatch import Dispatcher
from notifications.gateway import HttpSmsGateway
from notifications.metrics import NotificationMetrics
from notifications.policy import Backoff, QuietHours, RateLimit, SystemClock
from notifications.settings import DEFAULT_SIGNATURES
from notifications.store import load_applications, store_drafts
from subsidy_contracts.eligibility import (
    ConditionResult,
    DecisionMade,
    DecisionMadePayload,
    Outcome,
    RulePackRef,
)
from subsidy_runtime.db import create_pool
from subsidy_runtime.migrations import migrate, service_migrations
from subsidy_runtime.outbox import Transaction

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英"
PROGRAMMES = ("hn.one-off-hiring-subsidy", "hn.si-subsidy", "sx.internship-subsidy")


def name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.randint(1, 2)))


async def seed(pool: asyncpg.Pool, n: int, rng: random.Random) -> list[DecisionMade]:
    apps, recipients, events = [], [], []
    for i in range(n):
        app_id, applicant_id = uuid.uuid4(), uuid.uuid4()
        programme = PROGRAMMES[i % len(PROGRAMMES)]
        apps.append(
            (app_id, programme, "430102", f"****{i % 10000:04d}", str(applicant_id), applicant_id, uuid.uuid4())
        )
        recipients.append((app_id, "applicant", name(rng), f"13{i:09d}", None))
        recipients.append((app_id, "guardian", name(rng), f"15{i:09d}", None))
        outcome = (Outcome.ELIGIBLE, Outcome.INELIGIBLE, Outcome.NEEDS_REVIEW)[i % 3]
        payload = DecisionMadePayload(
            decision_id=uuid.uuid4(),
            application_id=app_id,
            applicant_id=applicant_id,
            rule_pack=RulePackRef(programme_id=programme, version="2024.1", jurisdiction="43"),
            outcome=outcome,
            amount=Decimal(rng.randint(500, 5000)).quantize(Decimal("0.01")) if outcome is Outcome.ELIGIBLE else 0,
            conditions=[
                ConditionResult(
                    code="AGE", passed=outcome is Outcome.ELIGIBLE, reason_zh="年龄不符合条件", reason_en=""
                )
            ],
            legal_basis=[],
            evaluated_on=date.today(),
            decided_at=datetime.now(UTC),
        )
        events.append(
            DecisionMade.create(payload, producer="bench", subject_key=str(applicant_id), correlation_id=uuid.uuid4())
        )
    async with pool.acquire() as conn:
        await conn.copy_records_to_table(
            "applications",
            records=apps,
            columns=[
                "application_id",
                "programme_id",
                "jurisdiction",
                "payee_masked",
                "subject_key",
                "applicant_id",
                "correlation_id",
            ],
        )
        await conn.copy_records_to_table("recipients", records=recipients)
        # A live table has planner statistics (autovacuum analyses it); a scratch one needs them made.
        await conn.execute("ANALYZE applications, recipients")
    return events


async def compose_all(pool: asyncpg.Pool, events: list[DecisionMade], metrics: NotificationMetrics) -> int:
    composed = 0
    quiet = QuietHours(enabled=False)
    for start in range(0, len(events), 500):
        batch = events[start : start + 500]
        async with pool.acquire() as conn, conn.transaction():
            apps = await load_applications(conn, [e.payload.application_id for e in batch])
            composer = Composer(dict(DEFAULT_SIGNATURES), "【人社服务】", quiet)
            now = datetime.now(UTC)
            for e in batch:
                composer.decision_made(e, apps[e.payload.application_id], now)
            tx = Transaction(conn, "bench")
            composed += await store_drafts(tx, composer.drafts, metrics, now)
            await tx.flush()
    return composed


async def dispatch_all(
    pool: asyncpg.Pool,
    gateway_url: str,
    workers: int,
    batch: int,
    metrics: NotificationMetrics,
    composing: asyncio.Task[int] | None = None,
) -> int:
    """Dispatch until nothing is pending (and, when `composing` is given, until it is done too)."""
    channel = SmsChannel(HttpSmsGateway(gateway_url, timeout_s=60))
    d = Dispatcher(
        pool=pool,
        schema="bench",
        channel=channel,
        clock=SystemClock(),
        quiet_hours=QuietHours(enabled=False),
        rate_limit=RateLimit(5, timedelta(hours=1)),
        backoff=Backoff(),
        lease=timedelta(seconds=60),
        batch_size=batch,
        metrics=metrics,
    )

    async def worker() -> int:
        n = 0
        while True:
            k = await d.dispatch_once()
            n += k
            if k == 0:
                if composing is None or composing.done():
                    return n
                await asyncio.sleep(0.02)  # the composer is ahead of nothing yet: look again shortly

    return sum(await asyncio.gather(*(worker() for _ in range(workers))))


def dispatch_process(dsn: str, schema: str, gateway: str, workers: int, batch: int, composed: Any, result: Any) -> None:
    """A dispatcher replica in its own process (as a second service instance would be): sends until the
    composer is done and nothing is pending, then reports how many it handed over."""

    async def run() -> int:
        pool = await create_pool(dsn, schema=schema, application_name="bench-dispatch", max_size=workers + 1)
        try:
            total = 0
            while True:
                was_done = composed.is_set()
                total += await dispatch_all(pool, gateway, workers, batch, NotificationMetrics())
                if was_done:
                    return total
                await asyncio.sleep(0.02)
        finally:
            await pool.close()

    result.put(asyncio.run(run()))


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dsn", required=True, help="a PostgreSQL DSN allowed to create a schema")
    parser.add_argument("--gateway", required=True, help="SMS-gateway simulator base URL")
    parser.add_argument("--applications", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=20261130)
    parser.add_argument("--out", type=Path, help="also write the JSON result to this file")
    parser.add_argument(
        "--pipelined", action="store_true", help="compose and dispatch at the same time, as the service does"
    )
    parser.add_argument(
        "--dispatch-processes",
        type=int,
        default=0,
        help="with --pipelined: dispatch from this many other processes (replicas) while this one composes",
    )
    args = parser.parse_args()

    schema = f"bench_notifications_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(args.dsn)
    await admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        await migrate(
            admin,
            schema,
            service_migrations("notifications.migrations"),
        )
        pool = await create_pool(
            args.dsn, schema=schema, application_name="bench-notifications", max_size=args.workers + 2
        )
        try:
            events = await seed(pool, args.applications, random.Random(args.seed))
            metrics = NotificationMetrics()
            if args.pipelined and args.dispatch_processes:
                # Two service instances' worth: this process composes, others dispatch (claims skip each other).
                ctx = multiprocessing.get_context("spawn")
                done, results = ctx.Event(), ctx.Queue()
                procs = [
                    ctx.Process(
                        target=dispatch_process,
                        args=(args.dsn, schema, args.gateway, args.workers, args.batch, done, results),
                    )
                    for _ in range(args.dispatch_processes)
                ]
                for proc in procs:
                    proc.start()
                await asyncio.sleep(3)  # let them import and connect before the clock starts
                cpu0, t0 = time.process_time(), time.perf_counter()
                composed = await compose_all(pool, events, metrics)
                done.set()
                sent = 0
                for _ in procs:
                    sent += await asyncio.get_running_loop().run_in_executor(None, results.get)
                t2, cpu2 = time.perf_counter(), time.process_time()
                for proc in procs:
                    proc.join()
                t1 = t1b = t0
                cpu1 = cpu1b = cpu0
            elif args.pipelined:
                # As in the service: consumers compose while the dispatchers send, on the same tables.
                cpu0, t0 = time.process_time(), time.perf_counter()
                composing = asyncio.create_task(compose_all(pool, events, metrics))
                sent = await dispatch_all(pool, args.gateway, args.workers, args.batch, metrics, composing)
                composed = await composing
                sent += await dispatch_all(pool, args.gateway, args.workers, args.batch, metrics)
                t2, cpu2 = time.perf_counter(), time.process_time()
                t1 = t1b = t0
                cpu1 = cpu1b = cpu0
            else:
                cpu0, t0 = time.process_time(), time.perf_counter()
                composed = await compose_all(pool, events, metrics)
                t1, cpu1 = time.perf_counter(), time.process_time()
                async with pool.acquire() as conn:  # not timed: what autovacuum does on a live table
                    await conn.execute("ANALYZE messages, outgoing")
                t1b, cpu1b = time.perf_counter(), time.process_time()
                sent = await dispatch_all(pool, args.gateway, args.workers, args.batch, metrics)
                t2, cpu2 = time.perf_counter(), time.process_time()
            async with pool.acquire() as conn:
                by_status = {
                    f"{r['channel']}:{r['status']}": r["n"]
                    for r in await conn.fetch("SELECT channel, status, count(*) AS n FROM messages GROUP BY 1, 2")
                }
        finally:
            await pool.close()
    finally:
        await admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await admin.close()

    result = {
        "benchmark": "notifications",
        "applications": args.applications,
        "messages": composed,
        "sms_handed_to_gateway": sent,
        "messages_by_status": by_status,
        "mode": "pipelined" if args.pipelined else "compose, then dispatch",
        "compose_s": None if args.pipelined else round(t1 - t0, 3),
        "dispatch_s": None if args.pipelined else round(t2 - t1b, 3),
        "total_s": round(t1 - t0 + t2 - t1b, 3),
        "cpu_s": round(cpu1 - cpu0 + cpu2 - cpu1b, 3),  # this process only
        "composed_per_s": None if args.pipelined else round(composed / (t1 - t0)),
        "sms_dispatched_per_s": None if args.pipelined else round(sent / (t2 - t1b)),
        "messages_per_s": round(composed / (t1 - t0 + t2 - t1b)),
        # This process's CPU: meaningful only when it does all the work.
        "messages_per_cpu_s": None
        if args.pipelined and args.dispatch_processes
        else round(composed / (cpu1 - cpu0 + cpu2 - cpu1b)),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "workers": args.workers,
        "dispatch_processes": args.dispatch_processes if args.pipelined else 0,
        "batch": args.batch,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": sys.platform},
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    text = json.dumps(result, ensure_ascii=False, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    asyncio.run(main())
