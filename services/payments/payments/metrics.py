"""Payments' business metrics: money by fund and status, budgets, failures, holds, reconciliation breaks.

Counters move when a transition is applied; gauges are refreshed from the database by a loop, so they are
right after a restart and across replicas (every replica reports the same database values)."""

from __future__ import annotations

from decimal import Decimal

from prometheus_client import CollectorRegistry, Counter, Gauge

from subsidy_contracts.payments import PaymentStatus
from subsidy_runtime.db import Connection

# ISO 20022 reasons banks give most (account closed, blocked, name mismatch, duplicate, deceased), and ours.
KNOWN_FAILURE_CODES = ("AC04", "AC06", "BE01", "AM05", "MD07", "unknown")
# Why a payment was re-issued: a caseworker over HTTP, or a newly registered payee account (account_changes.py).
REISSUE_CASEWORKER = "caseworker"
REISSUE_ACCOUNT_CORRECTED = "account-corrected"
REISSUE_REASONS = (REISSUE_CASEWORKER, REISSUE_ACCOUNT_CORRECTED)


class PaymentMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        r = registry
        self.amount = Counter(
            "subsidy_payment_amount_yuan",
            "Yuan of payments that reached a status, by fund.",
            ["fund_code", "status"],
            registry=r,
        )
        self.payments = Counter(
            "subsidy_payments", "Payments that reached a status, by fund.", ["fund_code", "status"], registry=r
        )
        self.failures = Counter(
            "subsidy_payment_failures",
            "Payments a bank rejected or returned, by ISO 20022 reason code.",
            ["reason_code"],
            registry=r,
        )
        for code in KNOWN_FAILURE_CODES:  # present from the start, so the first failure is a visible increase
            self.failures.labels(code)
        self.reissues = Counter(
            "subsidy_payment_reissues",
            "Failed or returned payments paid again to a corrected account (a new attempt), by what triggered it.",
            ["reason"],
            registry=r,
        )
        for reason in REISSUE_REASONS:
            self.reissues.labels(reason)
        self.batches = Counter(
            "subsidy_payment_batches", "Bank batches by what happened to them.", ["status"], registry=r
        )
        self.budget = Gauge("subsidy_fund_budget_yuan", "Yearly budget of a fund.", ["fund_code", "year"], registry=r)
        self.budget_remaining = Gauge(
            "subsidy_fund_budget_remaining_yuan",
            "Budget not yet reserved or paid.",
            ["fund_code", "year"],
            registry=r,
        )
        self.budget_exhausted = Gauge(
            "subsidy_fund_budget_exhausted",
            "1 while payments of the fund are held because its budget would be exceeded.",
            ["fund_code"],
            registry=r,
        )
        self.held = Gauge("subsidy_payments_held", "Payments held, by reason.", ["reason"], registry=r)
        self.breaks_open = Gauge(
            "subsidy_reconciliation_breaks_open",
            "Reconciliation breaks not yet resolved, by kind.",
            ["kind"],
            registry=r,
        )
        self.break_oldest_age = Gauge(
            "subsidy_reconciliation_break_oldest_age_seconds",
            "Age of the oldest unresolved reconciliation break (0 when none).",
            registry=r,
        )
        self.receivables_open = Gauge(
            "subsidy_receivables_open_yuan",
            "Money still to be recovered (追回), by programme.",
            ["programme_id"],
            registry=r,
        )

    def observe_status(self, fund_code: str, status: PaymentStatus, amount: Decimal) -> None:
        self.payments.labels(fund_code, status.value).inc()
        self.amount.labels(fund_code, status.value).inc(float(amount))  # a metric sample, not money

    def observe_statuses(self, fund_code: str, status: PaymentStatus, count: int, total: Decimal) -> None:
        """`count` payments of the fund, `total` yuan together, reached the status."""
        self.payments.labels(fund_code, status.value).inc(count)
        self.amount.labels(fund_code, status.value).inc(float(total))  # a metric sample, not money

    async def refresh(self, conn: Connection) -> None:
        for r in await conn.fetch("SELECT fund_code, year, budget, reserved, paid FROM fund_budgets"):
            self.budget.labels(r["fund_code"], str(r["year"])).set(float(r["budget"]))
            self.budget_remaining.labels(r["fund_code"], str(r["year"])).set(
                float(r["budget"] - r["reserved"] - r["paid"])
            )
        held = {
            r["held_reason"]: r["n"]
            for r in await conn.fetch(
                """SELECT held_reason, count(*) AS n FROM payment_instructions
                   WHERE status = 'held' AND held_reason IS NOT NULL GROUP BY 1"""
            )
        }
        for reason in ("budget", "no_budget", "recovery"):
            self.held.labels(reason).set(held.get(reason, 0))
        exhausted = {
            r["fund_code"]
            for r in await conn.fetch(
                """SELECT DISTINCT fund_code FROM payment_instructions
                   WHERE status = 'held' AND held_reason IN ('budget', 'no_budget')"""
            )
        }
        for r in await conn.fetch("SELECT code FROM funds"):
            self.budget_exhausted.labels(r["code"]).set(1 if r["code"] in exhausted else 0)
        breaks = {
            r["kind"]: r["n"]
            for r in await conn.fetch(
                "SELECT kind, count(*) AS n FROM reconciliation_breaks WHERE status IN ('open', 'assigned') GROUP BY 1"
            )
        }
        for kind in ("unmatched_result", "amount_mismatch", "no_result", "unexpected_status"):
            self.breaks_open.labels(kind).set(breaks.get(kind, 0))
        oldest = await conn.fetchval(
            """SELECT coalesce(extract(epoch FROM now() - min(created_at)), 0) FROM reconciliation_breaks
               WHERE status IN ('open', 'assigned')"""
        )
        self.break_oldest_age.set(float(oldest or 0))
        for r in await conn.fetch(
            "SELECT programme_id, sum(amount - repaid) AS due FROM receivables WHERE status = 'open' GROUP BY 1"
        ):
            self.receivables_open.labels(r["programme_id"]).set(float(r["due"]))
