"""pain.001.001.09 (customer credit transfer initiation) writer.

Files carry up to tens of thousands of transfers and the platform writes a million in a minute, so the XML is
built as escaped text rather than as an element tree; the tests validate what it writes against the XSD.
Inputs are checked first: a value the XSD or the bank would refuse raises ValueError naming the field.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation
from operator import attrgetter

from .model import CNAPS, CURRENCY, PAIN001, CreditTransfer, PaymentFile

_END_TO_END_ID = re.compile(r"[A-Za-z0-9-]{1,35}")
_MESSAGE_ID = re.compile(r"[A-Za-z0-9-]{1,35}")
_ACCOUNT = re.compile(r"[0-9]{1,34}")
_BANK_CODE = re.compile(r"[0-9]{12}")
# Characters that need escaping, or that a name or remittance line cannot carry: C0 controls (XML 1.0 cannot
# carry most; tab, LF and CR it would carry, but parsers normalise CR away and a payee name is one line),
# lone surrogates, U+FFFE/U+FFFF.
_SPECIAL = re.compile("[&<>\x00-\x1f\ud800-\udfff\ufffe\uffff]")
_NOT_XML = re.compile("[\x00-\x1f\ud800-\udfff\ufffe\uffff]")
_CENT = Decimal("0.01")
_MAX_AMOUNT = Decimal("9999999999999999.99")  # ISO amounts: 18 digits in all


def _text(value: str, field: str, max_length: int) -> str:
    """The value escaped for XML character data, after checking it is 1..max_length characters of XML text."""
    if not value or not value.strip():
        raise ValueError(f"{field}: must not be empty")
    if len(value) > max_length:
        raise ValueError(f"{field}: {len(value)} characters, at most {max_length} allowed")
    if _SPECIAL.search(value) is None:
        return value
    bad = _NOT_XML.search(value)
    if bad is not None:
        raise ValueError(f"{field}: control or non-character U+{ord(bad.group()):04X} is not allowed")
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _amount(value: Decimal, field: str) -> str:
    try:
        if not isinstance(value, Decimal) or not value.is_finite():
            raise ValueError(f"{field}: {value!r} is not a finite Decimal")
        cents = value.quantize(_CENT)
    except InvalidOperation as exc:
        raise ValueError(f"{field}: {value!r} is out of range") from exc
    if cents != value:
        raise ValueError(f"{field}: {value} has more than two decimal places (fen)")
    if cents <= 0 or cents > _MAX_AMOUNT:
        raise ValueError(f"{field}: {value} must be > 0 and at most {_MAX_AMOUNT}")
    return f"{cents:f}"


def _match(pattern: re.Pattern[str], value: str, field: str, what: str) -> str:
    if not isinstance(value, str) or pattern.fullmatch(value) is None:
        raise ValueError(f"{field}: {value!r} is not {what}")
    return value


def _timestamp(value: datetime, field: str) -> str:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{field}: {value!r} has no time zone")
    return value.isoformat(timespec="seconds")


def _agent(bank_code: str, bank_name: str | None) -> str:
    name = f"<Nm>{bank_name}</Nm>" if bank_name else ""
    return (
        f"<FinInstnId><ClrSysMmbId><ClrSysId><Cd>{CNAPS}</Cd></ClrSysId><MmbId>{bank_code}</MmbId></ClrSysMmbId>"
        f"{name}</FinInstnId>"
    )


def _transfer(index: int, t: CreditTransfer) -> tuple[str, str]:
    end_to_end_id, account, bank_code, amount = t.end_to_end_id, t.creditor_account, t.creditor_bank_code, t.amount
    amount_text = str(amount)
    # Fast path with str methods (this runs a million times a minute); anything unusual is checked again, field
    # by field, by the slow path, which names the field it refuses.
    if not (
        type(amount) is Decimal
        and 3 < len(amount_text) <= 19
        and amount_text[-3] == "."
        and amount_text[:-3].isdigit()
        and amount > 0
        and type(end_to_end_id) is str
        and 0 < len(end_to_end_id) <= 35
        and end_to_end_id.isascii()
        and end_to_end_id.replace("-", "").isalnum()
        and type(account) is str
        and 0 < len(account) <= 34
        and account.isascii()
        and account.isdigit()
        and type(bank_code) is str
        and len(bank_code) == 12
        and bank_code.isascii()
        and bank_code.isdigit()
    ):
        field = f"transfers[{index}]"
        _match(_END_TO_END_ID, end_to_end_id, f"{field}.end_to_end_id", "1-35 of [A-Za-z0-9-]")
        _match(_ACCOUNT, account, f"{field}.creditor_account", "1-34 digits")
        _match(_BANK_CODE, bank_code, f"{field}.creditor_bank_code", "a 12-digit CNAPS code")
        amount_text = _amount(amount, f"{field}.amount")
    name, bank_name, remittance = t.creditor_name, t.creditor_bank_name, t.remittance
    texts = f"{name}{bank_name}{remittance}"
    # isprintable() is False for every character XML cannot carry (and for some it can, e.g. U+3000, which
    # the slow path then accepts).
    if not (
        0 < len(name) <= 140
        and 0 < len(bank_name) <= 140
        and 0 < len(remittance) <= 140
        and texts.isprintable()
        and "&" not in texts
        and "<" not in texts
        and ">" not in texts
        and not name.isspace()
        and not bank_name.isspace()
        and not remittance.isspace()
    ):
        field = f"transfers[{index}]"
        name = _text(name, f"{field}.creditor_name", 140)
        bank_name = _text(bank_name, f"{field}.creditor_bank_name", 140)
        remittance = _text(remittance, f"{field}.remittance", 140)
    xml = (
        f"<CdtTrfTxInf><PmtId><EndToEndId>{end_to_end_id}</EndToEndId></PmtId>"
        f'<Amt><InstdAmt Ccy="CNY">{amount_text}</InstdAmt></Amt>'
        f"<CdtrAgt><FinInstnId><ClrSysMmbId><ClrSysId><Cd>CNAPS</Cd></ClrSysId><MmbId>{bank_code}</MmbId>"
        f"</ClrSysMmbId><Nm>{bank_name}</Nm></FinInstnId></CdtrAgt>"
        f"<Cdtr><Nm>{name}</Nm></Cdtr>"
        f"<CdtrAcct><Id><Othr><Id>{account}</Id></Othr></Id></CdtrAcct>"
        f"<RmtInf><Ustrd>{remittance}</Ustrd></RmtInf></CdtTrfTxInf>\n"
    )
    return xml, end_to_end_id


_ROW = attrgetter(
    "end_to_end_id",
    "amount",
    "creditor_name",
    "creditor_account",
    "creditor_bank_code",
    "creditor_bank_name",
    "remittance",
)
_IDS = re.compile(r"[A-Za-z0-9-]{1,35}(?:\|[A-Za-z0-9-]{1,35})*")
_ACCOUNTS = re.compile(r"[0-9]{1,34}(?:\|[0-9]{1,34})*")
_BANK_CODES = re.compile(r"[0-9]{12}(?:\|[0-9]{12})*")
_AMOUNTS = re.compile(r"[0-9]{1,16}\.[0-9]{2}(?:\|[0-9]{1,16}\.[0-9]{2})*")


def _text_column(values: Sequence[str], field: str) -> Sequence[str]:
    """A column of names or texts, checked and escaped as a whole when it can be (the usual case)."""
    if min(map(len, values)) > 0 and max(map(len, values)) <= 140 and not any(map(str.isspace, values)):
        joined = "".join(values)
        # isprintable() is False for every character XML cannot carry (and for a few it can, such as U+3000,
        # which the per-value path below then accepts). Printable values hold no NUL, so NUL can join them.
        if joined.isprintable():
            if "&" in joined or "<" in joined or ">" in joined:
                escaped = "\0".join(values).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
                return escaped.split("\0")
            return values
    return [_text(value, f"transfers[{index}].{field}", 140) for index, value in enumerate(values)]


def _bulk_transfers(transfers: Sequence[CreditTransfer]) -> tuple[list[str], Decimal] | None:
    """The transfers as XML when the identifiers and amounts pass the column-wise fast checks, else None.

    Checking a column with one regex or one str method over the joined values costs a fraction of checking
    each value, which is what keeps a million transfers a minute cheap. Files that fail go through _transfer,
    which checks each value and names the one it refuses.
    """
    rows = list(map(_ROW, transfers))
    ids, amounts, names, accounts, bank_codes, bank_names, remittances = zip(*rows, strict=True)
    if set(map(type, amounts)) != {Decimal} or any(
        set(map(type, column)) != {str} for column in (ids, names, accounts, bank_codes, bank_names, remittances)
    ):
        return None
    if (
        _IDS.fullmatch("|".join(ids)) is None
        or _ACCOUNTS.fullmatch("|".join(accounts)) is None
        or _BANK_CODES.fullmatch("|".join(bank_codes)) is None
        or len(set(ids)) != len(ids)
    ):
        return None
    # Amounts read from NUMERIC(…, 2) columns print with exactly two decimals; others are checked one by one.
    amount_texts = list(map(str, amounts))
    if _AMOUNTS.fullmatch("|".join(amount_texts)) is None or min(amounts) <= 0:
        amount_texts = [_amount(amount, f"transfers[{index}].amount") for index, amount in enumerate(amounts)]
    names_xml = _text_column(names, "creditor_name")
    bank_names_xml = _text_column(bank_names, "creditor_bank_name")
    remittances_xml = _text_column(remittances, "remittance")
    parts = [
        f"<CdtTrfTxInf><PmtId><EndToEndId>{e2e}</EndToEndId></PmtId>"
        f'<Amt><InstdAmt Ccy="CNY">{amount}</InstdAmt></Amt>'
        f"<CdtrAgt><FinInstnId><ClrSysMmbId><ClrSysId><Cd>CNAPS</Cd></ClrSysId><MmbId>{bank_code}</MmbId>"
        f"</ClrSysMmbId><Nm>{bank_name}</Nm></FinInstnId></CdtrAgt>"
        f"<Cdtr><Nm>{name}</Nm></Cdtr>"
        f"<CdtrAcct><Id><Othr><Id>{account}</Id></Othr></Id></CdtrAcct>"
        f"<RmtInf><Ustrd>{remittance}</Ustrd></RmtInf></CdtTrfTxInf>\n"
        for e2e, amount, name, account, bank_code, bank_name, remittance in zip(
            ids, amount_texts, names_xml, accounts, bank_codes, bank_names_xml, remittances_xml, strict=True
        )
    ]
    return parts, sum(amounts, Decimal(0))


def _checked_transfers(transfers: Sequence[CreditTransfer]) -> tuple[list[str], Decimal]:
    parts: list[str] = []
    seen: set[str] = set()
    total = Decimal(0)
    for index, transfer in enumerate(transfers):
        xml, end_to_end_id = _transfer(index, transfer)
        parts.append(xml)
        seen.add(end_to_end_id)
        total += transfer.amount
        if len(seen) != len(parts):
            raise ValueError(f"transfers[{index}].end_to_end_id: {end_to_end_id} appears twice in the file")
    return parts, total


def write_pain001(file: PaymentFile) -> bytes:
    """The pain.001.001.09 document of one batch (one PmtInf, id = MsgId), UTF-8 encoded.

    Charges are borne by the debtor (the fund: payees receive the full amount) and every transfer is booked
    on its own (BtchBookg false), so statements show one debit per payment.

    NbOfTxs and CtrlSum (group and PmtInf) are computed from the transfers; end-to-end ids must be unique in
    the file. Raises ValueError naming the field when an input cannot be written as a valid file.
    """
    message_id = _match(_MESSAGE_ID, file.message_id, "message_id", "1-35 of [A-Za-z0-9-]")
    created_at = _timestamp(file.created_at, "created_at")
    initiating_party = _text(file.initiating_party, "initiating_party", 140)
    debtor_name = _text(file.debtor_name, "debtor_name", 140)
    debtor_account = _match(_ACCOUNT, file.debtor_account, "debtor_account", "1-34 digits")
    debtor_bank_code = _match(_BANK_CODE, file.debtor_bank_code, "debtor_bank_code", "a 12-digit CNAPS code")
    execution_date = file.requested_execution_date.isoformat()
    if not file.transfers:
        raise ValueError("transfers: a payment file needs at least one transfer")

    parts, total = _bulk_transfers(file.transfers) or _checked_transfers(file.transfers)
    count = len(parts)
    control_sum = f"{total.quantize(_CENT):f}"

    head = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:{PAIN001}">\n<CstmrCdtTrfInitn>\n'
        f"<GrpHdr><MsgId>{message_id}</MsgId><CreDtTm>{created_at}</CreDtTm><NbOfTxs>{count}</NbOfTxs>"
        f"<CtrlSum>{control_sum}</CtrlSum><InitgPty><Nm>{initiating_party}</Nm></InitgPty></GrpHdr>\n"
        f"<PmtInf><PmtInfId>{message_id}</PmtInfId><PmtMtd>TRF</PmtMtd><BtchBookg>false</BtchBookg>"
        f"<NbOfTxs>{count}</NbOfTxs><CtrlSum>{control_sum}</CtrlSum>"
        f"<ReqdExctnDt><Dt>{execution_date}</Dt></ReqdExctnDt>"
        f"<Dbtr><Nm>{debtor_name}</Nm></Dbtr>"
        f"<DbtrAcct><Id><Othr><Id>{debtor_account}</Id></Othr></Id><Ccy>{CURRENCY}</Ccy></DbtrAcct>"
        f"<DbtrAgt>{_agent(debtor_bank_code, None)}</DbtrAgt><ChrgBr>DEBT</ChrgBr>\n"
    )
    tail = "</PmtInf>\n</CstmrCdtTrfInitn>\n</Document>\n"
    # One join of everything: concatenating head, body and tail would copy megabytes twice more.
    return "".join([head, *parts, tail]).encode("utf-8")
