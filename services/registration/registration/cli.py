"""`registration import FILE.jsonl`: bulk intake from a JSON-lines file (or `-` for stdin).

Each line is one intake record (subsidy_contracts.intake.IntakeRecord). Records go through the same
validation, idempotency and COPY path as batches on the Kafka topic (registration.intake): a re-run of the
same file accepts nothing twice. Prints a summary (accepted, already accepted, duplicates, refused with their
reasons); with --results also one JSON line per record on stdout (the summary then goes to stderr).

    registration import applications.jsonl --integration sx-prov-0001
    python -m registration.cli import - --integration sx-prov-0001 --results < applications.jsonl
    registration import applications.jsonl --integration sx-prov-0001 --workers 2

With --workers N the file is read first and split by applicant (records sharing a source reference, resident ID
or credit code stay together, in file order) and each part is imported by its own process with its own
connection and transactions; importers need no lock among themselves (see registration.intake). Results then
come part after part. On the 2-core test machine two workers stored 100,000 records in 44 s, one in 55 s
(bench/results/registration-import.md).

The database and the integrations come from the service's settings (DATABASE_URL, INTEGRATIONS_FILE).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import io
import multiprocessing
import re
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import asyncpg
import orjson

from subsidy_contracts.intake import IntakeError, IntakeStatus
from subsidy_runtime.auth import Integration, IntegrationRegistry
from subsidy_runtime.db import create_pool
from subsidy_runtime.migrations import migrate, service_migrations

from .intake import Batch, Incoming, RecordResult, gc_paused, may_hold_nul, prepare, store
from .settings import RegistrationSettings


@dataclass
class Summary:
    records: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    refusals: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    def add(self, results: list[RecordResult]) -> None:
        self.records += len(results)
        for r in results:
            self.statuses[r.status.value] += 1
            for e in r.errors:
                if r.status is IntakeStatus.REJECTED:
                    self.refusals[f"{e.field}: {e.reason}"] += 1

    def merge(self, other: Summary) -> None:
        self.records += other.records
        self.statuses.update(other.statuses)
        self.refusals.update(other.refusals)

    def as_json(self) -> dict[str, Any]:
        return {
            "records": self.records,
            "accepted": self.statuses[IntakeStatus.ACCEPTED.value],
            "already_accepted": self.statuses[IntakeStatus.ALREADY_ACCEPTED.value],
            "duplicate_applications": self.statuses[IntakeStatus.DUPLICATE_APPLICATION.value],
            "refused": self.statuses[IntakeStatus.REJECTED.value],
            "refusal_reasons": dict(self.refusals.most_common(50)),
            "seconds": round(self.seconds, 3),
            "records_per_second": round(self.records / self.seconds, 1) if self.seconds else None,
        }


def read_lines(stream: IO[bytes], size: int) -> Iterator[list[tuple[int, bytes]]]:
    """The stream's non-blank lines with their numbers, `size` at a time."""
    chunk: list[tuple[int, bytes]] = []
    for number, line in enumerate(stream, start=1):
        if line.strip():
            chunk.append((number, line))
            if len(chunk) >= size:
                yield chunk
                chunk = []
    if chunk:
        yield chunk


def prepare_lines(lines: list[tuple[int, bytes]], caller: Integration) -> list[Incoming]:
    """Each line validated without the database."""
    with gc_paused():
        return [_prepare_line(number, line, caller) for number, line in lines]


def _prepare_line(number: int, line: bytes, caller: Integration) -> Incoming:
    """A line that is not JSON is refused by its number."""
    try:
        raw = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        error = IntakeError(field="(line)", reason=f"not valid JSON: {exc}", reason_zh="不是有效的 JSON")
        return Incoming(None, "", RecordResult(f"(line {number})", IntakeStatus.REJECTED, errors=[error]))
    return prepare(raw, caller, number, check_nul=may_hold_nul(line))


async def import_file(
    stream: IO[bytes],
    *,
    settings: RegistrationSettings,
    integration: Integration,
    batch_size: int = 2000,
    results_out: IO[bytes] | None = None,
    publish_results: bool = False,
    workers: int = 1,
) -> Summary:
    """Import every record of the stream, one transaction per `batch_size` records.

    With `workers` > 1 the file is read first and split by applicant (`partition_lines`): each part is imported
    by its own process (this one takes the first), with its own connection and transactions, in file order
    within the part. Results (`results_out`) then come part after part."""
    await _migrate(settings)
    run_id = uuid.uuid4()
    started = time.perf_counter()
    if workers <= 1:
        summary = await _import_chunks(
            read_lines(stream, batch_size),
            settings=settings,
            integration=integration,
            batch_prefix=f"import:{run_id}",
            request_id=f"import:{run_id}",
            results_out=results_out,
            publish_results=publish_results,
        )
    else:
        loop = asyncio.get_running_loop()
        # spawn: a fresh interpreter (this process runs an event loop and threads, which fork would copy).
        with ProcessPoolExecutor(max_workers=workers - 1, mp_context=multiprocessing.get_context("spawn")) as pool:
            for _ in range(workers - 1):
                pool.submit(_warm_up)  # the workers start (and import) while the file is split
            parts = partition_lines(stream, workers)
            others = [
                loop.run_in_executor(
                    pool,
                    _import_part,
                    part,
                    settings,
                    integration,
                    batch_size,
                    f"import:{run_id}:p{k}",
                    f"import:{run_id}",
                    results_out is not None,
                    publish_results,
                )
                for k, part in enumerate(parts[1:], start=1)
            ]
            summary = await _import_chunks(
                _chunks(parts[0], batch_size),
                settings=settings,
                integration=integration,
                batch_prefix=f"import:{run_id}:p0",
                request_id=f"import:{run_id}",
                results_out=results_out,
                publish_results=publish_results,
            )
            for part_summary, part_results in await asyncio.gather(*others):
                summary.merge(part_summary)
                if results_out is not None:
                    results_out.write(part_results)
    summary.seconds = time.perf_counter() - started
    return summary


async def _migrate(settings: RegistrationSettings) -> None:
    conn = await asyncpg.connect(settings.database_url, server_settings={"search_path": settings.schema_name})
    try:
        await migrate(
            conn,
            settings.schema_name,
            service_migrations("registration.migrations"),
        )
    finally:
        await conn.close()


async def _import_chunks(
    chunks: Iterator[list[tuple[int, bytes]]],
    *,
    settings: RegistrationSettings,
    integration: Integration,
    batch_prefix: str,
    request_id: str,
    results_out: IO[bytes] | None,
    publish_results: bool,
) -> Summary:
    summary = Summary()
    pool = await create_pool(
        settings.database_url,
        schema=settings.schema_name,
        application_name="registration-import",
        min_size=1,
        max_size=1,
    )
    try:

        def prepare_next() -> asyncio.Future[list[Incoming]] | None:
            # Validation runs in a thread while the previous batch is written: the database works on one batch
            # while Python checks the next (the thread holds the GIL only while it computes).
            lines = next(chunks, None)
            if lines is None:
                return None
            return asyncio.ensure_future(asyncio.to_thread(prepare_lines, lines, integration))

        async with pool.acquire() as conn:
            await _compress_with_lz4(conn)
            pending = prepare_next()
            n = 0
            while pending is not None:
                records = await pending
                pending = prepare_next()
                n += 1
                batch = Batch(
                    integration=integration,
                    batch_id=f"{batch_prefix}:{n}",
                    request_id=request_id,
                    records=records,
                    publish_results=publish_results,
                )
                results = await store(conn, settings.schema_name, batch)
                summary.add(results)
                if n % GC_EVERY_BATCHES == 0 and not gc.isenabled():
                    gc.collect()  # whatever reference cycles the batches left (see tune_gc_for_bulk)
                if results_out is not None:
                    results_out.write(b"".join(orjson.dumps(r.as_json()) + b"\n" for r in results))
    finally:
        await pool.close()
    return summary


async def _compress_with_lz4(conn: Any) -> None:
    """Values PostgreSQL compresses (application-submitted events carry every fact of their subjects: 4-6 KB
    each) are compressed with lz4 rather than the default pglz in this session: pglz took most of the time of
    writing the outbox rows. Reading them is the same; a server built without lz4 keeps pglz."""
    with contextlib.suppress(asyncpg.PostgresError):
        await conn.execute("SET default_toast_compression = 'lz4'")


def _import_part(
    lines: list[tuple[int, bytes]],
    settings: RegistrationSettings,
    integration: Integration,
    batch_size: int,
    batch_prefix: str,
    request_id: str,
    with_results: bool,
    publish_results: bool,
) -> tuple[Summary, bytes]:
    """One part of a file split by `partition_lines`, in a worker process: (summary, result lines)."""
    tune_gc_for_bulk()
    out = io.BytesIO() if with_results else None
    summary = asyncio.run(
        _import_chunks(
            _chunks(lines, batch_size),
            settings=settings,
            integration=integration,
            batch_prefix=batch_prefix,
            request_id=request_id,
            results_out=out,
            publish_results=publish_results,
        )
    )
    return summary, out.getvalue() if out is not None else b""


def _warm_up() -> None:
    from . import intake  # noqa: F401  (what a worker needs, loaded before its part arrives)


def _chunks(lines: list[tuple[int, bytes]], size: int) -> Iterator[list[tuple[int, bytes]]]:
    for i in range(0, len(lines), size):
        yield lines[i : i + size]


# A record's source reference, resident ID numbers and credit codes, read from its JSON text.
_PARTITION_KEYS = re.compile(rb'"(source_reference|id_number|credit_code)"\s*:\s*"((?:[^"\\]|\\.)*)"')


_KEY_PREFIXES = (b'"source_reference":"', b'"id_number":"', b'"credit_code":"')


def _partition_keys(line: bytes) -> list[bytes]:
    """The record's keys, its source reference first (repeats of a record stay in order): found with plain
    substring searches in compact JSON (as orjson and most producers write it), with the regular expression
    otherwise (spaces around the colon, escaped quotes), which costs ten times as much."""
    keys: list[bytes] = []
    for prefix in _KEY_PREFIXES:
        at = line.find(prefix)
        while at >= 0:
            start = at + len(prefix)
            end = line.find(b'"', start)
            if end < 0 or line[end - 1 : end] == b"\\":
                break  # an escaped quote: the slow way
            keys.append(prefix[1:2] + line[start:end].replace(b" ", b"").upper())
            at = line.find(prefix, end)
    if keys and keys[0][:1] == b"s" and b'\\"' not in line:
        return keys
    return sorted(
        (name[:1] + value.replace(b" ", b"").upper() for name, value in _PARTITION_KEYS.findall(line)),
        key=lambda k: k[:1] != b"s",
    )


def partition_lines(stream: IO[bytes], parts: int) -> list[list[tuple[int, bytes]]]:
    """The stream's non-blank lines split into `parts` lists, keeping together (in file order) every record that
    shares a source reference, a resident ID or a credit code with another: a host unit's interns, a person's
    applications, a repeated record. Each new group goes to the smallest part.

    The keys are read from the JSON text without parsing it: a record whose keys are spelt differently (escaped,
    lower-case X) may land apart from its group. That costs only speed, not correctness: importers running side
    by side are concurrent writers like any other (row locks, unique indexes and a retried batch, see
    registration.intake), and only the order between such records is then not the file's."""
    out: list[list[tuple[int, bytes]]] = [[] for _ in range(parts)]
    owner: dict[bytes, int] = {}
    for number, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        keys = _partition_keys(line)
        part = next((owner[k] for k in keys if k in owner), None)
        if part is None:
            part = min(range(parts), key=lambda i: len(out[i]))
        for k in keys:
            owner.setdefault(k, part)
        out[part].append((number, line))
    return out


def tune_gc_for_bulk() -> None:
    """For this one-shot process: what was loaded at start moves out of the collector's sight (gc.freeze), and the
    cyclic collector is off (batches allocate millions of short-lived objects, freed by reference counting; a
    collection triggered while a batch's objects are alive scans them all, measured at 35-70 ms per 2,000 records).
    The import runs a full collection itself every GC_EVERY_BATCHES batches, between two batches."""
    gc.freeze()
    gc.disable()


GC_EVERY_BATCHES = 20


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="registration", description="Registration service tools.")
    commands = parser.add_subparsers(dest="command", required=True)
    imp = commands.add_parser("import", help="import intake records from a JSON-lines file ('-' for stdin)")
    imp.add_argument("file", help="JSON-lines file of intake records, or - for stdin")
    imp.add_argument("--integration", required=True, metavar="KEY_ID", help="key id of the integration importing")
    imp.add_argument("--batch-size", type=int, default=2000, help="records per transaction (default 2000)")
    imp.add_argument("--results", action="store_true", help="print one JSON line per record on stdout")
    imp.add_argument("--publish-results", action="store_true", help="also publish an intake result per record on Kafka")
    imp.add_argument(
        "--workers",
        type=int,
        default=1,
        help="importer processes: the file is split by applicant, each part imported by its own process (default 1)",
    )
    imp.add_argument("--database-url", help="overrides DATABASE_URL")
    imp.add_argument("--integrations-file", help="overrides INTEGRATIONS_FILE")
    args = parser.parse_args(argv)

    overrides = {
        k: v
        for k, v in {"database_url": args.database_url, "integrations_file": args.integrations_file}.items()
        if v is not None
    }
    settings = RegistrationSettings(**overrides)
    if not settings.integrations_file:
        parser.error("INTEGRATIONS_FILE (or --integrations-file) is required to know the integration")
    integration = IntegrationRegistry.from_file(settings.integrations_file).by_key(args.integration)
    if integration is None:
        parser.error(f"unknown integration key id {args.integration!r}")
    if not 1 <= args.batch_size <= 50_000:
        parser.error("--batch-size must be between 1 and 50000")
    if not 1 <= args.workers <= 16:
        parser.error("--workers must be between 1 and 16")
    tune_gc_for_bulk()
    results_out = sys.stdout.buffer if args.results else None
    if args.file == "-":
        stream: IO[bytes] = sys.stdin.buffer
    else:
        path = Path(args.file)
        if not path.is_file():
            parser.error(f"no such file: {path}")
        stream = path.open("rb")
    try:
        summary = asyncio.run(
            import_file(
                stream,
                settings=settings,
                integration=integration,
                batch_size=args.batch_size,
                results_out=results_out,
                publish_results=args.publish_results,
                workers=args.workers,
            )
        )
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()
    out = sys.stderr if args.results else sys.stdout
    out.write(orjson.dumps(summary.as_json(), option=orjson.OPT_INDENT_2).decode() + "\n")
    out.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
