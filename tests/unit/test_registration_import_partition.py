"""`registration import --workers N` splits a file by applicant: records sharing a source reference, a resident
ID or a credit code land in one part, in file order; new groups go to the smallest part."""

from __future__ import annotations

import io
from typing import Any

import orjson

from bench.registration_import import intake_records
from registration.cli import partition_lines


def _file(records: list[dict[str, Any]], *, spaced: bool = False) -> io.BytesIO:
    lines = [orjson.dumps(r) for r in records]
    if spaced:
        lines = [line.replace(b'":"', b'": "') for line in lines]
    return io.BytesIO(b"".join(line + b"\n" for line in lines) + b"\n")  # a blank line is skipped


def test_a_host_unit_s_interns_and_a_repeated_record_stay_together_in_file_order() -> None:
    records = list(intake_records(40, seed=5, units=4, prefix="part"))
    again = dict(records[3])  # the same source reference later in the file
    records.append(again)
    for spaced in (False, True):  # spaces around the colons: found by the slower regular expression
        parts = partition_lines(_file(records, spaced=spaced), 2)
        assert sum(len(p) for p in parts) == 41
        where: dict[str, int] = {}
        for k, part in enumerate(parts):
            numbers = [n for n, _ in part]
            assert numbers == sorted(numbers)  # file order within a part
            for _, line in part:
                record = orjson.loads(line)
                for key in (record["enterprise"]["credit_code"], record["source_reference"]):
                    assert where.setdefault(key, k) == k
        assert {len(p) for p in parts} == {20, 21}  # two host units each (plus the repeat)


def test_records_sharing_a_person_with_another_unit_follow_the_person() -> None:
    first, second = intake_records(2, seed=9, units=2, prefix="person")
    second["person"] = first["person"]  # the same intern, placed by another unit
    parts = partition_lines(_file([first, second]), 2)
    assert sorted(len(p) for p in parts) == [0, 2]
