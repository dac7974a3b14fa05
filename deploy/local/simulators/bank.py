"""Bank simulator: the bank side of the platform's disbursements, for local stacks and tests.

It speaks both interfaces the payments service supports, and answers each batch on the channel it came by:
- Kafka: PaymentBatch events on bank.payment-batches.v1 in, PaymentResults on bank.payment-results.v1 out
  (key: the bank's CNAPS code; report_id unique per report).
- ISO 20022 files: pain.001.001.09 files appearing in BANK_OUTBOX_DIR (the platform writes `x.xml.part`, then
  renames it to `x.xml`; only `*.xml` are taken, each once) are validated against the official XSD; answers
  are pain.002.001.12 (status) and camt.054.001.08 (debits and returns on the fund's account) files written
  atomically (`.part`, then rename) into BANK_INBOX_DIR. XML is read and written with lxml here: the bank does
  not use the platform's own ISO 20022 package, only its XSD files.

What happens to a payment is decided by the last three digits of the creditor's account, so tests can
predict it: 404 rejected AC04 (closed account); 405 rejected BE01 (name does not match the account); 406
settled, then returned MD07 after BANK_RETURN_SECONDS; 407 answered late (no acceptance, settled after
BANK_LATE_SECONDS); anything else settled after BANK_SETTLE_SECONDS. An end-to-end id the bank has already
accepted or settled (and not returned) is rejected AM05 and never credited twice; a batch id (MsgId) seen
before is rejected whole as DU01, with every payment listed as DU01 (a statement about this copy only: the
original's results stand). A batch whose count or sum does not match its payments is rejected whole (AM19 /
AM16 at group level, AM20 / AM17 at payment-information level), and a file that is not a valid pain.001 is
rejected FF01 with the validator's reason. Per batch: an acceptance report first (accepted + rejections;
pain.002 group status ACCP, PART or RJCT), the credits BANK_SETTLE_SECONDS later, then returns.

The ledger (batches seen, credits per end-to-end id, scheduled answers) is a SQLite file in BANK_STATE_DIR, so
a restart forgets nothing and still sends the answers that were due. HTTP (BANK_SIMULATOR_PORT):
    GET /healthz            liveness
    GET /ledger             what the bank credited, per end-to-end id (?end_to_end_id= filters), with amounts
    GET /batches            every batch received, with its channel and outcome
    GET /stats              counts (batches, files, reports sent, pending answers, invalid inputs)
Environment: KAFKA_BOOTSTRAP_SERVERS (empty: files only), BANK_OUTBOX_DIR, BANK_INBOX_DIR, BANK_STATE_DIR,
BANK_XSD_DIR (default: the payments package's iso20022/xsd), BANK_SETTLE_SECONDS (1), BANK_RETURN_SECONDS (2),
BANK_LATE_SECONDS (5), BANK_POLL_SECONDS (0.2); for tests beside a running stack, BANK_BATCHES_TOPIC,
BANK_RESULTS_TOPIC and BANK_CONSUMER_GROUP (default: the registry's topics, group bank-simulator).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import sqlite3
import time
import uuid
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal, cast

from fastapi import FastAPI
from lxml import etree

from subsidy_contracts.bank import (
    PaymentBatch,
    PaymentResult,
    PaymentResults,
    PaymentResultsPayload,
    ResultStatus,
)
from subsidy_contracts.topics import BANK_BATCHES, BANK_RESULTS
from subsidy_runtime.outbox import event_headers
from subsidy_runtime.settings import idempotent_producer

log = logging.getLogger("bank-simulator")
ROOT = Path(__file__).resolve().parents[3]
CHINA = timezone(timedelta(hours=8))
ISO = "urn:iso:std:iso:20022:tech:xsd:"
PAIN001 = "pain.001.001.09"
PAIN002 = "pain.002.001.12"
CAMT054 = "camt.054.001.08"
RESULTS_PER_EVENT = 1000  # keeps a PaymentResults record well under Kafka's 1 MB default
Channel = Literal["kafka", "file"]


@dataclass(frozen=True)
class Config:
    outbox_dir: Path
    inbox_dir: Path
    state_dir: Path
    xsd_dir: Path
    kafka_bootstrap: str
    settle_s: float
    return_s: float
    late_s: float
    poll_s: float
    batches_topic: str = BANK_BATCHES.name
    results_topic: str = BANK_RESULTS.name
    consumer_group: str = "bank-simulator"

    @classmethod
    def from_env(cls) -> Config:
        state = Path(os.environ.get("BANK_STATE_DIR") or ROOT / ".run" / "bank-simulator")
        return cls(
            outbox_dir=Path(os.environ.get("BANK_OUTBOX_DIR") or state / "outbox"),
            inbox_dir=Path(os.environ.get("BANK_INBOX_DIR") or state / "inbox"),
            state_dir=state,
            xsd_dir=Path(
                os.environ.get("BANK_XSD_DIR") or ROOT / "services" / "payments" / "payments" / "iso20022" / "xsd"
            ),
            kafka_bootstrap=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", ""),
            settle_s=float(os.environ.get("BANK_SETTLE_SECONDS", "1")),
            return_s=float(os.environ.get("BANK_RETURN_SECONDS", "2")),
            late_s=float(os.environ.get("BANK_LATE_SECONDS", "5")),
            poll_s=float(os.environ.get("BANK_POLL_SECONDS", "0.2")),
            batches_topic=os.environ.get("BANK_BATCHES_TOPIC", BANK_BATCHES.name),
            results_topic=os.environ.get("BANK_RESULTS_TOPIC", BANK_RESULTS.name),
            consumer_group=os.environ.get("BANK_CONSUMER_GROUP", "bank-simulator"),
        )


# ------------------------------------------------------------------------------------------------ batches
@dataclass(frozen=True)
class Payment:
    end_to_end_id: str
    amount: Decimal
    creditor_name: str
    creditor_account: str
    creditor_bank_code: str
    remittance: str = ""


@dataclass(frozen=True)
class Instruction:
    """One PmtInf of a pain.001 (a Kafka batch is one instruction)."""

    instruction_id: str
    declared_count: int | None
    declared_sum: Decimal | None
    payments: list[Payment]


@dataclass(frozen=True)
class Batch:
    batch_id: str
    channel: Channel
    bank_code: str
    debtor_name: str
    debtor_account: str
    declared_count: int | None
    declared_sum: Decimal | None
    instructions: list[Instruction]

    @property
    def payments(self) -> list[Payment]:
        return [p for i in self.instructions for p in i.payments]


@dataclass
class Entry:
    """One payment's line in a report."""

    end_to_end_id: str
    status: str  # accepted | settled | rejected | returned
    amount: str
    instruction_id: str
    creditor_name: str
    creditor_account: str
    reason_code: str | None = None
    reason_text: str | None = None
    bank_reference: str | None = None


@dataclass
class Report:
    """An answer due at a time: what a job in the ledger holds (JSON), rendered when it is sent."""

    report_id: str
    stage: str  # ack | settle | return
    channel: Channel
    batch_id: str
    bank_code: str
    debtor_name: str
    debtor_account: str
    declared_count: int | None
    declared_sum: str | None
    group_status: str | None = None
    group_reason_code: str | None = None
    group_reason_text: str | None = None
    entries: list[Entry] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, raw: str) -> Report:
        data = json.loads(raw)
        data["entries"] = [Entry(**e) for e in data["entries"]]
        return cls(**data)


def new_id(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex.upper()}"[:35]


REJECTIONS = {
    "404": ("AC04", "账户已销户 account closed"),
    "405": ("BE01", "户名与账号不符 name does not match the account"),
}
RETURN_REASON = ("MD07", "收款人已身故，资金退回 end customer deceased, funds returned")


# ------------------------------------------------------------------------------------------------- ledger
class Ledger:
    """The bank's books in SQLite: batches seen, credits per end-to-end id, answers due, inputs taken."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(
            """
            CREATE TABLE IF NOT EXISTS batches (
                batch_id TEXT NOT NULL, channel TEXT NOT NULL, received_at TEXT NOT NULL, outcome TEXT NOT NULL,
                payments INTEGER NOT NULL, source TEXT);
            CREATE INDEX IF NOT EXISTS batches_id ON batches (batch_id);
            CREATE TABLE IF NOT EXISTS credits (
                end_to_end_id TEXT PRIMARY KEY, batch_id TEXT NOT NULL, amount TEXT NOT NULL,
                creditor_name TEXT NOT NULL, creditor_account TEXT NOT NULL, status TEXT NOT NULL,
                bank_reference TEXT NOT NULL, accepted_at TEXT NOT NULL, settled_at TEXT, returned_at TEXT,
                times_credited INTEGER NOT NULL DEFAULT 0);
            CREATE TABLE IF NOT EXISTS jobs (
                id INTEGER PRIMARY KEY AUTOINCREMENT, due_at REAL NOT NULL, body TEXT NOT NULL,
                applied INTEGER NOT NULL DEFAULT 0);
            CREATE TABLE IF NOT EXISTS inputs (source TEXT PRIMARY KEY, digest TEXT, taken_at TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
            """
        )

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def bump(self, name: str, by: int = 1) -> None:
        self.db.execute(
            "INSERT INTO counters VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
            (name, by),
        )

    def taken(self, source: str) -> bool:
        return self.db.execute("SELECT 1 FROM inputs WHERE source = ?", (source,)).fetchone() is not None


def now_text() -> str:
    return datetime.now(UTC).isoformat()


def _check_totals(batch: Batch) -> tuple[str, str] | None:
    """The reason a batch is rejected whole for its control totals, or None when they match."""
    payments = batch.payments
    total = sum((p.amount for p in payments), Decimal(0))
    if batch.declared_count is not None and batch.declared_count != len(payments):
        return "AM19", f"NbOfTxs {batch.declared_count} but {len(payments)} transactions"
    if batch.declared_sum is not None and batch.declared_sum != total:
        return "AM16", f"CtrlSum {batch.declared_sum} but the transactions sum to {total}"
    for ins in batch.instructions:
        sub = sum((p.amount for p in ins.payments), Decimal(0))
        if ins.declared_count is not None and ins.declared_count != len(ins.payments):
            return "AM20", f"{ins.instruction_id}: NbOfTxs {ins.declared_count} but {len(ins.payments)} transactions"
        if ins.declared_sum is not None and ins.declared_sum != sub:
            return "AM17", f"{ins.instruction_id}: CtrlSum {ins.declared_sum} but the transactions sum to {sub}"
    return None


def decide(ledger: Ledger, batch: Batch, cfg: Config, source: str) -> list[tuple[float, Report]]:
    """What the bank answers to a batch, and when. Runs inside the ledger transaction that records the batch."""
    now = time.time()

    def report(stage: str, prefix: str) -> Report:
        return Report(
            report_id=new_id(prefix),
            stage=stage,
            channel=batch.channel,
            batch_id=batch.batch_id,
            bank_code=batch.bank_code,
            debtor_name=batch.debtor_name,
            debtor_account=batch.debtor_account,
            declared_count=batch.declared_count,
            declared_sum=None if batch.declared_sum is None else f"{batch.declared_sum:f}",
        )

    def entry(ins: Instruction, p: Payment, status: str, reason: tuple[str, str] | None = None) -> Entry:
        return Entry(
            end_to_end_id=p.end_to_end_id,
            status=status,
            amount=f"{p.amount:f}",
            instruction_id=ins.instruction_id,
            creditor_name=p.creditor_name,
            creditor_account=p.creditor_account,
            reason_code=reason[0] if reason else None,
            reason_text=reason[1] if reason else None,
        )

    ack = report("ack", "ACK")
    seen_before = ledger.db.execute("SELECT 1 FROM batches WHERE batch_id = ?", (batch.batch_id,)).fetchone()
    whole: tuple[str, str] | None = None
    if seen_before:
        whole = ("DU01", f"duplicate batch {batch.batch_id}: already received; the original's results stand")
        outcome = "duplicate"
    else:
        whole = _check_totals(batch)
        outcome = "rejected" if whole else "accepted"
    ledger.db.execute(
        "INSERT INTO batches VALUES (?, ?, ?, ?, ?, ?)",
        (batch.batch_id, batch.channel, now_text(), outcome, len(batch.payments), source),
    )
    ledger.bump("batches")
    if whole is not None:
        ack.group_status, (ack.group_reason_code, ack.group_reason_text) = "RJCT", whole
        ack.entries = [entry(ins, p, "rejected", whole) for ins in batch.instructions for p in ins.payments]
        return [(now, ack)]

    settle, late, returns = report("settle", "STL"), report("settle", "LATE"), report("return", "RTN")
    in_batch: set[str] = set()
    for ins in batch.instructions:
        for p in ins.payments:
            ending = p.creditor_account[-3:]
            known = ledger.db.execute(
                "SELECT status FROM credits WHERE end_to_end_id = ?", (p.end_to_end_id,)
            ).fetchone()
            if p.end_to_end_id in in_batch or (known is not None and known[0] != "returned"):
                ack.entries.append(entry(ins, p, "rejected", ("AM05", "duplicate payment: end-to-end id already paid")))
                continue
            in_batch.add(p.end_to_end_id)
            if ending in REJECTIONS:
                ack.entries.append(entry(ins, p, "rejected", REJECTIONS[ending]))
                continue
            reference = new_id("SIM")[:20]
            ledger.db.execute(
                """INSERT INTO credits (end_to_end_id, batch_id, amount, creditor_name, creditor_account, status,
                                        bank_reference, accepted_at)
                   VALUES (?, ?, ?, ?, ?, 'accepted', ?, ?)
                   ON CONFLICT(end_to_end_id) DO UPDATE SET batch_id = excluded.batch_id, amount = excluded.amount,
                       status = 'accepted', bank_reference = excluded.bank_reference,
                       accepted_at = excluded.accepted_at, settled_at = NULL, returned_at = NULL""",
                (
                    p.end_to_end_id,
                    batch.batch_id,
                    f"{p.amount:f}",
                    p.creditor_name,
                    p.creditor_account,
                    reference,
                    now_text(),
                ),
            )
            if ending == "407":
                late.entries.append(entry(ins, p, "settled"))
                late.entries[-1].bank_reference = reference
                continue
            accepted = entry(ins, p, "accepted")
            accepted.bank_reference = reference
            ack.entries.append(accepted)
            settle.entries.append(entry(ins, p, "settled"))
            settle.entries[-1].bank_reference = reference
            if ending == "406":
                returns.entries.append(entry(ins, p, "returned", RETURN_REASON))
                returns.entries[-1].bank_reference = reference
    statuses = {e.status for e in ack.entries}
    ack.group_status = "RJCT" if statuses == {"rejected"} else ("PART" if "rejected" in statuses else "ACCP")
    jobs: list[tuple[float, Report]] = []
    if ack.entries:
        jobs.append((now, ack))
    if settle.entries:
        jobs.append((now + cfg.settle_s, settle))
    if late.entries:
        jobs.append((now + cfg.late_s, late))
    if returns.entries:
        jobs.append((now + cfg.settle_s + cfg.return_s, returns))
    return jobs


def schedule(ledger: Ledger, jobs: list[tuple[float, Report]]) -> None:
    ledger.db.executemany("INSERT INTO jobs (due_at, body) VALUES (?, ?)", [(d, r.to_json()) for d, r in jobs])


def apply_effects(ledger: Ledger, report: Report) -> None:
    """Book what a report says happened (credits settled, returns) at the moment it is due."""
    if report.stage == "settle":
        ledger.db.executemany(
            "UPDATE credits SET status = 'settled', settled_at = ?, times_credited = times_credited + 1 "
            "WHERE end_to_end_id = ? AND status = 'accepted'",
            [(now_text(), e.end_to_end_id) for e in report.entries],
        )
    elif report.stage == "return":
        ledger.db.executemany(
            "UPDATE credits SET status = 'returned', returned_at = ? WHERE end_to_end_id = ? AND status = 'settled'",
            [(now_text(), e.end_to_end_id) for e in report.entries],
        )


# ---------------------------------------------------------------------------------------------- pain.001 in
class BadFile(Exception):
    def __init__(self, message_id: str, reason: str) -> None:
        super().__init__(reason)
        self.message_id = message_id
        self.reason = reason


_schemas: dict[str, etree.XMLSchema] = {}


def schema(cfg: Config, message: str) -> etree.XMLSchema:
    if message not in _schemas:
        _schemas[message] = etree.XMLSchema(etree.parse(str(cfg.xsd_dir / f"{message}.xsd")))
    return _schemas[message]


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True)


def read_pain001(cfg: Config, raw: bytes, fallback_id: str) -> Batch:
    """A pain.001.001.09 file as a Batch; BadFile (with the best message id known) when it is not valid."""
    try:
        root = etree.fromstring(raw, parser=_parser())
    except etree.XMLSyntaxError as exc:
        raise BadFile(fallback_id, f"line {exc.lineno}: not well-formed XML: {exc.msg}") from exc
    if getattr(root.getroottree().docinfo, "doctype", ""):
        raise BadFile(fallback_id, "line 1: a DOCTYPE declaration is not allowed in an ISO 20022 message")
    ns = {"d": ISO + PAIN001}
    found = root.find("d:CstmrCdtTrfInitn/d:GrpHdr/d:MsgId", ns)
    message_id = (found.text or "").strip()[:35] if found is not None and found.text else fallback_id
    if root.tag != f"{{{ISO + PAIN001}}}Document":
        raise BadFile(message_id, f"line {root.sourceline}: root is {root.tag}, not a {PAIN001} Document")
    xsd = schema(cfg, PAIN001)
    if not xsd.validate(root):
        first = next(iter(cast(Iterable[Any], xsd.error_log)))  # the stubs do not type the error log
        raise BadFile(message_id, f"line {first.line}: {first.message}")

    def text(node: etree._Element, path: str) -> str:
        got = node.find(path, ns)
        return (got.text or "").strip() if got is not None else ""

    def number(node: etree._Element, path: str) -> Decimal | None:
        value = text(node, path)
        try:
            return Decimal(value) if value else None
        except InvalidOperation:
            return None

    header = root.find("d:CstmrCdtTrfInitn/d:GrpHdr", ns)
    assert header is not None
    instructions: list[Instruction] = []
    debtor_name = debtor_account = bank_code = ""
    for pmt in root.findall("d:CstmrCdtTrfInitn/d:PmtInf", ns):
        debtor_name = debtor_name or text(pmt, "d:Dbtr/d:Nm")
        debtor_account = (
            debtor_account or text(pmt, "d:DbtrAcct/d:Id/d:Othr/d:Id") or text(pmt, "d:DbtrAcct/d:Id/d:IBAN")
        )
        bank_code = bank_code or text(pmt, "d:DbtrAgt/d:FinInstnId/d:ClrSysMmbId/d:MmbId")
        payments = [
            Payment(
                end_to_end_id=text(tx, "d:PmtId/d:EndToEndId"),
                amount=number(tx, "d:Amt/d:InstdAmt") or Decimal(0),
                creditor_name=text(tx, "d:Cdtr/d:Nm"),
                creditor_account=text(tx, "d:CdtrAcct/d:Id/d:Othr/d:Id") or text(tx, "d:CdtrAcct/d:Id/d:IBAN"),
                creditor_bank_code=text(tx, "d:CdtrAgt/d:FinInstnId/d:ClrSysMmbId/d:MmbId"),
                remittance=text(tx, "d:RmtInf/d:Ustrd"),
            )
            for tx in pmt.findall("d:CdtTrfTxInf", ns)
        ]
        count = text(pmt, "d:NbOfTxs")
        instructions.append(
            Instruction(text(pmt, "d:PmtInfId"), int(count) if count else None, number(pmt, "d:CtrlSum"), payments)
        )
    count = text(header, "d:NbOfTxs")
    return Batch(
        batch_id=message_id,
        channel="file",
        bank_code=bank_code,
        debtor_name=debtor_name,
        debtor_account=debtor_account,
        declared_count=int(count) if count else None,
        declared_sum=number(header, "d:CtrlSum"),
        instructions=instructions,
    )


def batch_from_event(event: PaymentBatch) -> Batch:
    p = event.payload
    return Batch(
        batch_id=p.batch_id,
        channel="kafka",
        bank_code=p.bank_code,
        debtor_name=p.debtor.name,
        debtor_account=p.debtor.account_number,
        declared_count=p.number_of_transactions,
        declared_sum=p.control_sum,
        instructions=[
            Instruction(
                p.batch_id,
                None,
                None,
                [
                    Payment(
                        x.end_to_end_id,
                        x.amount,
                        x.creditor.name,
                        x.creditor.account_number,
                        x.creditor.bank_code,
                        x.remittance,
                    )
                    for x in p.payments
                ],
            )
        ],
    )


# ------------------------------------------------------------------------------------------- reports out
def _el(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    node = etree.SubElement(parent, tag, attrs)
    if text is not None:
        node.text = text
    return node


def _reason(parent: etree._Element, tag: str, code: str | None, text: str | None) -> None:
    info = _el(parent, tag)
    if code:
        _el(_el(info, "Rsn"), "Cd", code)
    for start in range(0, min(len(text or ""), 315), 105):  # AddtlInf is Max105Text, repeatable
        _el(info, "AddtlInf", (text or "")[start : start + 105])


def _stamp() -> str:
    return datetime.now(CHINA).isoformat(timespec="seconds")


def render_pain002(report: Report) -> bytes:
    """A pain.002.001.12 customer payment status report."""
    nsmap: Any = {None: ISO + PAIN002}
    doc = etree.Element("Document", nsmap=nsmap)
    body = _el(doc, "CstmrPmtStsRpt")
    header = _el(body, "GrpHdr")
    _el(header, "MsgId", report.report_id)
    _el(header, "CreDtTm", _stamp())
    agent = _el(_el(_el(header, "DbtrAgt"), "FinInstnId"), "ClrSysMmbId")
    _el(_el(agent, "ClrSysId"), "Cd", "CNAPS")
    _el(agent, "MmbId", report.bank_code or "000000000000")
    group = _el(body, "OrgnlGrpInfAndSts")
    _el(group, "OrgnlMsgId", report.batch_id)
    _el(group, "OrgnlMsgNmId", PAIN001)
    if report.declared_count is not None:
        _el(group, "OrgnlNbOfTxs", str(report.declared_count))
    if report.declared_sum is not None:
        _el(group, "OrgnlCtrlSum", report.declared_sum)
    if report.group_status:
        _el(group, "GrpSts", report.group_status)
    if report.group_reason_code or report.group_reason_text:
        _reason(group, "StsRsnInf", report.group_reason_code, report.group_reason_text)
    by_instruction: dict[str, list[Entry]] = {}
    for e in report.entries:
        by_instruction.setdefault(e.instruction_id, []).append(e)
    for instruction_id, entries in by_instruction.items():
        ins = _el(body, "OrgnlPmtInfAndSts")
        _el(ins, "OrgnlPmtInfId", instruction_id)
        for e in entries:
            tx = _el(ins, "TxInfAndSts")
            _el(tx, "OrgnlEndToEndId", e.end_to_end_id)
            _el(tx, "TxSts", {"accepted": "ACCP", "rejected": "RJCT", "settled": "ACSC"}[e.status])
            if e.reason_code or e.reason_text:
                _reason(tx, "StsRsnInf", e.reason_code, e.reason_text)
            if e.status == "accepted":
                _el(tx, "AccptncDtTm", _stamp())
            if e.bank_reference:
                _el(tx, "AcctSvcrRef", e.bank_reference)
            _el(_el(_el(tx, "OrgnlTxRef"), "Amt"), "InstdAmt", e.amount, Ccy="CNY")
    return etree.tostring(doc, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def render_camt054(report: Report) -> bytes:
    """A camt.054.001.08 notification of the fund account's debits (settled) or credits (returns)."""
    nsmap: Any = {None: ISO + CAMT054}
    doc = etree.Element("Document", nsmap=nsmap)
    body = _el(doc, "BkToCstmrDbtCdtNtfctn")
    header = _el(body, "GrpHdr")
    _el(header, "MsgId", report.report_id)
    _el(header, "CreDtTm", _stamp())
    notification = _el(body, "Ntfctn")
    _el(notification, "Id", report.report_id)
    _el(notification, "CreDtTm", _stamp())
    account = _el(notification, "Acct")
    _el(_el(_el(account, "Id"), "Othr"), "Id", report.debtor_account or "0")
    _el(account, "Ccy", "CNY")
    if report.debtor_name:
        _el(_el(account, "Ownr"), "Nm", report.debtor_name[:140])
    today = datetime.now(CHINA).date().isoformat()
    returned = report.stage == "return"
    for e in report.entries:
        entry = _el(notification, "Ntry")
        _el(entry, "Amt", e.amount, Ccy="CNY")
        _el(entry, "CdtDbtInd", "CRDT" if returned else "DBIT")
        _el(_el(entry, "Sts"), "Cd", "BOOK")
        _el(_el(entry, "BookgDt"), "Dt", today)
        _el(_el(entry, "ValDt"), "Dt", today)
        if e.bank_reference:
            _el(entry, "AcctSvcrRef", e.bank_reference)
        family = _el(_el(_el(entry, "BkTxCd"), "Domn"), "Cd", "PMNT").getparent()
        assert family is not None
        fmly = _el(family, "Fmly")
        _el(fmly, "Cd", "ICDT")
        _el(fmly, "SubFmlyCd", "RRTN" if returned else "DMCT")
        tx = _el(_el(entry, "NtryDtls"), "TxDtls")
        refs = _el(tx, "Refs")
        _el(refs, "MsgId", report.batch_id)
        if e.bank_reference:
            _el(refs, "AcctSvcrRef", e.bank_reference)
        _el(refs, "PmtInfId", e.instruction_id)
        _el(refs, "EndToEndId", e.end_to_end_id)
        _el(tx, "Amt", e.amount, Ccy="CNY")
        _el(tx, "CdtDbtInd", "CRDT" if returned else "DBIT")
        parties = _el(tx, "RltdPties")
        _el(_el(_el(parties, "Cdtr"), "Pty"), "Nm", e.creditor_name[:140] or "-")
        _el(_el(_el(_el(parties, "CdtrAcct"), "Id"), "Othr"), "Id", e.creditor_account or "0")
        if returned:
            info = _el(tx, "RtrInf")
            if e.reason_code:
                _el(_el(info, "Rsn"), "Cd", e.reason_code)
            if e.reason_text:
                _el(info, "AddtlInf", e.reason_text[:105])
    return etree.tostring(doc, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def results_events(report: Report) -> list[PaymentResults]:
    """The report as PaymentResults events (one per RESULTS_PER_EVENT entries, each with its own report id)."""
    events = []
    chunks = [report.entries[i : i + RESULTS_PER_EVENT] for i in range(0, len(report.entries), RESULTS_PER_EVENT)]
    for n, chunk in enumerate(chunks):
        report_id = report.report_id if n == 0 else f"{report.report_id[:30]}-{n}"
        payload = PaymentResultsPayload(
            bank_code=report.bank_code,
            report_id=report_id,
            original_batch_id=report.batch_id,
            results=[
                PaymentResult(
                    end_to_end_id=e.end_to_end_id,
                    status=ResultStatus(e.status),
                    amount=Decimal(e.amount),
                    reason_code=e.reason_code,
                    reason_text=(e.reason_text or None) and (e.reason_text or "")[:140],
                    bank_reference=e.bank_reference,
                    value_date=datetime.now(CHINA).date() if e.status in ("settled", "returned") else None,
                )
                for e in chunk
            ],
            reported_at=datetime.now(UTC),
        )
        events.append(
            PaymentResults.create(
                payload,
                producer="bank-simulator",
                subject_key=report.bank_code,
                correlation_id=uuid.uuid5(uuid.NAMESPACE_URL, f"bank-batch:{report.batch_id}"),
            )
        )
    return events


def write_atomically(directory: Path, name: str, content: bytes) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / name
    part = directory / f"{name}.part"
    with open(part, "wb") as out:
        out.write(content)
        out.flush()
        os.fsync(out.fileno())
    os.replace(part, final)
    return final


# -------------------------------------------------------------------------------------------------- bank
class Bank:
    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.ledger = Ledger(cfg.state_dir / "ledger.sqlite3")
        self.producer: Any = None
        self.tasks: list[asyncio.Task[None]] = []

    # -- inputs
    def take_batch(self, batch: Batch, source: str, digest: str | None = None) -> None:
        with self.ledger.transaction():
            if self.ledger.taken(source):
                return  # the same Kafka record or file again: already answered
            self.ledger.db.execute("INSERT INTO inputs VALUES (?, ?, ?)", (source, digest, now_text()))
            schedule(self.ledger, decide(self.ledger, batch, self.cfg, source))

    def take_bad_file(self, source: str, digest: str, bad: BadFile) -> None:
        with self.ledger.transaction():
            if self.ledger.taken(source):
                return
            self.ledger.db.execute("INSERT INTO inputs VALUES (?, ?, ?)", (source, digest, now_text()))
            self.ledger.bump("invalid_files")
            report = Report(
                report_id=new_id("ACK"),
                stage="ack",
                channel="file",
                batch_id=bad.message_id,
                bank_code="",
                debtor_name="",
                debtor_account="",
                declared_count=None,
                declared_sum=None,
                group_status="RJCT",
                group_reason_code="FF01",
                group_reason_text=bad.reason,
            )
            schedule(self.ledger, [(time.time(), report)])

    def scan_outbox(self) -> int:
        """Takes each complete pain.001 (`*.xml`; `.part` files are still being written) once."""
        outbox = self.cfg.outbox_dir
        if not outbox.is_dir():
            return 0
        taken = 0
        for path in sorted(outbox.glob("*.xml")):
            # A file is known by name, size and time: one uploaded again with new content is a new input
            # (and a duplicate batch if its MsgId was seen), as on a bank's file server.
            try:
                stat = path.stat()
                source = f"file:{path.name}:{stat.st_size}:{stat.st_mtime_ns}"
                if self.ledger.taken(source):
                    continue
                raw = path.read_bytes()
            except FileNotFoundError:  # removed by the platform meanwhile
                continue
            digest = hashlib.sha256(raw).hexdigest()
            try:
                batch = read_pain001(self.cfg, raw, path.stem[:35])
            except BadFile as bad:
                log.warning("refused %s: %s", path.name, bad.reason)
                self.take_bad_file(source, digest, bad)
            else:
                self.take_batch(batch, source, digest)
            taken += 1
        return taken

    async def consume_kafka(self) -> None:
        from aiokafka import AIOKafkaConsumer

        while True:
            consumer = AIOKafkaConsumer(
                self.cfg.batches_topic,
                bootstrap_servers=self.cfg.kafka_bootstrap,
                group_id=self.cfg.consumer_group,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                max_partition_fetch_bytes=8 * 1024 * 1024,
            )
            try:
                await consumer.start()
                while True:
                    records = await consumer.getmany(timeout_ms=500, max_records=100)
                    for messages in records.values():
                        for msg in messages:
                            self.take_record(msg.value or b"", f"kafka:{msg.topic}:{msg.partition}:{msg.offset}")
                    if records:
                        await consumer.commit()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("Kafka consumer failed; restarting in 2 s")
                await asyncio.sleep(2)
            finally:
                with contextlib.suppress(Exception):
                    await consumer.stop()

    def take_record(self, raw: bytes, position: str) -> None:
        try:
            event = PaymentBatch.model_validate_json(raw)
        except ValueError as exc:
            log.warning("refused an invalid PaymentBatch at %s: %s", position, exc)
            with self.ledger.transaction():
                self.ledger.bump("invalid_records")
            return
        # Redelivery of the same event (the platform's outbox is at-least-once) is not a duplicate batch.
        self.take_batch(batch_from_event(event), f"event:{event.event_id}")

    # -- answers
    async def send_due(self) -> int:
        due = self.ledger.db.execute(
            "SELECT id, body, applied FROM jobs WHERE due_at <= ? ORDER BY due_at, id LIMIT 50", (time.time(),)
        ).fetchall()
        for job_id, body, applied in due:
            report = Report.from_json(body)
            if not applied:
                with self.ledger.transaction():
                    apply_effects(self.ledger, report)
                    self.ledger.db.execute("UPDATE jobs SET applied = 1 WHERE id = ?", (job_id,))
            await self.deliver(report)
            with self.ledger.transaction():
                self.ledger.db.execute("DELETE FROM jobs WHERE id = ?", (job_id,))
                self.ledger.bump("reports_sent")
        return len(due)

    async def deliver(self, report: Report) -> None:
        if report.channel == "file":
            if report.stage == "ack":
                write_atomically(self.cfg.inbox_dir, f"{PAIN002}-{report.report_id}.xml", render_pain002(report))
            else:
                write_atomically(self.cfg.inbox_dir, f"{CAMT054}-{report.report_id}.xml", render_camt054(report))
            return
        if self.producer is None:
            raise RuntimeError("Kafka is not configured")
        for event in results_events(report):
            headers = [(k, v.encode()) for k, v in event_headers(event).items()]
            await self.producer.send_and_wait(
                self.cfg.results_topic, event.model_dump_json().encode(), key=report.bank_code.encode(), headers=headers
            )

    async def run_loop(self) -> None:
        while True:
            try:
                self.scan_outbox()
                while await self.send_due():
                    pass
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("bank loop failed; retrying")
            await asyncio.sleep(self.cfg.poll_s)

    async def start(self) -> None:
        self.cfg.inbox_dir.mkdir(parents=True, exist_ok=True)
        self.cfg.outbox_dir.mkdir(parents=True, exist_ok=True)
        if self.cfg.kafka_bootstrap:
            from aiokafka import AIOKafkaProducer

            self.producer = AIOKafkaProducer(
                bootstrap_servers=self.cfg.kafka_bootstrap,
                acks="all",
                enable_idempotence=idempotent_producer(),
                max_request_size=8 * 1024 * 1024,
            )
            await self.producer.start()
            self.tasks.append(asyncio.create_task(self.consume_kafka()))
        self.tasks.append(asyncio.create_task(self.run_loop()))

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.producer is not None:
            await self.producer.stop()

    # -- views
    def credits(self, end_to_end_id: str | None = None) -> list[dict[str, Any]]:
        query = (
            "SELECT * FROM credits" + (" WHERE end_to_end_id = ?" if end_to_end_id else "") + " ORDER BY accepted_at"
        )
        cur = self.ledger.db.execute(query, (end_to_end_id,) if end_to_end_id else ())
        names = [c[0] for c in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def batches(self) -> list[dict[str, Any]]:
        cur = self.ledger.db.execute("SELECT * FROM batches ORDER BY received_at")
        names = [c[0] for c in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def stats(self) -> dict[str, int]:
        counters = dict(self.ledger.db.execute("SELECT name, value FROM counters").fetchall())
        counters["pending_reports"] = self.ledger.db.execute("SELECT count(*) FROM jobs").fetchone()[0]
        return counters


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    bank = Bank(Config.from_env())
    await bank.start()
    app.state.bank = bank
    try:
        yield
    finally:
        await bank.stop()


app = FastAPI(title="Bank simulator", lifespan=lifespan)


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/ledger")
async def ledger(end_to_end_id: str | None = None) -> list[dict[str, Any]]:
    bank: Bank = app.state.bank
    return bank.credits(end_to_end_id)


@app.get("/batches")
async def batches() -> list[dict[str, Any]]:
    bank: Bank = app.state.bank
    return bank.batches()


@app.get("/stats")
async def stats() -> dict[str, int]:
    bank: Bank = app.state.bank
    return bank.stats()
