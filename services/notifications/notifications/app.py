"""The notifications service: the right message, once, on the right channel."""

from __future__ import annotations

from subsidy_contracts.eligibility import DecisionMade
from subsidy_contracts.registration import ApplicationSubmitted
from subsidy_contracts.topics import APPLICATIONS, DECISIONS, MESSAGES
from subsidy_runtime.outbox import Transaction
from subsidy_runtime.service import ServiceRuntime

from .compose import on_decided, on_submitted
from .dispatch import run_dispatcher
from .gateway import HttpSmsGateway
from .settings import NotificationsSettings

settings = NotificationsSettings()  # from the environment
runtime = ServiceRuntime(
    settings,
    migrations_package="notifications.migrations",
    title="Notifications service",
    description="Chinese SMS, e-mail and inbox messages about applications, decisions and payments; each sent once.",
)
runtime.produces(MESSAGES)
gateway = HttpSmsGateway(settings.sms_gateway_url)


@runtime.consumer(APPLICATIONS, events=[ApplicationSubmitted], name="applications")
async def on_applications(tx: Transaction, events: list[ApplicationSubmitted]) -> None:
    """Remember whom to tell about each application, and confirm its receipt."""
    await on_submitted(tx, events)


@runtime.consumer(DECISIONS, events=[DecisionMade], name="decisions")
async def on_decisions(tx: Transaction, events: list[DecisionMade]) -> None:
    """Tell the applicant the decision, with the reasons."""
    await on_decided(tx, events)


@runtime.loop("sms-dispatcher")
async def sms_dispatcher() -> None:
    await run_dispatcher(runtime, gateway, settings.sms_batch_size, settings.sms_dispatch_idle_s)


app = runtime.http_app([])
app.state.runtime = runtime
stream_app = runtime.stream_app
