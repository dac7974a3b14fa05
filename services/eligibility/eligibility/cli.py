"""The eligibility command line, for outside auditors and operators.

    eligibility evaluate --programme ID [--on YYYY-MM-DD] FILE   decisions as JSON lines (FILE: one facts
                                                                  object, or JSON lines; - reads stdin)
    eligibility test [CASEBOOK.yaml ...]                          run the rule cases written as data
    eligibility programmes                                        the catalogue, one line per version

The decisions are exactly those of `POST /v1/evaluate`: both call eligibility.evaluate.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO

import orjson
from pydantic import ValidationError

from subsidy_runtime.bulk import tune_gc_for_bulk

from . import casebook
from .domain.dates import local_date
from .domain.parameters import ParameterSet
from .evaluate import decision_json, evaluate_input
from .inputs import EvaluationInput
from .programmes import CATALOGUE


def _objects(stream: IO[bytes]) -> Iterator[tuple[int, bytes]]:
    """One JSON object (possibly spread over lines), or one object per line, as bytes."""
    data = stream.read()
    stripped = data.strip()
    if not stripped:
        return
    if b"\n" in stripped:
        try:
            orjson.loads(stripped)
        except orjson.JSONDecodeError:
            for number, line in enumerate(stripped.split(b"\n"), 1):
                if line.strip():
                    yield number, line
            return
    yield 1, stripped


# A facts object that names parties by the aliases "applicant" / "beneficiary" needs them replaced before
# validation; one that uses ids (the usual case for exported data) is validated straight from its bytes.
_ALIAS_VALUES = re.compile(rb':\s*"(?:applicant|beneficiary)"')


def parse_line(line: bytes) -> EvaluationInput:
    """Validate one facts object; the same result as EvaluationInput.parse(orjson.loads(line)), faster."""
    if _ALIAS_VALUES.search(line) is None:
        return EvaluationInput.model_validate_json(line)
    return EvaluationInput.parse(orjson.loads(line))


def evaluate_command(programme: str, on: date | None, source: str, out: IO[bytes]) -> int:
    params = ParameterSet.bundled()
    today = local_date(datetime.now(UTC))
    stream: IO[bytes] = sys.stdin.buffer if source == "-" else Path(source).open("rb")  # noqa: SIM115
    errors = 0
    try:
        for number, line in _objects(stream):
            try:
                data = parse_line(line)
            except orjson.JSONDecodeError as exc:
                errors += 1
                out.write(orjson.dumps({"line": number, "error": "invalid JSON", "details": [str(exc)]}))
                out.write(b"\n")
                continue
            except ValidationError as exc:
                errors += 1
                out.write(
                    orjson.dumps(
                        {
                            "line": number,
                            "error": "invalid JSON"
                            if any(e["type"] == "json_invalid" for e in exc.errors())
                            else "invalid facts object",
                            "details": [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()],
                        }
                    )
                )
                out.write(b"\n")
                continue
            case, evaluation = evaluate_input(CATALOGUE, params, programme, data, today, on)
            out.write(decision_json(case, evaluation, CATALOGUE))
            out.write(b"\n")
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()
    return 1 if errors else 0


def test_command(paths: list[str]) -> int:
    params = ParameterSet.bundled()
    files = [Path(p) for p in paths] if paths else casebook.bundled_paths()
    failed = total = 0
    for path in files:
        for case in casebook.load(path):
            total += 1
            outcome = casebook.run(case, CATALOGUE, params)
            if not outcome.passed:
                failed += 1
                print(f"FAIL {case.source}: {'; '.join(outcome.failures)}")
    print(f"{total - failed} of {total} cases pass")
    return 1 if failed else 0


def programmes_command() -> int:
    for name in CATALOGUE.programmes():
        for p in CATALOGUE.versions(name):
            basis = "; ".join(f"{b.document_number} {b.article}" for b in p.legal_basis[:2])
            print(
                f"{p.programme_id}\t{p.version}\t{p.jurisdiction}\t{p.effective_from}..{p.effective_to or ''}\t{basis}"
            )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="eligibility", description=__doc__.split("\n")[0] if __doc__ else None)
    sub = parser.add_subparsers(dest="command", required=True)
    ev = sub.add_parser("evaluate", help="evaluate facts objects; prints decisions as JSON lines")
    ev.add_argument("--programme", required=True)
    ev.add_argument("--on", type=date.fromisoformat, default=None, help="evaluation date (YYYY-MM-DD)")
    ev.add_argument("file", help="a JSON facts object or JSON lines; - reads stdin")
    t = sub.add_parser("test", help="run rule cases written as data")
    t.add_argument("paths", nargs="*")
    sub.add_parser("programmes", help="list the catalogue")
    args = parser.parse_args(argv)
    if args.command == "evaluate":
        tune_gc_for_bulk()
        return evaluate_command(args.programme, args.on, args.file, sys.stdout.buffer)
    if args.command == "test":
        return test_command(args.paths)
    return programmes_command()


if __name__ == "__main__":
    raise SystemExit(main())
