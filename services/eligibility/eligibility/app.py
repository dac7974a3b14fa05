"""The eligibility service: decides applications with versioned, explained rule packs."""

from __future__ import annotations

from subsidy_contracts.registration import ApplicationSubmitted, ApplicationWithdrawn
from subsidy_contracts.topics import APPLICATIONS, DECISIONS
from subsidy_runtime.outbox import Transaction
from subsidy_runtime.service import ServiceRuntime

from .decide import on_applications_submitted, on_applications_withdrawn
from .domain.parameters import ParameterSet
from .programmes import CATALOGUE
from .settings import EligibilitySettings

settings = EligibilitySettings()  # from the environment
runtime = ServiceRuntime(
    settings,
    migrations_package="eligibility.migrations",
    title="Eligibility service",
    description="Programmes as versioned rule packs with effective dates; every decision explained and stored.",
)
runtime.produces(DECISIONS)
PARAMETERS = ParameterSet.bundled()


@runtime.consumer(APPLICATIONS, events=[ApplicationSubmitted, ApplicationWithdrawn], name="applications")
async def on_applications(tx: Transaction, events: list[ApplicationSubmitted | ApplicationWithdrawn]) -> None:
    """Decide each submitted application once; stop withdrawn ones before payment."""
    submitted = [e for e in events if isinstance(e, ApplicationSubmitted)]
    withdrawn = [e for e in events if isinstance(e, ApplicationWithdrawn)]
    if submitted:
        await on_applications_submitted(tx, submitted, CATALOGUE, PARAMETERS)
    if withdrawn:
        await on_applications_withdrawn(tx, withdrawn)


app = runtime.http_app([])
app.state.runtime = runtime
stream_app = runtime.stream_app
