"""Bulk intake benchmark: N persons with internship applications, as JSON lines, imported through the bulk path
(`registration import`: the same validation, idempotency and COPY code as the Kafka intake consumer) into a
running PostgreSQL; prints records/s and stored rows/s as JSON.

    STACK_NAME=h4 STACK_PORT_OFFSET=4 bash deploy/local/stack.sh infra-up
    source deploy/local/env.sh && .venv/bin/python -m bench.registration_import --persons 100000

Each record is one intern (a new person), the host unit that applies for them (an enterprise, shared by many
records), the unit's basic account and one sx.internship-subsidy application with its facts (internship,
graduation or unemployment registration, the unit's cohort). The data comes from deploy/local/demo/data.py.
Generating the file is not timed; the clock runs from the first record read to the last batch committed
(validation included). By default two importer processes share the file, split by applicant (`--workers`,
as `registration import --workers`); `--workers 1` measures one. Stored rows = persons, enterprises, links,
accounts, facts, applications, timeline entries, audit rows, intake results and outbox events written.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import resource
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
import orjson

from deploy.local.demo import data

ROOT = Path(__file__).resolve().parents[1]
INTEGRATION_KEY = "sx-prov-0001"
TABLES = (
    "persons",
    "person_links",
    "enterprises",
    "enterprise_links",
    "payee_accounts",
    "facts",
    "applications",
    "application_timeline",
    "audit_log",
    "intake_results",
)


def intake_records(
    n: int, *, seed: int = 7, units: int | None = None, prefix: str = "bench"
) -> Iterator[dict[str, Any]]:
    """n intake records with distinct interns; host units shared (about 20 interns each)."""
    rng = random.Random(seed)
    hosts = data.host_units(rng, units or max(1, n // 20))
    for unit in hosts:
        unit.enterprise_id = "enterprise"  # the record's own enterprise (see subsidy_contracts.intake)
    for i, person in enumerate(data.interns(rng, n)):
        person.person_id = "person"
        unit = hosts[i % len(hosts)]
        facts = data.internship_facts(rng, person, unit)
        internship = facts[0]
        yield {
            "source_reference": f"{prefix}-{seed}-{i:07d}",
            "person": {
                "id_number": person.id_number,
                "name": person.name,
                "region_code": person.region_code,
                "mobile": person.mobile,
            },
            "enterprise": {
                "credit_code": unit.credit_code,
                "name": unit.name,
                "region_code": unit.region_code,
                "size": "small",
                "contact_name": unit.contact_name,
                "contact_mobile": unit.contact_mobile,
            },
            "account": {
                "kind": "enterprise_basic",
                "account_number": unit.account_number,
                "holder_name": unit.name,
                "bank_code": unit.bank_code,
                "bank_name": unit.bank_name,
            },
            "application": {
                "programme_id": "sx.internship-subsidy",
                "applicant": "enterprise",
                "beneficiary": "person",
                "period": {"start": internship["agreement_start"], "end": internship["agreement_end"]},
                "facts": facts,
            },
        }


def write_jsonl(path: Path, records: Iterator[dict[str, Any]]) -> int:
    n = 0
    with path.open("wb") as f:
        for record in records:
            f.write(orjson.dumps(record) + b"\n")
            n += 1
    return n


async def _counts(dsn: str) -> dict[str, int]:
    conn = await asyncpg.connect(dsn)
    try:
        out = {t: await conn.fetchval(f"SELECT count(*) FROM registration.{t}") for t in TABLES}
        out["outbox"] = await conn.fetchval("SELECT count(*) FROM registration.outbox")
        return out
    finally:
        await conn.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=2000)
    parser.add_argument(
        "--workers",
        type=int,
        default=2,
        help="importer processes: the file split by applicant, as `registration import --workers` (default 2, the "
        "test machine's cores; 1 for a single importer)",
    )
    parser.add_argument("--seed", type=int, default=int(date.today().strftime("%Y%m%d")))
    parser.add_argument("--file", type=Path, default=None, help="where to write the JSON lines (default /tmp)")
    parser.add_argument("--profile", action="store_true", help="run the import under cProfile (top 40 to stderr)")
    args = parser.parse_args()

    from registration.cli import import_file, tune_gc_for_bulk
    from registration.settings import RegistrationSettings
    from subsidy_runtime.auth import IntegrationRegistry

    pg_port = os.environ.get("PG_PORT", "55432")
    dsn = (
        os.environ.get("REGISTRATION_DATABASE_URL")
        or f"postgresql://registration:registration_local@127.0.0.1:{pg_port}/subsidy"
    )
    admin_dsn = (
        os.environ.get("ADMIN_DATABASE_URL")
        or f"postgresql://subsidy_admin:subsidy_admin_local@127.0.0.1:{pg_port}/subsidy"
    )
    integrations_file = os.environ.get("INTEGRATIONS_FILE") or str(ROOT / "deploy" / "local" / "integrations.yaml")
    settings = RegistrationSettings(database_url=dsn, integrations_file=integrations_file)
    integration = IntegrationRegistry.from_file(integrations_file).by_key(INTEGRATION_KEY)
    assert integration is not None

    path = args.file or Path(tempfile.gettempdir()) / f"registration-import-{args.persons}-{args.seed}.jsonl"
    t0 = time.perf_counter()
    written = write_jsonl(path, intake_records(args.persons, seed=args.seed))
    generation_s = time.perf_counter() - t0

    before = asyncio.run(_counts(admin_dsn)) if _schema_exists(admin_dsn) else dict.fromkeys((*TABLES, "outbox"), 0)

    def run() -> Any:
        # The service's logs (migrations applied) go to stderr: stdout carries the result document only.
        with path.open("rb") as stream, contextlib.redirect_stdout(sys.stderr):
            return asyncio.run(
                import_file(
                    stream,
                    settings=settings,
                    integration=integration,
                    batch_size=args.batch_size,
                    workers=args.workers,
                )
            )

    tune_gc_for_bulk()  # as `registration import` does
    watcher = BackendCpu(admin_dsn)
    watcher.start()
    cpu_before = _cpu_seconds()
    if args.profile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        summary = profiler.runcall(run)
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(40)
    else:
        summary = run()
    importer_cpu_s = _cpu_seconds() - cpu_before
    watcher.stop()
    after = asyncio.run(_counts(admin_dsn))
    rows = {t: after[t] - before.get(t, 0) for t in after}
    stored_rows = sum(rows.values())
    result = {
        "benchmark": "registration bulk import (JSON lines -> validation -> COPY)",
        "persons": args.persons,
        "records_in_file": written,
        "batch_size": args.batch_size,
        "workers": args.workers,
        "seed": args.seed,
        "generation_seconds": round(generation_s, 2),
        "import": summary.as_json(),
        "records_per_second": round(summary.records / summary.seconds, 1),
        "stored_rows": rows,
        "stored_rows_total": stored_rows,
        "stored_rows_per_second": round(stored_rows / summary.seconds, 1),
        "importer_cpu_seconds": round(importer_cpu_s, 2),  # all importer processes
        "database_backend_cpu_seconds": round(watcher.cpu_seconds, 2),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "load_avg_1m": os.getloadavg()[0]},
        "command": " ".join(["python -m bench.registration_import", *sys.argv[1:]]),
    }
    print(json.dumps(result, ensure_ascii=False, indent=2))
    return 0


class BackendCpu(threading.Thread):
    """CPU seconds used by the import's PostgreSQL backend processes (Linux /proc; same machine only)."""

    def __init__(self, admin_dsn: str) -> None:
        super().__init__(daemon=True)
        self.admin_dsn = admin_dsn
        self.seen: dict[int, float] = {}
        self._stop_event = threading.Event()

    @property
    def cpu_seconds(self) -> float:
        return sum(self.seen.values())

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=5)

    def run(self) -> None:
        asyncio.run(self._watch())

    async def _watch(self) -> None:
        conn = await asyncpg.connect(self.admin_dsn)
        tick = os.sysconf("SC_CLK_TCK")
        try:
            while not self._stop_event.is_set():
                pids = await conn.fetch(
                    "SELECT pid FROM pg_stat_activity WHERE application_name = 'registration-import'"
                )
                for row in pids:
                    used = _process_cpu_seconds(row["pid"], tick)
                    if used is not None:
                        self.seen[row["pid"]] = used
                await asyncio.sleep(0.2)
        finally:
            await conn.close()


def _cpu_seconds() -> float:
    """User + system CPU of this process and of its finished worker processes (`--workers`)."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def _process_cpu_seconds(pid: int, tick: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / tick  # utime + stime


def _schema_exists(admin_dsn: str) -> bool:
    async def check() -> bool:
        conn = await asyncpg.connect(admin_dsn)
        try:
            return bool(await conn.fetchval("SELECT to_regclass('registration.intake_results') IS NOT NULL"))
        finally:
            await conn.close()

    return asyncio.run(check())


if __name__ == "__main__":
    raise SystemExit(main())
