"""The payments service: exactly-once payment instructions from released entitlements."""

from __future__ import annotations

from subsidy_contracts.eligibility import EntitlementReleased
from subsidy_contracts.topics import DECISIONS, PAYMENTS
from subsidy_runtime.outbox import Transaction
from subsidy_runtime.service import ServiceRuntime

from .instructions import create_instructions
from .settings import PaymentsSettings

settings = PaymentsSettings()  # from the environment
runtime = ServiceRuntime(
    settings,
    migrations_package="payments.migrations",
    title="Payments service",
    description="Payment instructions with stable end-to-end ids, fund budgets, bank batches and reconciliation.",
)
runtime.produces(PAYMENTS)


@runtime.consumer(DECISIONS, events=[EntitlementReleased], name="entitlements")
async def on_entitlements(tx: Transaction, events: list[EntitlementReleased]) -> None:
    """One payment instruction per released instalment, whatever is redelivered."""
    await create_instructions(tx, events)


app = runtime.http_app([])
app.state.runtime = runtime
stream_app = runtime.stream_app
