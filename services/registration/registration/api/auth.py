"""Who is calling: each provincial or city integration is identified, and sees only its own records."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Header

from subsidy_runtime.problems import Problem


@dataclass(frozen=True)
class Caller:
    integration_id: str


async def authenticate(
    integration_id: Annotated[
        str | None, Header(alias="X-Integration-Id", max_length=64, pattern=r"^[a-z0-9][a-z0-9.-]*$")
    ] = None,
) -> Caller:
    if not integration_id:
        raise Problem(
            401,
            "unauthenticated",
            "Authentication required",
            "the X-Integration-Id header is required",
            "缺少接入方标识",
        )
    return Caller(integration_id=integration_id)
