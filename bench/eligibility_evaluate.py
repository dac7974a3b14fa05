"""Bulk evaluation benchmark (issue 3, acceptance 3): generate N persons as JSON lines and time
`eligibility evaluate --programme ID --on DATE FILE` on one core; prints decisions per second as JSON.

    python -m bench.eligibility_evaluate --programme hn.one-off-hiring-subsidy --persons 100000
    python -m bench.eligibility_evaluate --programme sx.internship-subsidy --persons 100000 --out bench/results/...

Generation is not timed. Wall-clock time includes interpreter start-up and imports (about 1–2 s); the CPU time
of the child is printed too, because on a shared machine the wall clock also counts time the core spent on others. The command runs as a child process pinned to CPU 0 (taskset), so the figure is one
core's throughput including reading, parsing and validating every input and writing every decision. The inputs
are varied (seeded) so that the decisions mix eligible and ineligible outcomes; the outcome counts are printed.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import platform
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _hiring(rng: random.Random, n: int) -> dict[str, Any]:
    hired = date(2020, 5, 4) + timedelta(days=rng.randrange(200))
    registered = hired - timedelta(days=rng.randrange(120, 400))
    return {
        "applicant": {
            "kind": "enterprise",
            "id": str(uuid.UUID(int=n * 2 + 1)),
            "region_code": "430102",
            "size": rng.choice(["micro", "small", "medium", "large"]),
        },
        "beneficiary": {
            "id": str(uuid.UUID(int=n * 2 + 2)),
            "region_code": "430102",
            "birth_date": f"{rng.randrange(1965, 2000)}-0{rng.randrange(1, 10)}-1{rng.randrange(10)}",
        },
        "submitted_on": (hired + timedelta(days=40)).isoformat(),
        "facts": [
            {
                "kind": "unemployment_registration",
                "subject_id": "beneficiary",
                "registered_on": registered.isoformat(),
                "ended_on": hired.isoformat(),
                "region_code": "430102",
            },
            {
                "kind": "employment",
                "subject_id": "beneficiary",
                "employer_id": "applicant",
                "employer_name": "长沙某公司",
                "start": hired.isoformat(),
                "contract_years": rng.choice([0, 1, 1, 2, 3]),
            },
            {
                "kind": "contribution",
                "subject_id": "beneficiary",
                "month": hired.replace(day=1).isoformat(),
                "pension": True,
                "medical": True,
                "unemployment": rng.random() > 0.05,
            },
        ],
    }


def _sx_internship(rng: random.Random, n: int) -> dict[str, Any]:
    count = rng.randrange(3, 7)
    return {
        "applicant": {"kind": "enterprise", "id": str(uuid.UUID(int=n * 2 + 1)), "region_code": "140105"},
        "beneficiary": {"id": str(uuid.UUID(int=n * 2 + 2)), "region_code": "140105", "birth_date": "1999-05-01"},
        "submitted_on": "2022-09-15",
        "facts": [
            {
                "kind": "graduation",
                "subject_id": "beneficiary",
                "graduated_on": rng.choice(["2021-06-30", "2019-06-30"]),
                "education_level": "bachelor",
                "school_name": "太原理工大学",
            },
            {
                "kind": "internship",
                "subject_id": "beneficiary",
                "host_enterprise_id": "applicant",
                "agreement_start": "2022-03-01",
                "agreement_end": "2022-08-31",
                "accident_insurance": rng.random() > 0.05,
                "months": [
                    {
                        "month": f"2022-0{3 + k}-01",
                        "working_days": rng.choice([20, 20, 12]),
                        "allowance_paid": "1900.00",
                    }
                    for k in range(count)
                ],
            },
        ],
    }


PROGRAMMES = {
    "hn.one-off-hiring-subsidy": (_hiring, "2020-12-31"),
    "sx.internship-subsidy": (_sx_internship, "2022-08-31"),
}


def _with_ids(body: dict[str, Any]) -> dict[str, Any]:
    """Replace the aliases "applicant" / "beneficiary" in facts by the parties' ids, as exported data has them."""
    ids = {"applicant": body["applicant"]["id"], "beneficiary": body["beneficiary"]["id"]}
    facts = [{k: ids.get(v, v) if k.endswith("_id") else v for k, v in f.items()} for f in body["facts"]]
    return {**body, "facts": facts}


def generate(programme: str, persons: int, path: Path, seed: int, aliases: bool = False) -> None:
    make, _ = PROGRAMMES[programme]
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as f:
        for n in range(persons):
            body = make(rng, n)
            f.write(json.dumps(body if aliases else _with_ids(body), ensure_ascii=False, separators=(",", ":")))
            f.write("\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--programme", choices=sorted(PROGRAMMES), default="hn.one-off-hiring-subsidy")
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--on", default=None, help="evaluation date passed as --on (default: the programme's own)")
    parser.add_argument("--seed", type=int, default=20201231)
    parser.add_argument("--cpu", type=int, default=0, help="core to pin the command to")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON result here")
    parser.add_argument("--aliases", action="store_true", help='facts name parties "applicant"/"beneficiary"')
    args = parser.parse_args(argv)
    on = args.on or PROGRAMMES[args.programme][1]
    with tempfile.TemporaryDirectory(prefix="eligibility-bench-") as tmp:
        source = Path(tmp) / "persons.jsonl"
        decisions = Path(tmp) / "decisions.jsonl"
        generate(args.programme, args.persons, source, args.seed, args.aliases)
        command = [sys.executable, "-m", "eligibility.cli", "evaluate", "--programme", args.programme]
        if on:
            command += ["--on", on]
        command.append(str(source))
        if shutil.which("taskset"):
            command = ["taskset", "-c", str(args.cpu), *command]
        with decisions.open("wb") as out:
            cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
            started = time.perf_counter()
            subprocess.run(command, stdout=out, check=True, cwd=ROOT)
            elapsed = time.perf_counter() - started
            cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
        outcomes: collections.Counter[str] = collections.Counter()
        lines = 0
        with decisions.open("rb") as f:
            for line in f:
                lines += 1
                outcomes[json.loads(line).get("outcome", "error")] += 1
        size = source.stat().st_size
    result = {
        "benchmark": "eligibility evaluate (command line, bulk JSON lines)",
        "programme": args.programme,
        "on": on,
        "persons": args.persons,
        "party_references": "aliases" if args.aliases else "ids",
        "decisions": lines,
        "outcomes": dict(sorted(outcomes.items())),
        "seconds": round(elapsed, 3),
        "decisions_per_second": round(lines / elapsed, 1),
        "cpu_seconds": round(cpu, 3),
        "decisions_per_cpu_second": round(lines / cpu, 1),
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "input_bytes": size,
        "pinned_cpu": args.cpu if shutil.which("taskset") else None,
        "command": " ".join([*command[:-1], "persons.jsonl"]),
        "python": platform.python_version(),
        "machine": f"{platform.machine()} {os.cpu_count()} cpu",
        "date": date.today().isoformat(),
    }
    text = json.dumps(result, ensure_ascii=False, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0 if lines == args.persons else 1


if __name__ == "__main__":
    raise SystemExit(main())
