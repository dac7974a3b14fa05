"""The notifications service: the right message, once, on the right channel."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from subsidy_contracts.eligibility import DecisionMade, DecisionRevised, PublicNoticeEnded
from subsidy_contracts.payments import PaymentStatusChanged
from subsidy_contracts.registration import ApplicationSubmitted
from subsidy_contracts.topics import APPLICATIONS, DECISIONS, MESSAGES, PAYMENTS
from subsidy_runtime.outbox import Transaction
from subsidy_runtime.service import ServiceRuntime

from .api import router
from .channels import EmailChannel, SmsChannel
from .compose import Composer
from .dispatch import Dispatcher
from .gateway import HttpSmsGateway
from .handlers import Handlers
from .inbox import sequence_inbox
from .metrics import NotificationMetrics
from .policy import Backoff, QuietHours, RateLimit, SystemClock
from .reminders import ReminderRules, run_reminders
from .settings import NotificationsSettings

settings = NotificationsSettings()  # from the environment
logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per gateway request is noise; failures are logged
runtime = ServiceRuntime(
    settings,
    migrations_package="notifications.migrations",
    title="Notifications service",
    description="Chinese SMS, e-mail and inbox messages about applications, decisions and payments; each sent once.",
)
runtime.produces(MESSAGES)
metrics = NotificationMetrics(runtime.metrics.registry)
clock = SystemClock()
quiet_hours = QuietHours.parse(settings.sms_quiet_hours, settings.quiet_hours_zone)


def new_composer() -> Composer:
    return Composer(settings.sms_signatures, settings.sms_default_signature, quiet_hours)


handlers = Handlers(new_composer, clock, metrics)


@runtime.consumer(APPLICATIONS, events=[ApplicationSubmitted], name="applications")
async def on_applications(tx: Transaction, events: list[ApplicationSubmitted]) -> None:
    """Remember whom to tell about each application, and confirm its receipt."""
    await handlers.applications(tx, events)


@runtime.consumer(DECISIONS, events=[DecisionMade, PublicNoticeEnded, DecisionRevised], name="decisions")
async def on_decisions(tx: Transaction, events: list[DecisionMade | PublicNoticeEnded | DecisionRevised]) -> None:
    """Tell the applicant side the decision with its reasons, the end of 公示, and caseworker revisions."""
    await handlers.decisions(tx, list(events))


@runtime.consumer(PAYMENTS, events=[PaymentStatusChanged], name="payments")
async def on_payments(tx: Transaction, events: list[PaymentStatusChanged]) -> None:
    """Payment sent, arrived (bank-confirmed only) and failed, with what to do."""
    await handlers.payments(tx, events)


def dispatcher(channel: SmsChannel | EmailChannel, batch_size: int) -> Dispatcher:
    return Dispatcher(
        pool=runtime.pool,
        schema=settings.schema_name,
        channel=channel,
        clock=clock,
        quiet_hours=quiet_hours,
        rate_limit=RateLimit(settings.rate_limit_per_recipient, timedelta(seconds=settings.rate_limit_window_s)),
        backoff=Backoff(
            timedelta(seconds=settings.retry_base_delay_message_s),
            timedelta(seconds=settings.retry_max_delay_message_s),
            settings.retry_max_attempts_message,
        ),
        lease=timedelta(seconds=settings.claim_lease_s),
        batch_size=batch_size,
        metrics=metrics,
        service_metrics=runtime.metrics,
    )


sms = SmsChannel(HttpSmsGateway(settings.sms_gateway_url, receipt_url=settings.sms_receipt_url))
email = EmailChannel(
    settings.smtp_host,
    settings.smtp_port,
    settings.smtp_sender,
    concurrency=settings.email_concurrency,
    timeout_s=settings.smtp_timeout_s,
)


@runtime.loop("sms-dispatcher")
async def sms_dispatcher() -> None:
    d = dispatcher(sms, settings.sms_batch_size)
    await asyncio.gather(*(d.run(settings.sms_dispatch_idle_s) for _ in range(max(1, settings.sms_workers))))


@runtime.loop("email-dispatcher")
async def email_dispatcher() -> None:
    await dispatcher(email, settings.email_batch_size).run(settings.sms_dispatch_idle_s)


@runtime.loop("inbox-sequencer")
async def inbox_sequencer() -> None:
    while True:
        async with runtime.pool.acquire() as conn:
            numbered = await sequence_inbox(conn)
        if numbered == 0:
            await asyncio.sleep(0.2)


@runtime.loop("reminders")
async def reminders() -> None:
    rules = ReminderRules(
        settings.reminder_period_days,
        timedelta(days=settings.reminder_materials_after_days),
        settings.reminder_appraisal_days,
    )
    await run_reminders(
        runtime.pool, settings.schema_name, new_composer(), rules, clock, metrics, settings.reminders_interval_s
    )


app = runtime.http_app([router], openapi_tags=[{"name": "inbox"}, {"name": "sms"}, {"name": "operations"}])
app.state.runtime = runtime
app.state.settings = settings
app.state.notification_metrics = metrics
stream_app = runtime.stream_app
