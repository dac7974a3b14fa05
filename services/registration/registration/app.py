"""The registration service: the provincial integrations' front door."""

from __future__ import annotations

from subsidy_contracts.eligibility import DecisionMade, DecisionRevised, EntitlementReleased, PublicNoticeEnded
from subsidy_contracts.notifications import MessageSent
from subsidy_contracts.payments import PaymentInstructionCreated, PaymentStatusChanged
from subsidy_contracts.topics import APPLICATIONS, DECISIONS, INTAKE_RESULTS, MESSAGES, PAYEE_ACCOUNTS, PAYMENTS
from subsidy_runtime.business_metrics import SqlGauge, register_sql_gauges
from subsidy_runtime.outbox import Transaction
from subsidy_runtime.service import ServiceRuntime

from .adapters.intake_consumer import IntakeConsumer
from .api.routes import router
from .settings import RegistrationSettings
from .timeline import apply_timeline

settings = RegistrationSettings()  # from the environment
runtime = ServiceRuntime(
    settings,
    migrations_package="registration.migrations",
    title="Registration service",
    description="Persons, enterprises, facts, payee accounts and applications pushed in by provincial platforms.",
)
runtime.produces(APPLICATIONS)
runtime.produces(PAYEE_ACCOUNTS)
runtime.produces(INTAKE_RESULTS)
register_sql_gauges(
    runtime,
    [
        SqlGauge(
            "subsidy_applications",
            "Applications stored, by programme and current status.",
            ("programme", "status"),
            "SELECT programme_id AS programme, status, count(*) AS value FROM applications GROUP BY 1, 2",
        )
    ],
)


@runtime.consumer(
    DECISIONS, events=[DecisionMade, EntitlementReleased, PublicNoticeEnded, DecisionRevised], name="timeline-decisions"
)
async def on_decisions(
    tx: Transaction, events: list[DecisionMade | EntitlementReleased | PublicNoticeEnded | DecisionRevised]
) -> None:
    """Application status and timeline from eligibility decisions."""
    await apply_timeline(tx, list(events))


@runtime.consumer(PAYMENTS, events=[PaymentInstructionCreated, PaymentStatusChanged], name="timeline-payments")
async def on_payments(tx: Transaction, events: list[PaymentInstructionCreated | PaymentStatusChanged]) -> None:
    """Application status and timeline from payment events."""
    await apply_timeline(tx, list(events))


@runtime.consumer(MESSAGES, events=[MessageSent], name="timeline-messages")
async def on_messages(tx: Transaction, events: list[MessageSent]) -> None:
    """Application timeline from delivered notifications."""
    await apply_timeline(tx, list(events))


# Bulk intake: signed batches on registration.intake.v1 (the same path as `registration import`).
IntakeConsumer(runtime).subscribe(runtime.broker)

app = runtime.http_app([router])
app.state.runtime = runtime
stream_app = runtime.stream_app
