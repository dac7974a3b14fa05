"""The command line's bulk path (fast input parsing and serialisation) gives exactly the decisions of the
shared path the dry run uses: every casebook case, parsed from bytes and written as JSON."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import orjson
import pytest

from eligibility import casebook, cli
from eligibility.domain.parameters import ParameterSet
from eligibility.evaluate import decision_document, decision_json, evaluate_input
from eligibility.inputs import EvaluationInput
from eligibility.programmes import CATALOGUE

PARAMS = ParameterSet.bundled()
CASES = [case for path in casebook.bundled_paths() for case in casebook.load(path)]
TODAY = date(2026, 11, 30)


def test_fast_serialisation_is_byte_identical_for_every_casebook_case() -> None:
    for case in CASES:
        built, evaluation = evaluate_input(CATALOGUE, PARAMS, case.programme_id, case.data, TODAY)
        assert decision_json(built, evaluation, CATALOGUE) == orjson.dumps(
            decision_document(built, evaluation, CATALOGUE)
        ), case.source


def test_parsing_from_bytes_equals_parsing_the_object() -> None:
    for case in CASES:
        raw = case.data.model_dump(mode="json", exclude_none=True)  # ids resolved: the fast path
        line = orjson.dumps(raw)
        assert cli.parse_line(line) == EvaluationInput.parse(raw), case.source


def test_the_command_lines_date_overrides_the_objects_own() -> None:
    on = date(2020, 12, 31)
    for case in CASES:
        dated = EvaluationInput.parse({**case.data.model_dump(mode="json", exclude_none=True), "on": on.isoformat()})
        assert evaluate_input(CATALOGUE, PARAMS, case.programme_id, case.data, TODAY, on) == evaluate_input(
            CATALOGUE, PARAMS, case.programme_id, dated, TODAY
        ), case.source


def test_aliases_are_still_resolved() -> None:
    raw = {
        "applicant": {"kind": "enterprise", "region_code": "430102", "size": "small"},
        "beneficiary": {"region_code": "430102", "birth_date": "1990-01-01"},
        "facts": [
            {
                "kind": "employment",
                "subject_id": "beneficiary",
                "employer_id": "applicant",
                "employer_name": "x",
                "start": "2020-05-01",
            }
        ],
    }
    parsed = cli.parse_line(orjson.dumps(raw))
    assert parsed == EvaluationInput.parse(raw)
    assert str(parsed.facts[0].subject_id).endswith("b001")


def test_command_reports_bad_lines_and_evaluates_the_rest(tmp_path: Path) -> None:
    good = [
        c.data.model_dump(mode="json", exclude_none=True)
        for c in CASES
        if c.programme_id == "hn.one-off-hiring-subsidy"
    ][:3]
    source = tmp_path / "in.jsonl"
    source.write_bytes(
        orjson.dumps(good[0])
        + b"\n{not json\n"
        + orjson.dumps({"applicant": {}})
        + b"\n"
        + orjson.dumps(good[1])
        + b"\n"
    )
    out = io.BytesIO()
    assert cli.evaluate_command("hn.one-off-hiring-subsidy", None, str(source), out) == 1
    lines = [orjson.loads(x) for x in out.getvalue().splitlines()]
    assert [line.get("error") for line in lines] == [None, "invalid JSON", "invalid facts object", None]
    assert lines[2]["line"] == 3
    assert lines[0]["programme_id"] == "hn.one-off-hiring-subsidy"


@pytest.mark.parametrize("programme", ["hn.one-off-hiring-subsidy", "sx.internship-subsidy"])
def test_command_output_equals_the_shared_path(programme: str, tmp_path: Path) -> None:
    bodies = [c.data.model_dump(mode="json", exclude_none=True) for c in CASES if c.programme_id == programme]
    source = tmp_path / "in.jsonl"
    source.write_bytes(b"\n".join(orjson.dumps(b) for b in bodies))
    out = io.BytesIO()
    cli.evaluate_command(programme, None, str(source), out)
    expected = []
    for body in bodies:
        data = EvaluationInput.parse(body)
        built, evaluation = evaluate_input(CATALOGUE, PARAMS, programme, data, TODAY)
        expected.append(decision_document(built, evaluation, CATALOGUE))
    assert [orjson.loads(x) for x in out.getvalue().splitlines()] == expected
