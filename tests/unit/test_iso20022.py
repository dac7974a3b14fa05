"""ISO 20022 files: pain.001.001.09 written by the platform validates against the official XSD and says what
was asked; broken files are refused with a reason; pain.002 and camt.054 written by the bank simulator are
read into the right per-payment reports (the simulator runs in-process here on temporary folders, no Kafka)."""

from __future__ import annotations

import asyncio
import re
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from deploy.local.simulators import bank as simulator
from payments.iso20022 import (
    CAMT054,
    PAIN001,
    PAIN002,
    XSD_DIR,
    CreditTransfer,
    InvalidMessage,
    PaymentFile,
    read_report,
    validate,
    write_pain001,
)

NS = {"d": f"urn:iso:std:iso:20022:tech:xsd:{PAIN001}"}
ICBC_CHANGSHA = "102551000015"


def transfer(n: int, *, account_end: str = "001", amount: str = "1200.00", name: str = "张三") -> CreditTransfer:
    return CreditTransfer(
        end_to_end_id=f"E2E-{n:08d}",
        amount=Decimal(amount),
        creditor_name=name,
        creditor_account=f"6217{n:09d}{account_end}",
        creditor_bank_code=ICBC_CHANGSHA,
        creditor_bank_name="中国工商银行股份有限公司长沙分行",
        remittance="一次性吸纳就业补贴 湘人社规〔2023〕22号",
    )


def payment_file(transfers: list[CreditTransfer], message_id: str = "B-20261130-0001") -> PaymentFile:
    return PaymentFile(
        message_id=message_id,
        created_at=datetime(2026, 11, 30, 9, 30, tzinfo=timezone(timedelta(hours=8))),
        initiating_party="湖南省人力资源和社会保障厅",
        debtor_name="就业补助资金",
        debtor_account="43050100000000000001",
        debtor_bank_code=ICBC_CHANGSHA,
        requested_execution_date=date(2026, 12, 1),
        transfers=transfers,
    )


def parse(xml: bytes) -> etree._Element:
    return etree.fromstring(xml)


def texts(root: etree._Element, path: str) -> list[str]:
    return [e.text or "" for e in root.findall(path, NS)]


# ------------------------------------------------------------------------------------------------ writing
@pytest.mark.parametrize(
    "transfers",
    [
        [transfer(1)],
        [transfer(i, amount=a) for i, a in enumerate(["0.01", "99999999.99", "1", "12.5", "1128.00"])],
        [transfer(i) for i in range(2000)],
        [
            transfer(1, name="欧阳·娜娜"),
            transfer(2, name="A&B <劳务> 有限公司 \"甲\" '乙'"),
            transfer(3, name="张\u3000三"),  # ideographic space: printable in XML, not str.isprintable()
            replace(transfer(4), remittance="<![CDATA[ x ]]> & ]]> --> <!-- 补贴"),
        ],
    ],
    ids=["one", "amount-shapes", "2000-transfers", "special-characters"],
)
def test_written_files_validate_and_carry_what_was_asked(transfers: list[CreditTransfer]) -> None:
    xml = write_pain001(payment_file(transfers))
    validate(xml, PAIN001)
    root = parse(xml)
    expected_sum = sum((t.amount for t in transfers), Decimal(0))
    for path in ("d:CstmrCdtTrfInitn/d:GrpHdr", "d:CstmrCdtTrfInitn/d:PmtInf"):
        assert texts(root, f"{path}/d:NbOfTxs") == [str(len(transfers))]
        assert [Decimal(x) for x in texts(root, f"{path}/d:CtrlSum")] == [expected_sum]
    tx = "d:CstmrCdtTrfInitn/d:PmtInf/d:CdtTrfTxInf"
    assert texts(root, f"{tx}/d:PmtId/d:EndToEndId") == [t.end_to_end_id for t in transfers]
    assert [Decimal(x) for x in texts(root, f"{tx}/d:Amt/d:InstdAmt")] == [t.amount for t in transfers]
    assert texts(root, f"{tx}/d:Cdtr/d:Nm") == [t.creditor_name for t in transfers]  # escaped and read back
    assert texts(root, f"{tx}/d:RmtInf/d:Ustrd") == [t.remittance for t in transfers]
    assert texts(root, f"{tx}/d:CdtrAcct/d:Id/d:Othr/d:Id") == [t.creditor_account for t in transfers]
    assert set(texts(root, f"{tx}/d:CdtrAgt/d:FinInstnId/d:ClrSysMmbId/d:ClrSysId/d:Cd")) == {"CNAPS"}
    assert texts(root, "d:CstmrCdtTrfInitn/d:GrpHdr/d:MsgId") == texts(root, "d:CstmrCdtTrfInitn/d:PmtInf/d:PmtInfId")
    assert {e.get("Ccy") for e in root.findall(f"{tx}/d:Amt/d:InstdAmt", NS)} == {"CNY"}


def test_amounts_are_written_in_yuan_with_fen() -> None:
    xml = write_pain001(payment_file([transfer(1, amount="100"), transfer(2, amount="0.5")]))
    assert texts(parse(xml), "d:CstmrCdtTrfInitn/d:PmtInf/d:CdtTrfTxInf/d:Amt/d:InstdAmt") == ["100.00", "0.50"]
    assert texts(parse(xml), "d:CstmrCdtTrfInitn/d:GrpHdr/d:CtrlSum") == ["100.50"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"amount": Decimal("0")}, "transfers[1].amount"),
        ({"amount": Decimal("-5.00")}, "transfers[1].amount"),
        ({"amount": Decimal("1.005")}, "transfers[1].amount"),
        ({"amount": Decimal("NaN")}, "transfers[1].amount"),
        ({"end_to_end_id": "E2E_with_underscore"}, "transfers[1].end_to_end_id"),
        ({"end_to_end_id": "X" * 36}, "transfers[1].end_to_end_id"),
        ({"end_to_end_id": "E2E-00000000"}, "transfers[1].end_to_end_id"),  # same as transfers[0]
        ({"creditor_account": "6217-0000"}, "transfers[1].creditor_account"),
        ({"creditor_account": "62170000１２３"}, "transfers[1].creditor_account"),  # full-width digits
        ({"creditor_bank_code": "10255100001"}, "transfers[1].creditor_bank_code"),
        ({"creditor_name": ""}, "transfers[1].creditor_name"),
        ({"creditor_name": "张" * 141}, "transfers[1].creditor_name"),
        ({"creditor_name": "张三\x07"}, "transfers[1].creditor_name"),
        ({"creditor_name": "张三\r\n"}, "transfers[1].creditor_name"),
        ({"creditor_bank_name": "工行\ud800"}, "transfers[1].creditor_bank_name"),
        ({"remittance": "   "}, "transfers[1].remittance"),
    ],
)
def test_values_a_bank_would_refuse_are_refused_naming_the_field(change: dict[str, object], field: str) -> None:
    transfers = [transfer(0), replace(transfer(1), **change)]  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=re.escape(field)):
        write_pain001(payment_file(transfers))


def test_file_level_values_are_checked() -> None:
    with pytest.raises(ValueError, match="created_at"):
        write_pain001(replace(payment_file([transfer(1)]), created_at=datetime(2026, 11, 30, 9, 30)))
    with pytest.raises(ValueError, match="message_id"):
        write_pain001(payment_file([transfer(1)], message_id="B" * 36))
    with pytest.raises(ValueError, match="transfers"):
        write_pain001(payment_file([]))


# --------------------------------------------------------------------------------------------- validation
def test_broken_files_are_refused_with_line_and_reason() -> None:
    xml = write_pain001(payment_file([transfer(1), transfer(2)]))
    with pytest.raises(InvalidMessage, match=r"line \d+: .*PmtMtd"):
        validate(xml.replace(b"<PmtMtd>TRF</PmtMtd>", b""), PAIN001)
    with pytest.raises(InvalidMessage, match=r"line \d+: .*InstdAmt"):
        validate(xml.replace(b">1200.00<", b">12,00<", 1), PAIN001)
    with pytest.raises(InvalidMessage, match=r"line \d+: not well-formed"):
        validate(xml.replace(b"</GrpHdr>", b"", 1), PAIN001)
    with pytest.raises(InvalidMessage, match=r"expected pain\.002"):
        validate(xml, PAIN002)


def test_entities_are_not_expanded() -> None:
    evil = (
        b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.09">&x;</Document>'
    )
    with pytest.raises(InvalidMessage):
        validate(evil, PAIN001)


def test_the_committed_schemas_are_the_official_ones() -> None:
    for name in (PAIN001, PAIN002, CAMT054):
        head = (XSD_DIR / f"{name}.xsd").read_text()[:400]
        assert "Generated by Standards Editor" in head
        assert f'targetNamespace="urn:iso:std:iso:20022:tech:xsd:{name}"' in (XSD_DIR / f"{name}.xsd").read_text()
    assert (XSD_DIR / "NOTICE.md").exists()


names = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc")) | st.sampled_from("&<>\"'"), min_size=1, max_size=140
).filter(lambda s: not s.isspace() and "\ufffe" not in s and "\uffff" not in s)
amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99999999.99"), places=2)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(names, amounts, names), min_size=1, max_size=20))
def test_any_valid_input_gives_a_valid_file_with_matching_totals(rows: list[tuple[str, Decimal, str]]) -> None:
    transfers = [
        replace(transfer(i), creditor_name=name, amount=amount, remittance=remittance)
        for i, (name, amount, remittance) in enumerate(rows)
    ]
    xml = write_pain001(payment_file(transfers))
    validate(xml, PAIN001)
    root = parse(xml)
    assert Decimal(texts(root, "d:CstmrCdtTrfInitn/d:GrpHdr/d:CtrlSum")[0]) == sum(a for _, a, _ in rows)
    assert texts(root, "d:CstmrCdtTrfInitn/d:PmtInf/d:CdtTrfTxInf/d:Cdtr/d:Nm") == [n for n, _, _ in rows]


# ---------------------------------------------------------------------------- simulator reports, read back
def run_bank(tmp_path: Path, files: dict[str, bytes]) -> list[tuple[str, bytes]]:
    """Drops pain.001 files into an in-process simulator's outbox; returns every file it answered, in order."""
    cfg = simulator.Config(
        outbox_dir=tmp_path / "out",
        inbox_dir=tmp_path / "in",
        state_dir=tmp_path / "bank",
        xsd_dir=XSD_DIR,
        kafka_bootstrap="",
        settle_s=0,
        return_s=0,
        late_s=0,
        poll_s=0,
    )
    cfg.outbox_dir.mkdir(parents=True)
    bank = simulator.Bank(cfg)
    for name, content in files.items():
        (cfg.outbox_dir / name).write_bytes(content)
    (cfg.outbox_dir / "ignored.xml.part").write_bytes(b"<half")  # still being written: not taken
    bank.scan_outbox()
    asyncio.run(bank.send_due())
    answered = sorted(cfg.inbox_dir.iterdir(), key=lambda p: p.stat().st_mtime_ns)
    assert not [p for p in answered if p.name.endswith(".part")]
    return [(p.name, p.read_bytes()) for p in answered]


def test_simulator_answers_are_read_into_the_right_reports(tmp_path: Path) -> None:
    transfers = [
        transfer(1, account_end="001", amount="1000.00"),
        transfer(2, account_end="404"),
        transfer(3, account_end="405"),
        transfer(4, account_end="406", amount="500.00"),
        transfer(5, account_end="407", amount="7.07"),
    ]
    answers = run_bank(tmp_path, {"B-1.xml": write_pain001(payment_file(transfers, "B-1"))})
    reports = [read_report(xml) for _, xml in answers]
    assert reports[0].kind == "pain.002"
    assert all(r.created_at.tzinfo is not None for r in reports)
    assert len({r.report_id for r in reports}) == len(reports)

    ack = reports[0]
    assert ack.original_message_id == "B-1"
    assert ack.group_status == "PART"
    by_id = {e.end_to_end_id: e for e in ack.entries}
    assert by_id["E2E-00000001"].status == "accepted"
    assert by_id["E2E-00000001"].amount == Decimal("1000.00")
    assert (by_id["E2E-00000002"].status, by_id["E2E-00000002"].reason_code) == ("rejected", "AC04")
    assert (by_id["E2E-00000003"].status, by_id["E2E-00000003"].reason_code) == ("rejected", "BE01")
    assert "E2E-00000005" not in by_id  # the late one is not answered with the others

    settled = [e for r in reports if r.kind == "camt.054" for e in r.entries if e.status == "settled"]
    returned = [e for r in reports if r.kind == "camt.054" for e in r.entries if e.status == "returned"]
    assert sorted((e.end_to_end_id, e.amount) for e in settled) == [
        ("E2E-00000001", Decimal("1000.00")),
        ("E2E-00000004", Decimal("500.00")),
        ("E2E-00000005", Decimal("7.07")),
    ]
    assert all(e.bank_reference and e.value_date for e in settled)
    assert [(e.end_to_end_id, e.amount, e.reason_code) for e in returned] == [
        ("E2E-00000004", Decimal("500.00"), "MD07")
    ]
    camt = [r for r in reports if r.kind == "camt.054"]
    assert {r.original_message_id for r in camt} == {"B-1"}


def test_simulator_refuses_bad_files_and_duplicates(tmp_path: Path) -> None:
    good = write_pain001(payment_file([transfer(1), transfer(2)], "B-OK"))
    bad_total = good.replace(b"<NbOfTxs>2</NbOfTxs>", b"<NbOfTxs>3</NbOfTxs>", 1).replace(b"B-OK", b"B-COUNT")
    invalid = good.replace(b"<PmtMtd>TRF</PmtMtd>", b"").replace(b"B-OK", b"B-XSD")
    answers = run_bank(
        tmp_path,
        {
            "a-B-OK.xml": good,
            "b-B-OK-again.xml": good,  # the same batch id again
            "c-B-COUNT.xml": bad_total,
            "d-B-XSD.xml": invalid,
            "e-B-DUP-E2E.xml": write_pain001(payment_file([transfer(1)], "B-DUP-E2E")),
        },
    )
    acks = {r.original_message_id: r for r in (read_report(x) for _, x in answers) if r.kind == "pain.002"}
    assert acks["B-OK"].group_status in ("ACCP", "RJCT")  # the first ACCP, the copy RJCT (same original id)
    statuses = sorted(
        (r.group_status, r.group_reason_code)
        for r in (read_report(x) for _, x in answers)
        if r.kind == "pain.002" and r.original_message_id == "B-OK"
    )
    assert statuses == [("ACCP", None), ("RJCT", "DU01")]
    assert (acks["B-COUNT"].group_status, acks["B-COUNT"].group_reason_code) == ("RJCT", "AM19")
    assert {e.status for e in acks["B-COUNT"].entries} == {"rejected"}
    assert (acks["B-XSD"].group_status, acks["B-XSD"].group_reason_code) == ("RJCT", "FF01")
    assert "PmtMtd" in (acks["B-XSD"].group_reason_text or "")
    assert [(e.end_to_end_id, e.status, e.reason_code) for e in acks["B-DUP-E2E"].entries] == [
        ("E2E-00000001", "rejected", "AM05")
    ]
    ledger = simulator.Ledger(tmp_path / "bank" / "ledger.sqlite3")
    credited = ledger.db.execute("SELECT end_to_end_id, times_credited FROM credits ORDER BY 1").fetchall()
    assert credited == [("E2E-00000001", 1), ("E2E-00000002", 1)]


def test_reports_other_than_pain002_and_camt054_are_refused() -> None:
    xml = write_pain001(payment_file([transfer(1)]))
    with pytest.raises(InvalidMessage, match="not a report"):
        read_report(xml)
    with pytest.raises(InvalidMessage, match="not an ISO 20022 Document"):
        read_report(b"<x/>")


def test_naive_report_times_are_read_as_china_time(tmp_path: Path) -> None:
    answers = run_bank(tmp_path, {"B-T.xml": write_pain001(payment_file([transfer(1)], "B-T"))})
    _, xml = answers[0]
    naive = re.sub(rb"<CreDtTm>([^<+]+)\+08:00</CreDtTm>", rb"<CreDtTm>\1</CreDtTm>", xml)
    report = read_report(naive)
    assert report.created_at.utcoffset() == timedelta(hours=8)
    assert report.created_at.astimezone(UTC) <= datetime.now(UTC)


def test_camt054_entries_without_an_end_to_end_id_or_not_booked(tmp_path: Path) -> None:
    answers = run_bank(tmp_path, {"B-C.xml": write_pain001(payment_file([transfer(1), transfer(2)], "B-C"))})
    (camt,) = [xml for name, xml in answers if name.startswith(CAMT054)]
    first_id, second_id = b"<EndToEndId>E2E-00000001</EndToEndId>", b"<EndToEndId>E2E-00000002</EndToEndId>"
    assert first_id in camt
    assert second_id in camt
    # A booked debit the bank cannot tie to a payment still reaches reconciliation (as NOTPROVIDED) ...
    report = read_report(camt.replace(first_id, b""))
    assert sorted(e.end_to_end_id for e in report.entries) == ["E2E-00000002", "NOTPROVIDED"]
    # ... while an entry that is only pending is not money yet and is left out.
    pending = camt.replace(b"<Cd>BOOK</Cd>", b"<Cd>PDNG</Cd>", 1)
    assert [e.end_to_end_id for e in read_report(pending).entries] == ["E2E-00000002"]
    # A pain.002 that reports a group status only: the transactions take it, with the group's reason.
    (ack,) = [xml for name, xml in answers if name.startswith(PAIN002)]
    group_only = re.sub(rb"<TxSts>ACCP</TxSts>", b"", ack).replace(
        b"<GrpSts>ACCP</GrpSts>", b"<GrpSts>RJCT</GrpSts><StsRsnInf><Rsn><Cd>AM04</Cd></Rsn></StsRsnInf>"
    )
    rejected = read_report(group_only)
    assert [(e.status, e.reason_code) for e in rejected.entries] == [("rejected", "AM04"), ("rejected", "AM04")]
    assert (rejected.group_status, rejected.group_reason_code) == ("RJCT", "AM04")


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(names, amounts, names), min_size=1, max_size=10))
def test_the_column_wise_fast_path_writes_what_the_checked_path_writes(rows: list[tuple[str, Decimal, str]]) -> None:
    from payments.iso20022.pain001 import _bulk_transfers, _checked_transfers

    transfers = [
        replace(transfer(i), creditor_name=name, amount=amount, remittance=remittance)
        for i, (name, amount, remittance) in enumerate(rows)
    ]
    fast = _bulk_transfers(transfers)
    assert fast is not None  # valid identifiers and amounts: never the slow path
    assert fast == _checked_transfers(transfers)
