"""The eligibility service: decides applications with versioned, explained rule packs."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from subsidy_contracts.payments import PaymentStatusChanged
from subsidy_contracts.registration import ApplicationSubmitted, ApplicationWithdrawn
from subsidy_contracts.topics import APPLICATIONS, DECISIONS, PAYMENTS
from subsidy_runtime.business_metrics import SqlGauge, register_sql_gauges
from subsidy_runtime.outbox import Transaction
from subsidy_runtime.service import ServiceRuntime

from .api import router
from .decide import on_applications_submitted, on_applications_withdrawn, release_due
from .domain.dates import local_date
from .domain.parameters import ParameterSet
from .grant_payments import on_payment_status_changed
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
# A caseworker's review (final_outcome, final_amount) overrides what the rules decided.
register_sql_gauges(
    runtime,
    [
        SqlGauge(
            "subsidy_decisions",
            "Decisions stored, by programme and outcome (after review).",
            ("programme", "outcome"),
            """SELECT programme_id AS programme, coalesce(final_outcome, outcome) AS outcome, count(*) AS value
                 FROM decisions GROUP BY 1, 2""",
        ),
        SqlGauge(
            "subsidy_approved_amount_yuan",
            "Money approved by eligible decisions, by fund, programme and decision status (public_notice, "
            "released ...); withdrawn decisions excluded.",
            ("fund_code", "programme", "status"),
            """SELECT fund_code, programme_id AS programme, status, sum(coalesce(final_amount, amount)) AS value
                 FROM decisions
                WHERE coalesce(final_outcome, outcome) = 'eligible' AND status <> 'withdrawn'
                  AND coalesce(fund_code, '') <> ''
                GROUP BY 1, 2, 3""",
        ),
    ],
)
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


@runtime.consumer(PAYMENTS, events=[PaymentStatusChanged], name="payments")
async def on_payments(tx: Transaction, events: list[PaymentStatusChanged]) -> None:
    """Record paid, failed and returned instalments against the grants, so caps count what was really paid."""
    await on_payment_status_changed(tx, events)


@runtime.loop("public-notice-release")
async def public_notice_release() -> None:
    """Release decisions whose 公示 has ended without objection (checked every minute)."""
    while True:
        while True:
            async with runtime.transaction() as tx:
                released = await release_due(tx, local_date(datetime.now(UTC)))
            if released == 0:
                break
        await asyncio.sleep(settings.public_notice_check_s)


app = runtime.http_app([router])
app.state.runtime = runtime
app.state.catalogue = CATALOGUE
app.state.parameters = PARAMETERS
stream_app = runtime.stream_app
