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


Leaves = dict[str, list[str]]
# The parts of each element that this reader uses (the rest, such as related parties or bank transaction
# codes, is not walked).
_INSTRUCTION_FIELDS = frozenset({"PmtInfSts", "StsRsnInf"})
_STATUS_FIELDS = frozenset({"OrgnlEndToEndId", "TxSts", "StsRsnInf", "AcctSvcrRef", "OrgnlTxRef"})
_ENTRY_FIELDS = frozenset({"Amt", "CdtDbtInd", "RvslInd", "Sts", "BookgDt", "ValDt", "AcctSvcrRef"})
_TRANSACTION_FIELDS = frozenset({"Refs", "Amt", "CdtDbtInd", "AmtDtls", "RtrInf"})


def _leaves(node: etree._Element, only: frozenset[str] | None = None) -> Leaves:
    """The texts of every leaf under node, by path of local names ("Refs/EndToEndId"), in document order.

    One walk per transaction instead of a namespaced find() per field: reports carry tens of thousands.
    `only` names the direct children worth reading; the walk does not descend into the others.
    """
    out: Leaves = {}

    def walk(element: etree._Element, prefix: str) -> None:
        for child in element:
            tag = child.tag
            if not isinstance(tag, str):  # comments, processing instructions
                continue
            name = tag[tag.find("}") + 1 :]
            if not prefix and only is not None and name not in only:
                continue
            if len(child):
                walk(child, f"{prefix}{name}/")
            else:
                text = (child.text or "").strip()
                if text:
                    out.setdefault(f"{prefix}{name}", []).append(text)

    walk(node, "")
    return out


def _first(leaves: Leaves, *paths: str) -> str | None:
    for path in paths:
        values = leaves.get(path)
        if values:
            return values[0]
    return None


def _joined(leaves: Leaves, path: str) -> str | None:
    values = leaves.get(path)
    return "; ".join(values)[:500] if values else None


def _decimal(value: str | None, node: etree._Element) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(value)
    except InvalidOperation as exc:  # the XSD already refuses this; kept for a clear message
        raise InvalidMessage(f"line {node.sourceline}: not a decimal amount: {value!r}") from exc


def _timestamp(value: str | None) -> datetime | None:
    if value is None:
        return None
    stamp = datetime.fromisoformat(value)
    return stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=CHINA_STANDARD_TIME)


def _day(leaves: Leaves, path: str) -> date | None:
    """A DateAndDateTime2Choice (Dt or DtTm) as a date."""
    day = _first(leaves, f"{path}/Dt")
    if day is not None:
        return date.fromisoformat(day)
    stamp = _timestamp(_first(leaves, f"{path}/DtTm"))
    return stamp.date() if stamp is not None else None


def _children(node: etree._Element, namespace: str, name: str) -> list[etree._Element]:
    return list(node.iterchildren(f"{{{namespace}}}{name}"))


def _header(body: etree._Element, namespace: str) -> tuple[str, datetime]:
    (header,) = _children(body, namespace, "GrpHdr")
    leaves = _leaves(header)
    created_at = _timestamp(_first(leaves, "CreDtTm"))
    assert created_at is not None  # mandatory in the XSD
    return _first(leaves, "MsgId") or "", created_at


def _read_pain002(doc: etree._ElementTree) -> BankReport:
    namespace = NAMESPACE_PREFIX + PAIN002
    (body,) = _children(doc.getroot(), namespace, "CstmrPmtStsRpt")
    (group,) = _children(body, namespace, "OrgnlGrpInfAndSts")
    g = _leaves(group)
    group_status = _first(g, "GrpSts")
    group_code, group_text = _first(g, "StsRsnInf/Rsn/Cd", "StsRsnInf/Rsn/Prtry"), _joined(g, "StsRsnInf/AddtlInf")
    entries: list[PaymentReport] = []
    for instruction in _children(body, namespace, "OrgnlPmtInfAndSts"):
        i = _leaves(instruction, only=_INSTRUCTION_FIELDS)
        instruction_status = _first(i, "PmtInfSts") or group_status
        instruction_code = _first(i, "StsRsnInf/Rsn/Cd", "StsRsnInf/Rsn/Prtry")
        instruction_text = _joined(i, "StsRsnInf/AddtlInf")
        for tx in _children(instruction, namespace, "TxInfAndSts"):
            t = _leaves(tx, only=_STATUS_FIELDS)
            status_code = _first(t, "TxSts") or instruction_status
            if status_code is None:
                raise InvalidMessage(f"line {tx.sourceline}: transaction without a status (TxSts, PmtInfSts, GrpSts)")
            code, text = _first(t, "StsRsnInf/Rsn/Cd", "StsRsnInf/Rsn/Prtry"), _joined(t, "StsRsnInf/AddtlInf")
            if code is None and status_code in _REJECTED_TX:
                code, text = instruction_code or group_code, text or instruction_text or group_text
            entries.append(
                PaymentReport(
                    end_to_end_id=_first(t, "OrgnlEndToEndId") or NOT_PROVIDED,
                    status=_tx_status(status_code),
                    amount=_decimal(_first(t, "OrgnlTxRef/Amt/InstdAmt"), tx),
                    reason_code=code,
                    reason_text=text,
                    bank_reference=_first(t, "AcctSvcrRef"),
                    value_date=None,
                )
            )
    report_id, created_at = _header(body, namespace)
    original = _first(g, "OrgnlMsgId")
    return BankReport(
        report_id=report_id,
        kind="pain.002",
        original_message_id=original,
        group_status=group_status,
        created_at=created_at,
        entries=entries,
        group_reason_code=group_code,
        group_reason_text=group_text,
        original_message_ids=frozenset([original] if original else []),
    )


def _read_camt054(doc: etree._ElementTree) -> BankReport:
    namespace = NAMESPACE_PREFIX + CAMT054
    (body,) = _children(doc.getroot(), namespace, "BkToCstmrDbtCdtNtfctn")
    entries: list[PaymentReport] = []
    batches: set[str] = set()
    for account in _children(body, namespace, "Ntfctn"):
        for entry in _children(account, namespace, "Ntry"):
            e = _leaves(entry, only=_ENTRY_FIELDS)
            if _first(e, "Sts/Cd", "Sts/Prtry") != "BOOK":
                continue
            entry_direction = _first(e, "CdtDbtInd")
            reversal = _first(e, "RvslInd") == "true"
            value_date = _day(e, "ValDt") or _day(e, "BookgDt")
            entry_reference = _first(e, "AcctSvcrRef")
            details = [tx for d in _children(entry, namespace, "NtryDtls") for tx in _children(d, namespace, "TxDtls")]
            if not details:
                raise InvalidMessage(f"line {entry.sourceline}: booked entry without transaction details (TxDtls)")
            for tx in details:
                t = _leaves(tx, only=_TRANSACTION_FIELDS)
                direction = _first(t, "CdtDbtInd") or entry_direction
                amount = _first(t, "Amt", "AmtDtls/InstdAmt/Amt") or (_first(e, "Amt") if len(details) == 1 else None)
                returned = direction == "CRDT" or reversal
                batch = _first(t, "Refs/MsgId")
                if batch:
                    batches.add(batch)
                entries.append(
                    PaymentReport(
                        end_to_end_id=_first(t, "Refs/EndToEndId") or NOT_PROVIDED,
                        status="returned" if returned else "settled",
                        amount=_decimal(amount, tx),
                        reason_code=_first(t, "RtrInf/Rsn/Cd", "RtrInf/Rsn/Prtry") if returned else None,
                        reason_text=_joined(t, "RtrInf/AddtlInf") if returned else None,
                        bank_reference=_first(t, "Refs/AcctSvcrRef") or entry_reference,
                        value_date=value_date,
                    )
                )
    report_id, created_at = _header(body, namespace)
    return BankReport(
        report_id=report_id,
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
