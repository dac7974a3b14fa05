"""Where one core's time goes in `eligibility evaluate`: microseconds per decision for each phase.

    python -m bench.eligibility_phases --programme hn.one-off-hiring-subsidy --persons 20000 [--runs 3]

The same inputs and evaluation date as bench.eligibility_evaluate, on the command line's own code path
(eligibility.cli.parse_line, eligibility.evaluate.evaluate_input and decision_json), timed phase by phase in CPU
time in one process pinned to one core:
  parse:    bytes of one facts object -> the validated EvaluationInput (pydantic-core)
  evaluate: the rule pack on the case, with every condition's values and bilingual reasons
  json:     the decision document as bytes (orjson)
and two floors: orjson alone reading the input line, and writing the finished decision from plain dicts.
Each phase runs over all inputs before the next (so the figures include the allocator and collector as a bulk
run has them); the floor a phase sets under the whole is what the issue-3 target (20,000 decisions/s, i.e.
50 µs per decision) is measured against.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from bench.eligibility_evaluate import PROGRAMMES, generate
from eligibility.cli import parse_line
from eligibility.domain.dates import local_date
from eligibility.domain.parameters import ParameterSet
from eligibility.evaluate import decision_json, evaluate_input
from eligibility.programmes import CATALOGUE
from subsidy_runtime.bulk import tune_gc_for_bulk


def _one_run(programme: str, on: str, lines: list[bytes]) -> dict[str, float]:
    params = ParameterSet.bundled()
    today = local_date(datetime.now(UTC))
    day = datetime.fromisoformat(on).date()
    t0 = time.process_time()
    inputs = [parse_line(line) for line in lines]
    t1 = time.process_time()
    evaluated = [evaluate_input(CATALOGUE, params, programme, data, today, day) for data in inputs]
    t2 = time.process_time()
    documents = [decision_json(case, evaluation, CATALOGUE) for case, evaluation in evaluated]
    t3 = time.process_time()
    n = len(lines)
    assert len(documents) == n
    # Floors: the JSON libraries alone, on data already in the shape they like (no validation, no building).
    as_dicts = [orjson.loads(d) for d in documents]
    t4 = time.process_time()
    for line in lines:
        orjson.loads(line)
    t5 = time.process_time()
    for d in as_dicts:
        orjson.dumps(d)
    t6 = time.process_time()
    return {
        "parse_us": round(1e6 * (t1 - t0) / n, 1),
        "evaluate_us": round(1e6 * (t2 - t1) / n, 1),
        "json_us": round(1e6 * (t3 - t2) / n, 1),
        "total_us": round(1e6 * (t3 - t0) / n, 1),
        "decisions_per_cpu_second": round(n / (t3 - t0)),
        "floor_orjson_loads_input_us": round(1e6 * (t5 - t4) / n, 1),
        "floor_orjson_dumps_decision_dict_us": round(1e6 * (t6 - t5) / n, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--programme", choices=sorted(PROGRAMMES), default="hn.one-off-hiring-subsidy")
    parser.add_argument("--persons", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=20201231)
    parser.add_argument("--cpu", type=int, default=0, help="core to pin this process to")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})
    on = PROGRAMMES[args.programme][1]
    with tempfile.TemporaryDirectory(prefix="eligibility-phases-") as tmp:
        source = Path(tmp) / "persons.jsonl"
        generate(args.programme, args.persons, source, args.seed)
        lines = source.read_bytes().splitlines()
    tune_gc_for_bulk()  # as the command line does
    runs = [_one_run(args.programme, on, lines) for _ in range(args.runs)]
    result: dict[str, Any] = {
        "benchmark": "eligibility evaluate, per phase (in-process, CPU time)",
        "programme": args.programme,
        "on": on,
        "persons": args.persons,
        "runs": runs,
        "median": {key: statistics.median(r[key] for r in runs) for key in runs[0]},
        "pinned_cpu": args.cpu,
        "python": platform.python_version(),
        "machine": f"{platform.machine()} {os.cpu_count()} cpu",
        "load_average_1m": round(os.getloadavg()[0], 2),
    }
    text = json.dumps(result, ensure_ascii=False, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
