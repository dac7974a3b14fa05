"""Who is calling (a signed-in integration), and what it may see: the records it submitted, and records
within its jurisdiction (province → city → county)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from subsidy_runtime.auth import Integration, requires

Caller = Integration
CallerDep = Annotated[Integration, Depends(requires("integration"))]


def can_see(caller: Integration, *, created_by: str, region_code: str | None) -> bool:
    return created_by == caller.id or caller.covers(region_code)
