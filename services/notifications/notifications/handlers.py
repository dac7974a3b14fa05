"""Consumers' handlers: keep the directory and decision state, compose the messages each event calls for."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from subsidy_contracts.eligibility import DecisionMade, DecisionRevised, PublicNoticeEnded
from subsidy_contracts.envelope import Event
from subsidy_contracts.payments import PaymentStatus, PaymentStatusChanged
from subsidy_contracts.registration import ApplicationSubmitted
from subsidy_runtime.outbox import Transaction

from .compose import Application, Composer, cn_date
from .metrics import NotificationMetrics
from .policy import Clock
from .store import load_applications, revise_decisions, save_decisions, save_submitted, store_drafts

# Payment states people hear about; the others (scheduled, batched, held, cancelled) stay internal.
TOLD_PAYMENT_STATES = frozenset(
    {PaymentStatus.SENT, PaymentStatus.SETTLED, PaymentStatus.FAILED, PaymentStatus.RETURNED}
)


@dataclass
class Handlers:
    new_composer: Callable[[], Composer]
    clock: Clock
    metrics: NotificationMetrics

    async def applications(self, tx: Transaction, events: list[ApplicationSubmitted]) -> None:
        """Remember whom to tell about each application, and confirm its receipt to them."""
        await save_submitted(tx.conn, events)
        apps = await load_applications(tx.conn, [e.payload.application_id for e in events])
        composer, now = self.new_composer(), self.clock.now()
        for e in events:
            app = apps[e.payload.application_id]
            context = {"submitted_on": cn_date(e.payload.submitted_at)}
            composer.fan_out("application_received", e.event_id, app, context, now=now, correlation_id=e.correlation_id)
        await store_drafts(tx, composer.drafts, self.metrics, now)

    async def decisions(self, tx: Transaction, events: list[Event]) -> None:
        """Decisions (with the reasons), 公示 ended, caseworker revisions."""
        made = [e for e in events if isinstance(e, DecisionMade)]
        revised = [e for e in events if isinstance(e, DecisionRevised)]
        if made:
            await save_decisions(tx.conn, made)
        if revised:
            await revise_decisions(tx.conn, revised)
        ready = await self._with_application(tx, events)
        composer, now = self.new_composer(), self.clock.now()
        for e, app in ready:
            if isinstance(e, DecisionMade):
                composer.decision_made(e, app, now)
            elif isinstance(e, PublicNoticeEnded):
                composer.public_notice_ended(e, app, now)
            elif isinstance(e, DecisionRevised):
                composer.decision_revised(e, app, now)
        await store_drafts(tx, composer.drafts, self.metrics, now)

    async def payments(self, tx: Transaction, events: list[PaymentStatusChanged]) -> None:
        """Payment sent, arrived (settled only: the bank's confirmed credit) and failed."""
        told = [e for e in events if e.payload.status in TOLD_PAYMENT_STATES]
        ready = await self._with_application(tx, list(told))
        composer, now = self.new_composer(), self.clock.now()
        for e, app in ready:
            assert isinstance(e, PaymentStatusChanged)
            composer.payment_changed(e, app, now)
        await store_drafts(tx, composer.drafts, self.metrics, now)

    async def _with_application(self, tx: Transaction, events: list[Event]) -> list[tuple[Event, Application]]:
        """Events whose application (and so its recipients) is known; the others are deferred: the
        application-submitted event travels on another topic and may not have been applied yet."""
        ids = [e.payload.application_id for e in events]  # type: ignore[attr-defined]
        apps = await load_applications(tx.conn, ids)
        ready = []
        for e in events:
            app = apps.get(e.payload.application_id)  # type: ignore[attr-defined]
            if app is not None:
                ready.append((e, app))
            else:
                tx.defer(e, "recipients of the application are not known yet")
        return ready
