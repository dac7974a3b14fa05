"""The payments service: exactly-once payment instructions from released entitlements, fund budgets, bank
batches (Kafka or ISO 20022 files), bank results, reconciliation breaks and recovery."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

from subsidy_contracts.bank import PaymentResults
from subsidy_contracts.eligibility import EntitlementReleased
from subsidy_contracts.registration import PayeeAccountRegistered
from subsidy_contracts.topics import BANK_BATCHES, BANK_RESULTS, DECISIONS, PAYEE_ACCOUNTS, PAYMENTS
from subsidy_runtime.logging import get_logger
from subsidy_runtime.outbox import Transaction
from subsidy_runtime.service import ServiceRuntime

from . import account_changes, batching, funds, reconciliation
from .api import router
from .instructions import create_instructions, retry_held
from .iso20022.model import InvalidMessage
from .iso20022.reports import read_report
from .metrics import PaymentMetrics
from .settings import PaymentsSettings

log = get_logger(__name__)
settings = PaymentsSettings()  # from the environment
runtime = ServiceRuntime(
    settings,
    migrations_package="payments.migrations",
    title="Payments service",
    description="Payment instructions with stable end-to-end ids, fund budgets, bank batches and reconciliation.",
)
runtime.produces(PAYMENTS)
runtime.produces(BANK_BATCHES)
metrics = PaymentMetrics(runtime.metrics.registry)


@runtime.on_start
async def seed_funds() -> None:
    async with runtime.pool.acquire() as conn, conn.transaction():
        await funds.seed_funds(conn, funds.load_fund_config(settings.funds_file))


@runtime.consumer(DECISIONS, events=[EntitlementReleased], name="entitlements")
async def on_entitlements(tx: Transaction, events: list[EntitlementReleased]) -> None:
    """One payment instruction per released instalment, whatever is redelivered."""
    await create_instructions(tx, events, metrics=metrics)


@runtime.consumer(PAYEE_ACCOUNTS, events=[PayeeAccountRegistered], name="payee-accounts")
async def on_payee_accounts(tx: Transaction, events: list[PayeeAccountRegistered]) -> None:
    """A newly registered account re-issues the owner's payments that failed because of the old one."""
    await account_changes.apply_account_changes(tx, events, metrics=metrics)


@runtime.consumer(BANK_RESULTS, events=[PaymentResults], name="bank-results")
async def on_bank_results(tx: Transaction, events: list[PaymentResults]) -> None:
    now = datetime.now(UTC)
    for event in events:
        await reconciliation.apply_bank_report(
            tx,
            bank_code=event.payload.bank_code,
            report_id=event.payload.report_id,
            source="kafka",
            entries=reconciliation.reports_from_kafka(event),
            now=now,
            original_batch_id=event.payload.original_batch_id,
            metrics=metrics,
        )


async def batch_and_send_once() -> int:
    """One round: batch what is ready and due, then send every approved batch (each in its own transaction)."""
    now = datetime.now(UTC)
    async with runtime.transaction() as tx:
        await batching.form_batches(tx, settings, now, now.date(), metrics=metrics)
    sent = 0
    async with runtime.pool.acquire() as conn:
        ready = await batching.approved_batches(conn)
    for batch_id in ready:
        async with runtime.transaction() as tx:
            sent += await batching.release_batch(tx, settings, batch_id, datetime.now(UTC), metrics)
    return sent


@runtime.loop("batching")
async def batching_loop() -> None:
    while True:
        await batch_and_send_once()
        await asyncio.sleep(settings.batch_interval_s)


async def read_incoming_once() -> int:
    """Apply every complete pain.002 / camt.054 file in the incoming directory, then move it to done/ (or
    rejected/ with a .reason file when it does not validate)."""
    incoming = Path(settings.incoming_dir)
    done, rejected = incoming / "done", incoming / "rejected"
    applied = 0
    for path in await asyncio.to_thread(_complete_files, incoming):
        try:
            report = read_report(path.read_bytes())
        except FileNotFoundError:  # another replica took it (reports are applied once by their id anyway)
            continue
        except InvalidMessage as exc:
            rejected.mkdir(exist_ok=True)
            (rejected / (path.name + ".reason")).write_text(str(exc), encoding="utf-8")
            path.replace(rejected / path.name)
            log.error("bank file refused", file=path.name, reason=str(exc))
            continue
        async with runtime.transaction() as tx:
            await reconciliation.apply_file_report(tx, report, datetime.now(UTC), metrics)
        done.mkdir(exist_ok=True)
        with contextlib.suppress(FileNotFoundError):  # after the commit: a crash before this re-reads it (a no-op)
            path.replace(done / path.name)
        applied += 1
    return applied


def _complete_files(directory: Path) -> list[Path]:
    """Banks write name.xml.part and rename it: only *.xml files are complete."""
    return sorted(directory.glob("*.xml")) if directory.is_dir() else []


@runtime.loop("bank-files")
async def bank_files_loop() -> None:
    while True:
        await read_incoming_once()
        await asyncio.sleep(1.0)


@runtime.loop("housekeeping")
async def housekeeping_loop() -> None:
    """Held payments whose reason is gone, payments banks never answered, and the business gauges."""
    while True:
        async with runtime.transaction() as tx:
            await retry_held(tx)
        async with runtime.transaction() as tx:
            await reconciliation.find_unanswered(tx, timedelta(seconds=settings.no_result_after_s), datetime.now(UTC))
        async with runtime.pool.acquire() as conn:
            await metrics.refresh(conn)
        await asyncio.sleep(5.0)


app = runtime.http_app([router])
app.state.runtime = runtime
app.state.settings = settings
app.state.payment_metrics = metrics
stream_app = runtime.stream_app
