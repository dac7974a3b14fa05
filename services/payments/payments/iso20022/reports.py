"""Bank reports in: pain.002 (payment status report) and camt.054 (debit/credit notification) to BankReport.

Both are validated against their XSD before anything is read. Status mapping (ISO external code sets):
- pain.002 TxSts RJCT/CANC -> rejected; ACSC/ACCC (settlement completed) -> settled; any other status
  (ACCP, ACSP, ACTC, ACWC, PDNG, RCVD ...) -> accepted. A transaction without TxSts takes its payment
  information's or group's status.
- camt.054 booked entries only (Sts BOOK; pending and information entries are not money): a debit on the
  fund's account is a settled payment; a credit (or a reversal) carrying a payment's end-to-end id is money
  coming back, i.e. returned, with RtrInf's reason.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation

from lxml import etree

from .model import (
    CAMT054,
    NAMESPACE_PREFIX,
    PAIN002,
    BankReport,
    InvalidMessage,
    PaymentReport,
    PaymentStatus,
)
from .schemas import message_name, parse, validate_tree

# ISO 20022 times without an offset are the sender's local time; the banks are in China.
CHINA_STANDARD_TIME = timezone(timedelta(hours=8), "CST")
# Used by ISO 20022 when a payment carries no end-to-end id; such an entry can only become a break.
NOT_PROVIDED = "NOTPROVIDED"

_SETTLED_TX = frozenset({"ACSC", "ACCC"})
_REJECTED_TX = frozenset({"RJCT", "CANC"})


def _tx_status(code: str) -> PaymentStatus:
    if code in _REJECTED_TX:
        return "rejected"
    if code in _SETTLED_TX:
        return "settled"
    return "accepted"


class _Reader:
    def __init__(self, root: etree._Element, namespace: str) -> None:
        self.root = root
        self.ns = {"d": namespace}

    def all(self, node: etree._Element, path: str) -> list[etree._Element]:
        return node.findall(path, self.ns)

    def text(self, node: etree._Element, path: str) -> str | None:
        found = node.find(path, self.ns)
        if found is None or found.text is None:
            return None
        return found.text.strip() or None

    def texts(self, node: etree._Element, path: str) -> list[str]:
        return [(e.text or "").strip() for e in node.findall(path, self.ns) if (e.text or "").strip()]

    def decimal(self, node: etree._Element, path: str) -> Decimal | None:
        raw = self.text(node, path)
        if raw is None:
            return None
        try:
            return Decimal(raw)
        except InvalidOperation as exc:  # the XSD already refuses this; kept for a clear message
            raise InvalidMessage(f"line {node.sourceline}: {path} is not a decimal: {raw!r}") from exc

    def timestamp(self, node: etree._Element, path: str) -> datetime | None:
        raw = self.text(node, path)
        if raw is None:
            return None
        value = datetime.fromisoformat(raw)
        return value if value.tzinfo is not None else value.replace(tzinfo=CHINA_STANDARD_TIME)

    def day(self, node: etree._Element, path: str) -> date | None:
        """A DateAndDateTime2Choice (Dt or DtTm) as a date."""
        raw = self.text(node, f"{path}/d:Dt")
        if raw is not None:
            return date.fromisoformat(raw)
        stamp = self.timestamp(node, f"{path}/d:DtTm")
        return stamp.date() if stamp is not None else None

    def reason(self, node: etree._Element, path: str) -> tuple[str | None, str | None]:
        """First reason code (Cd or Prtry) and all additional information under `path`, joined."""
        code: str | None = None
        texts: list[str] = []
        for info in self.all(node, path):
            code = code or self.text(info, "d:Rsn/d:Cd") or self.text(info, "d:Rsn/d:Prtry")
            texts.extend(self.texts(info, "d:AddtlInf"))
        return code, ("; ".join(texts)[:500] or None)


def _read_pain002(doc: etree._ElementTree) -> BankReport:
    root = doc.getroot()
    r = _Reader(root, NAMESPACE_PREFIX + PAIN002)
    report = root.find("d:CstmrPmtStsRpt", r.ns)
    assert report is not None  # guaranteed by the XSD
    group = report.find("d:OrgnlGrpInfAndSts", r.ns)
    assert group is not None
    group_status = r.text(group, "d:GrpSts")
    group_code, group_text = r.reason(group, "d:StsRsnInf")
    entries: list[PaymentReport] = []
    for instruction in r.all(report, "d:OrgnlPmtInfAndSts"):
        instruction_status = r.text(instruction, "d:PmtInfSts") or group_status
        instruction_code, instruction_text = r.reason(instruction, "d:StsRsnInf")
        for tx in r.all(instruction, "d:TxInfAndSts"):
            status_code = r.text(tx, "d:TxSts") or instruction_status
            if status_code is None:
                raise InvalidMessage(f"line {tx.sourceline}: transaction without a status (TxSts, PmtInfSts, GrpSts)")
            code, text = r.reason(tx, "d:StsRsnInf")
            if code is None and status_code in _REJECTED_TX:
                code, text = instruction_code or group_code, text or instruction_text or group_text
            entries.append(
                PaymentReport(
                    end_to_end_id=r.text(tx, "d:OrgnlEndToEndId") or NOT_PROVIDED,
                    status=_tx_status(status_code),
                    amount=r.decimal(tx, "d:OrgnlTxRef/d:Amt/d:InstdAmt"),
                    reason_code=code,
                    reason_text=text,
                    bank_reference=r.text(tx, "d:AcctSvcrRef"),
                    value_date=None,
                )
            )
    header = report.find("d:GrpHdr", r.ns)
    assert header is not None
    created_at = r.timestamp(header, "d:CreDtTm")
    assert created_at is not None
    return BankReport(
        report_id=r.text(header, "d:MsgId") or "",
        kind="pain.002",
        original_message_id=r.text(group, "d:OrgnlMsgId"),
        group_status=group_status,
        created_at=created_at,
        entries=entries,
        group_reason_code=group_code,
        group_reason_text=group_text,
        original_message_ids=frozenset(x for x in [r.text(group, "d:OrgnlMsgId")] if x),
    )


def _read_camt054(doc: etree._ElementTree) -> BankReport:
    root = doc.getroot()
    r = _Reader(root, NAMESPACE_PREFIX + CAMT054)
    notification = root.find("d:BkToCstmrDbtCdtNtfctn", r.ns)
    assert notification is not None
    entries: list[PaymentReport] = []
    batches: set[str] = set()
    for account in r.all(notification, "d:Ntfctn"):
        for entry in r.all(account, "d:Ntry"):
            if (r.text(entry, "d:Sts/d:Cd") or r.text(entry, "d:Sts/d:Prtry")) != "BOOK":
                continue
            entry_direction = r.text(entry, "d:CdtDbtInd")
            reversal = r.text(entry, "d:RvslInd") == "true"
            value_date = r.day(entry, "d:ValDt") or r.day(entry, "d:BookgDt")
            entry_reference = r.text(entry, "d:AcctSvcrRef")
            details = [tx for d in r.all(entry, "d:NtryDtls") for tx in r.all(d, "d:TxDtls")]
            if not details:
                raise InvalidMessage(f"line {entry.sourceline}: booked entry without transaction details (TxDtls)")
            for tx in details:
                direction = r.text(tx, "d:CdtDbtInd") or entry_direction
                amount = r.decimal(tx, "d:Amt")
                if amount is None:
                    amount = r.decimal(tx, "d:AmtDtls/d:InstdAmt/d:Amt")
                if amount is None and len(details) == 1:
                    amount = r.decimal(entry, "d:Amt")
                code, text = r.reason(tx, "d:RtrInf")
                returned = direction == "CRDT" or reversal
                batch = r.text(tx, "d:Refs/d:MsgId")
                if batch:
                    batches.add(batch)
                entries.append(
                    PaymentReport(
                        end_to_end_id=r.text(tx, "d:Refs/d:EndToEndId") or NOT_PROVIDED,
                        status="returned" if returned else "settled",
                        amount=amount,
                        reason_code=code if returned else None,
                        reason_text=text if returned else None,
                        bank_reference=r.text(tx, "d:Refs/d:AcctSvcrRef") or entry_reference,
                        value_date=value_date,
                    )
                )
    header = notification.find("d:GrpHdr", r.ns)
    assert header is not None
    created_at = r.timestamp(header, "d:CreDtTm")
    assert created_at is not None
    return BankReport(
        report_id=r.text(header, "d:MsgId") or "",
        kind="camt.054",
        original_message_id=next(iter(batches)) if len(batches) == 1 else None,
        group_status=None,
        created_at=created_at,
        entries=entries,
        original_message_ids=frozenset(batches),
    )


def read_report(xml: bytes) -> BankReport:
    """A pain.002.001.12 or camt.054.001.08 from a bank, validated against its XSD, as a BankReport.

    Raises InvalidMessage (line and reason) for anything else, malformed or schema-invalid input.
    """
    doc = parse(xml)
    name = message_name(doc)
    if name == PAIN002:
        validate_tree(doc, PAIN002)
        return _read_pain002(doc)
    if name == CAMT054:
        validate_tree(doc, CAMT054)
        return _read_camt054(doc)
    raise InvalidMessage(f"line {doc.getroot().sourceline}: {name} is not a report this platform reads")


__all__ = ["CHINA_STANDARD_TIME", "NOT_PROVIDED", "read_report"]
