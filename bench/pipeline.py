"""End-to-end benchmark: push N applications through the running platform (./dev up) and print, as JSON,
applications per second and submit-to-notification latency percentiles.

    ./dev bench 10000          (or: python -m bench.pipeline --applications 10000, with deploy/local/env.sh sourced)

Setup (registering the host units, interns and accounts) is not timed. The clock starts at the first
application submitted over HTTP and stops when the last application's decision message has been accepted by
the SMS gateway. Each application's latency runs from its submission (registration's submitted_at) to the
gateway's acceptance of its decision message (notifications' sent_at): registration → Kafka → eligibility →
Kafka → notifications → SMS gateway, with payments working alongside.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import statistics
import sys
import time
import uuid
from typing import Any

import asyncpg

from deploy.local.demo import pipeline
from deploy.local.demo.client import RegistrationClient


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    k = (len(sorted_values) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (k - lo)


async def latencies(admin_dsn: str, ids: list[str]) -> tuple[list[float], float, float]:
    """Per-application latency in seconds, and the first submission and last notification times (epoch)."""
    conn = await asyncpg.connect(admin_dsn)
    try:
        rows = await conn.fetch(
            """SELECT a.id, extract(epoch FROM a.submitted_at) AS submitted, extract(epoch FROM m.sent) AS notified
               FROM registration.applications a
               JOIN (SELECT application_id, max(sent_at) AS sent FROM notifications.messages
                     WHERE template LIKE 'decision_%' AND channel = 'sms' AND status IN ('sent', 'delivered')
                       AND application_id = ANY($1::uuid[])
                     GROUP BY application_id) m ON m.application_id = a.id
               WHERE a.id = ANY($1::uuid[])""",
            [uuid.UUID(i) for i in ids],
        )
    finally:
        await conn.close()
    lat = sorted(float(r["notified"]) - float(r["submitted"]) for r in rows)
    first = min(float(r["submitted"]) for r in rows)
    last = max(float(r["notified"]) for r in rows)
    return lat, first, last


async def run(n: int, concurrency: int, seed: int, timeout_s: float) -> dict[str, Any]:
    admin_dsn = os.environ["ADMIN_DATABASE_URL"]
    client = RegistrationClient(f"http://127.0.0.1:{os.environ['REGISTRATION_HTTP_PORT']}", max_connections=concurrency)
    try:
        t_setup = time.monotonic()
        interns, bodies = await pipeline.prepare(client, n, seed)
        setup_s = time.monotonic() - t_setup
        t_submit = time.monotonic()
        submitted = await pipeline.submit_all(client, interns, bodies, concurrency=concurrency)
        submit_s = time.monotonic() - t_submit
    finally:
        await client.close()
    ids = [s.application_id for s in submitted]
    counts = await pipeline.wait_complete(admin_dsn, ids, timeout_s=timeout_s, poll_s=1.0)
    if not pipeline.complete(counts, n):
        return {"error": "pipeline did not complete in time", "stages": counts}
    lat, first, last = await latencies(admin_dsn, ids)
    wall = last - first
    return {
        "applications": n,
        "end_to_end_seconds": round(wall, 3),
        "applications_per_second": round(n / wall, 1),
        "submit_seconds": round(submit_s, 3),
        "submitted_per_second": round(n / submit_s, 1),
        "latency_ms": {
            "p50": round(percentile(lat, 0.50) * 1000, 1),
            "p95": round(percentile(lat, 0.95) * 1000, 1),
            "p99": round(percentile(lat, 0.99) * 1000, 1),
            "max": round(lat[-1] * 1000, 1),
            "mean": round(statistics.fmean(lat) * 1000, 1),
        },
        "http_concurrency": concurrency,
        "setup_seconds_untimed": round(setup_s, 1),
        "stages": counts,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.pipeline", description=__doc__.split("\n")[0] if __doc__ else None
    )
    parser.add_argument("--applications", "-n", type=int, required=True)
    parser.add_argument("--concurrency", type=int, default=64, help="concurrent HTTP submissions")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--timeout", type=float, default=3600.0)
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(10**9)
    result = asyncio.run(run(args.applications, args.concurrency, seed, args.timeout))
    print(json.dumps(result, indent=2, ensure_ascii=False))
    sys.exit(1 if "error" in result else 0)


if __name__ == "__main__":
    main()
