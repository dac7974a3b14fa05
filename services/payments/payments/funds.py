"""Funds and their yearly budgets: payments reserve budget when scheduled, and what would exceed it is held."""

from __future__ import annotations

from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from subsidy_runtime.db import Connection


def load_fund_config(path: str | None) -> list[dict[str, Any]]:
    text = (
        Path(path).read_text(encoding="utf-8")
        if path
        else (resources.files("payments.config") / "funds.yaml").read_text(encoding="utf-8")
    )
    return list((yaml.safe_load(text) or {}).get("funds", []))


async def seed_funds(conn: Connection, funds: list[dict[str, Any]]) -> None:
    """Insert funds and budgets that are not there yet; what operators changed is kept."""
    for f in funds:
        await conn.execute(
            """INSERT INTO funds (code, name, account_name, account_number, bank_code) VALUES ($1, $2, $3, $4, $5)
               ON CONFLICT (code) DO NOTHING""",
            f["code"],
            f["name"],
            f["account_name"],
            str(f["account_number"]),
            str(f["bank_code"]),
        )
        await conn.executemany(
            "INSERT INTO fund_budgets (fund_code, year, budget) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            [(f["code"], int(year), Decimal(str(amount))) for year, amount in (f.get("budgets") or {}).items()],
        )


async def reserve(conn: Connection, fund_code: str, year: int, amount: Decimal) -> bool:
    """Reserve `amount` of the fund's budget for the year; False when it would exceed the budget."""
    return bool(
        await conn.fetchval(
            """UPDATE fund_budgets SET reserved = reserved + $3
           WHERE fund_code = $1 AND year = $2 AND reserved + paid + $3 <= budget RETURNING true""",
            fund_code,
            year,
            amount,
        )
    )


async def release(conn: Connection, fund_code: str, year: int, amount: Decimal) -> None:
    """Give back a reservation (a cancelled payment)."""
    await conn.execute(
        "UPDATE fund_budgets SET reserved = reserved - $3 WHERE fund_code = $1 AND year = $2", fund_code, year, amount
    )


async def settle(conn: Connection, fund_code: str, year: int, amount: Decimal) -> None:
    """Reserved money was paid out."""
    await conn.execute(
        "UPDATE fund_budgets SET reserved = reserved - $3, paid = paid + $3 WHERE fund_code = $1 AND year = $2",
        fund_code,
        year,
        amount,
    )


async def unsettle(conn: Connection, fund_code: str, year: int, amount: Decimal) -> None:
    """Paid money came back (a return): it is reserved again for the re-issue."""
    await conn.execute(
        "UPDATE fund_budgets SET reserved = reserved + $3, paid = paid - $3 WHERE fund_code = $1 AND year = $2",
        fund_code,
        year,
        amount,
    )
