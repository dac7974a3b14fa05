"""Synthetic but valid registration data for demos, tests and benchmarks.

Identity numbers carry correct check digits (computed with python-stdnum), so they pass the same
validation as real ones; names and numbers are random and belong to nobody.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from stdnum import luhn
from stdnum.cn import ric, uscc

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华"
TAIYUAN_DISTRICTS = ["140105", "140106", "140107", "140108", "140109", "140110"]
BANKS = [
    ("102161000017", "中国工商银行太原分行"),
    ("103161000013", "中国农业银行太原分行"),
    ("104161000015", "中国银行太原分行"),
    ("105161000012", "中国建设银行太原分行"),
]
MOBILE_PREFIXES = ["135", "136", "138", "139", "150", "151", "186", "187", "188", "199"]


def resident_id(rng: random.Random, region: str, birth: date, female: bool) -> str:
    seq = rng.randrange(0, 100) * 10 + (rng.choice([0, 2, 4, 6, 8]) if female else rng.choice([1, 3, 5, 7, 9]))
    body = f"{region}{birth:%Y%m%d}{seq:03d}"
    return body + ric.calc_check_digit(body + "0")  # stdnum drops the last character


def credit_code(rng: random.Random, region: str) -> str:
    body = "9114" + region[2:] + "".join(rng.choice("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(9))
    assert len(body) == 17
    return body + uscc.calc_check_digit(body)


def card_number(rng: random.Random, prefix: str = "621700") -> str:
    body = prefix + "".join(str(rng.randrange(10)) for _ in range(18 - len(prefix)))
    return body + luhn.calc_check_digit(body)


def mobile(rng: random.Random) -> str:
    return rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(0, 10**8):08d}"


def chinese_name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice([1, 2])))


def name_for(id_number: str) -> str:
    """The same ID number always gets the same name, so data generated twice registers as one person."""
    return chinese_name(random.Random(id_number))


@dataclass
class HostUnit:
    credit_code: str
    name: str
    region_code: str
    contact_name: str
    contact_mobile: str
    account_number: str
    bank_code: str
    bank_name: str
    retained: int
    completed: int
    enterprise_id: str | None = None
    account_id: str | None = None


@dataclass
class Intern:
    id_number: str
    name: str
    region_code: str
    mobile: str
    birth_date: date
    graduated_on: date | None
    unemployed_since: date | None
    scenario: str
    person_id: str | None = None
    facts: list[dict[str, Any]] = field(default_factory=list)


def host_units(rng: random.Random, n: int) -> list[HostUnit]:
    units = []
    for i in range(n):
        region = rng.choice(TAIYUAN_DISTRICTS)
        bank_code, bank_name = rng.choice(BANKS)
        completed = rng.randrange(4, 20)
        units.append(
            HostUnit(
                credit_code=credit_code(rng, region),
                name=f"太原示范见习单位{i + 1:05d}有限公司",
                region_code=region,
                contact_name=chinese_name(rng),
                contact_mobile=mobile(rng),
                account_number="".join(str(rng.randrange(10)) for _ in range(rng.choice([16, 19, 21]))),
                bank_code=bank_code,
                bank_name=bank_name,
                completed=completed,
                retained=rng.randrange(0, completed + 1),
            )
        )
    return units


SCENARIOS = [("graduate", 70), ("unemployed_youth", 12), ("too_old", 6), ("long_absence", 6), ("short_months", 6)]


def interns(rng: random.Random, n: int) -> list[Intern]:
    """n interns with distinct ID numbers."""
    seen: set[str] = set()
    out: list[Intern] = []
    while len(out) < n:
        person = intern(rng)
        if person.id_number not in seen:
            seen.add(person.id_number)
            out.append(person)
    return out


def intern(rng: random.Random) -> Intern:
    scenario = rng.choices([s for s, _ in SCENARIOS], weights=[w for _, w in SCENARIOS])[0]
    region = rng.choice(TAIYUAN_DISTRICTS)
    female = rng.random() < 0.5
    if scenario == "too_old":
        birth = date(1997, 1, 1) + timedelta(days=rng.randrange(0, 360))  # 25 in 2022, left school in 2019
        graduated, unemployed = date(2019, 7, 1), None
    elif scenario == "unemployed_youth":
        birth = date(2000, 1, 1) + timedelta(days=rng.randrange(0, 1500))
        graduated, unemployed = None, date(2021, 9, 1) + timedelta(days=rng.randrange(0, 200))
    else:
        birth = date(1998, 1, 1) + timedelta(days=rng.randrange(0, 1500))
        graduated, unemployed = date(2021, 6, 30), None
    ident = resident_id(rng, region, birth, female)
    return Intern(
        id_number=ident,
        name=name_for(ident),
        region_code=region,
        mobile=mobile(rng),
        birth_date=birth,
        graduated_on=graduated,
        unemployed_since=unemployed,
        scenario=scenario,
    )


def internship_facts(rng: random.Random, person: Intern, unit: HostUnit) -> list[dict[str, Any]]:
    """The facts an internship claim carries: the internship, the intern's schooling, the unit's retention."""
    assert person.person_id
    assert unit.enterprise_id
    start = date(2022, rng.choice([3, 4, 5]), 1)
    months = []
    for k in range(6):
        first = date(start.year, start.month + k, 1)
        days = rng.randrange(16, 22)
        if person.scenario == "short_months":
            days = rng.randrange(5, 14)
        months.append({"month": first.isoformat(), "working_days": days, "allowance_paid": "1900.00"})
    end_month = date(start.year, start.month + 6, 1) - timedelta(days=1)
    facts: list[dict[str, Any]] = [
        {
            "kind": "internship",
            "subject_id": person.person_id,
            "host_enterprise_id": unit.enterprise_id,
            "agreement_start": start.isoformat(),
            "agreement_end": end_month.isoformat(),
            "accident_insurance": True,
            "months": months,
            "absence_longest_run_days": 6 if person.scenario == "long_absence" else rng.randrange(0, 3),
            "absence_total_days": 11 if person.scenario == "long_absence" else rng.randrange(0, 5),
        }
    ]
    if person.graduated_on:
        facts.append(
            {
                "kind": "graduation",
                "subject_id": person.person_id,
                "graduated_on": person.graduated_on.isoformat(),
                "education_level": "bachelor",
                "school_name": "太原理工大学",
            }
        )
    if person.unemployed_since:
        facts.append(
            {
                "kind": "unemployment_registration",
                "subject_id": person.person_id,
                "registered_on": person.unemployed_since.isoformat(),
                "region_code": person.region_code,
            }
        )
    facts.append(
        {
            "kind": "internship_cohort",
            "subject_id": unit.enterprise_id,
            "period_end": "2022-12-31",
            "interns_completed": unit.completed,
            "interns_retained": unit.retained,
        }
    )
    return facts


def new_key() -> str:
    return uuid.uuid4().hex
