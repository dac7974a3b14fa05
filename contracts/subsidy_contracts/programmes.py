"""Reference data every service may show: the programme ids and their display names.

Eligibility owns the rules; this list only names the programmes so that messages and screens can say what
an application is for. tests/contracts checks that every rule pack's id is listed here.
"""

from __future__ import annotations

PROGRAMME_TITLES: dict[str, tuple[str, str]] = {
    "sx.internship-subsidy": ("就业见习补贴（山西）", "Internship subsidy (Shanxi)"),
}


def title_zh(programme_id: str) -> str:
    return PROGRAMME_TITLES.get(programme_id, (programme_id, programme_id))[0]
