"""The bank simulator as a process on real Kafka (the `infra` stack): PaymentBatch in, PaymentResults out with
the behaviour the account endings ask for (settled, AC04, BE01, returned, late), duplicate payments (AM05)
and batches (DU01) refused and never credited twice, even across a restart; control totals checked; and the
file interface: a pain.001 written by the platform's writer is answered with pain.002 and camt.054 files that
the platform's reader parses into the expected reports."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from payments.iso20022 import BankReport, CreditTransfer, PaymentFile, read_report, write_pain001
from subsidy_contracts.bank import BatchPayment, Party, PaymentBatch, PaymentBatchPayload
from subsidy_contracts.topics import BANK_BATCHES, BANK_RESULTS
from subsidy_runtime.outbox import event_headers
from tests.conftest import ROOT, Stack
from tests.e2e.invariants import read_topic

pytestmark = [pytest.mark.infra]
BANK_CODE = "102551000015"
SETTLE_S, RETURN_S, LATE_S = 0.5, 0.5, 4.0


@dataclass
class Simulator:
    env: dict[str, str]
    url: str
    outbox: Path
    inbox: Path
    log: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        port = self.url.rsplit(":", 1)[1]
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [str(ROOT / ".venv" / "bin" / "python"), "-m", "uvicorn", "deploy.local.simulators.bank:app",
                 "--app-dir", str(ROOT), "--host", "127.0.0.1", "--port", port, "--log-level", "warning"],
                env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()[-3000:]
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"bank simulator did not start: {self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=30)
        self.process = None

    def ledger(self, end_to_end_id: str | None = None) -> list[dict[str, Any]]:
        params = {"end_to_end_id": end_to_end_id} if end_to_end_id else {}
        response = httpx.get(f"{self.url}/ledger", params=params, timeout=5)
        response.raise_for_status()
        return list(response.json())


BATCHES_TOPIC = f"test.{BANK_BATCHES.name}"
RESULTS_TOPIC = f"test.{BANK_RESULTS.name}"


async def create_topics(bootstrap: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [NewTopic(t, BANK_BATCHES.partitions, 1) for t in (BATCHES_TOPIC, RESULTS_TOPIC) if t not in existing]
        if wanted:
            await admin.create_topics(wanted)
    finally:
        await admin.close()


def free_port() -> int:
    """A port of its own: the `platform` fixture's stack may be running its bank simulator on the usual one."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def bank(infra: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Simulator]:
    base = tmp_path_factory.mktemp("bank")
    env = dict(os.environ)
    env.update(
        KAFKA_BOOTSTRAP_SERVERS=infra.bootstrap,
        BANK_OUTBOX_DIR=str(base / "outgoing"),
        BANK_INBOX_DIR=str(base / "incoming"),
        BANK_STATE_DIR=str(base / "state"),
        BANK_SETTLE_SECONDS=str(SETTLE_S),
        BANK_RETURN_SECONDS=str(RETURN_S),
        BANK_LATE_SECONDS=str(LATE_S),
        BANK_POLL_SECONDS="0.1",
        # Topics of its own: a `platform` stack may be up on the same broker with its own bank and payments.
        BANK_BATCHES_TOPIC=BATCHES_TOPIC,
        BANK_RESULTS_TOPIC=RESULTS_TOPIC,
        BANK_CONSUMER_GROUP="bank-simulator-test",
    )
    asyncio.run(create_topics(infra.bootstrap))
    (base / "outgoing").mkdir()
    simulator = Simulator(
        env, f"http://127.0.0.1:{free_port()}", base / "outgoing", base / "incoming",
        base / "bank.log",
    )  # fmt: skip
    simulator.start()
    try:
        yield simulator
    finally:
        simulator.stop()


def party(account: str, name: str = "张三") -> Party:
    return Party(name=name, account_number=account, bank_code=BANK_CODE)


def payment(e2e: str, account: str, amount: str, name: str = "张三") -> BatchPayment:
    return BatchPayment(end_to_end_id=e2e, amount=Decimal(amount), creditor=party(account, name), remittance="补贴")


def batch_event(batch_id: str, payments: list[BatchPayment], control_sum: Decimal | None = None) -> PaymentBatch:
    payload = PaymentBatchPayload(
        batch_id=batch_id,
        bank_code=BANK_CODE,
        fund_code="JYBZ",
        debtor=party("43050100000000000001", "就业补助资金"),
        requested_execution_date=date(2026, 12, 1),
        number_of_transactions=len(payments),
        control_sum=control_sum if control_sum is not None else sum((p.amount for p in payments), Decimal(0)),
        payments=payments,
        created_at=datetime.now(UTC),
    )
    return PaymentBatch.create(payload, producer="payments", subject_key=BANK_CODE, correlation_id=uuid.uuid4())


async def publish(stack: Stack, *events: PaymentBatch) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap, acks="all")
    await producer.start()
    try:
        for event in events:
            headers = [(k, v.encode()) for k, v in event_headers(event).items()]
            await producer.send_and_wait(
                BATCHES_TOPIC, event.model_dump_json().encode(), key=BANK_CODE.encode(), headers=headers
            )
    finally:
        await producer.stop()


Results = list[dict[str, Any]]  # PaymentResults payloads, in the order they were published


async def results_for(stack: Stack, batch_id: str, done: Callable[[Results], bool], timeout_s: float = 30) -> Results:
    deadline = time.monotonic() + timeout_s
    while True:
        records = await read_topic(stack.bootstrap, RESULTS_TOPIC)
        found = [
            orjson.loads(r.value)["payload"] | {"_timestamp_ms": r.timestamp}
            for r in sorted(records, key=lambda r: r.timestamp)
        ]
        found = [p for p in found if p["original_batch_id"] == batch_id]
        if done(found) or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.3)


def statuses(results: Results) -> dict[tuple[str, str], dict[str, Any]]:
    """(end-to-end id, status) -> the result and the time its report was published."""
    return {
        (r["end_to_end_id"], r["status"]): r | {"_timestamp_ms": p["_timestamp_ms"], "_report": p["report_id"]}
        for p in results
        for r in p["results"]
    }


async def test_kafka_batches_are_answered_as_the_account_endings_ask(bank: Simulator, infra: Stack) -> None:
    tag = uuid.uuid4().hex[:8]
    ids = {ending: f"K-{tag}-{ending}" for ending in ("001", "404", "405", "406", "407")}
    amounts = {"001": "1128.00", "404": "10.00", "405": "20.00", "406": "500.50", "407": "0.01"}
    event = batch_event(
        f"KB-{tag}",
        [payment(ids[e], f"62170000000{e}", amounts[e], "李四") for e in ("001", "404", "405", "406", "407")],
    )
    await publish(infra, event)
    expected = {
        (ids["001"], "accepted"),
        (ids["406"], "accepted"),
        (ids["404"], "rejected"),
        (ids["405"], "rejected"),
        (ids["001"], "settled"),
        (ids["406"], "settled"),
        (ids["406"], "returned"),
        (ids["407"], "settled"),
    }
    found = statuses(await results_for(infra, f"KB-{tag}", lambda rs: expected <= set(statuses(rs))))
    assert set(found) == expected
    assert found[(ids["404"], "rejected")]["reason_code"] == "AC04"
    assert found[(ids["405"], "rejected")]["reason_code"] == "BE01"
    assert found[(ids["406"], "returned")]["reason_code"] == "MD07"
    assert found[(ids["406"], "returned")]["amount"] == "500.50"
    assert found[(ids["001"], "settled")]["amount"] == "1128.00"
    assert found[(ids["001"], "settled")]["value_date"] is not None
    # Settlement comes after acceptance, the return after settlement, and the late answer last.
    t = {key: r["_timestamp_ms"] for key, r in found.items()}
    assert t[(ids["001"], "accepted")] < t[(ids["001"], "settled")] < t[(ids["406"], "returned")]
    assert t[(ids["407"], "settled")] - t[(ids["001"], "accepted")] >= (LATE_S - 0.5) * 1000
    assert len({r["_report"] for r in found.values()}) == 4  # ack, settle, return, late: one report each
    credited = {row["end_to_end_id"]: row for row in bank.ledger() if row["end_to_end_id"].startswith(f"K-{tag}")}
    assert sorted(credited) == sorted([ids["001"], ids["406"], ids["407"]])
    assert (credited[ids["001"]]["status"], credited[ids["001"]]["amount"]) == ("settled", "1128.00")
    assert credited[ids["406"]]["status"] == "returned"


async def test_duplicates_are_refused_and_never_credited_twice_even_after_a_restart(
    bank: Simulator, infra: Stack
) -> None:
    tag = uuid.uuid4().hex[:8]
    first = batch_event(f"DB-{tag}", [payment(f"D-{tag}-1", "6217000000000011", "300.00")])
    await publish(infra, first, first)  # the same event twice: a redelivery, answered once
    await results_for(infra, f"DB-{tag}", lambda rs: (f"D-{tag}-1", "settled") in statuses(rs))

    bank.stop()
    bank.start()  # the ledger is on disk: the restart forgets nothing

    again = batch_event(f"DB2-{tag}", [payment(f"D-{tag}-1", "6217000000000011", "300.00")])
    copy = batch_event(f"DB-{tag}", [payment(f"D-{tag}-9", "6217000000000019", "1.00")])  # same batch id
    await publish(infra, again, copy)
    second = statuses(await results_for(infra, f"DB2-{tag}", bool))
    assert second[(f"D-{tag}-1", "rejected")]["reason_code"] == "AM05"
    await asyncio.sleep(SETTLE_S + 1)
    assert set(statuses(await results_for(infra, f"DB2-{tag}", bool))) == {(f"D-{tag}-1", "rejected")}
    dup = statuses(await results_for(infra, f"DB-{tag}", lambda rs: (f"D-{tag}-9", "rejected") in statuses(rs)))
    assert dup[(f"D-{tag}-9", "rejected")]["reason_code"] == "DU01"
    original = await results_for(infra, f"DB-{tag}", bool)
    assert [len(p["results"]) for p in original if p["results"][0]["status"] == "accepted"] == [1]  # answered once

    (row,) = bank.ledger(f"D-{tag}-1")
    assert (row["status"], row["amount"], row["times_credited"]) == ("settled", "300.00", 1)
    assert bank.ledger(f"D-{tag}-9") == []


async def test_a_batch_whose_control_totals_do_not_match_is_rejected_whole(bank: Simulator, infra: Stack) -> None:
    tag = uuid.uuid4().hex[:8]
    event = batch_event(
        f"CT-{tag}",
        [payment(f"C-{tag}-1", "6217000000000021", "10.00"), payment(f"C-{tag}-2", "6217000000000022", "20.00")],
        control_sum=Decimal("31.00"),
    )
    await publish(infra, event)
    found = statuses(await results_for(infra, f"CT-{tag}", bool))
    assert set(found) == {(f"C-{tag}-1", "rejected"), (f"C-{tag}-2", "rejected")}
    assert {r["reason_code"] for r in found.values()} == {"AM16"}
    await asyncio.sleep(SETTLE_S + 0.5)
    assert bank.ledger(f"C-{tag}-1") == []


def drop_file(directory: Path, name: str, content: bytes) -> None:
    """As the platform does: write `name.part`, then rename, so the bank never takes half a file."""
    part = directory / f"{name}.part"
    part.write_bytes(content[: len(content) // 2])
    time.sleep(0.3)  # the simulator polls meanwhile and must not take the half-written file
    part.write_bytes(content)
    part.rename(directory / name)


def reports_for(
    inbox: Path, batch_id: str, done: Callable[[list[BankReport]], bool], timeout_s: float = 20
) -> list[BankReport]:
    deadline = time.monotonic() + timeout_s
    while True:
        reports = [read_report(p.read_bytes()) for p in sorted(inbox.glob("*.xml")) if p.is_file()]
        mine = [r for r in reports if r.original_message_id == batch_id or batch_id in r.original_message_ids]
        if done(mine) or time.monotonic() > deadline:
            return sorted(mine, key=lambda r: r.created_at)
        time.sleep(0.3)


def test_files_in_files_out(bank: Simulator) -> None:
    tag = uuid.uuid4().hex[:8].upper()
    batch_id = f"FB-{tag}"
    endings = ("001", "404", "405", "406", "407")
    transfers = [
        CreditTransfer(
            end_to_end_id=f"F-{tag}-{e}",
            amount=Decimal("88.80"),
            creditor_name="王<五> & 六",
            creditor_account=f"62170000000{e}",
            creditor_bank_code=BANK_CODE,
            creditor_bank_name="中国工商银行长沙分行",
            remittance="一次性吸纳就业补贴",
        )
        for e in endings
    ]
    xml = write_pain001(
        PaymentFile(batch_id, datetime.now(UTC), "湖南省人力资源和社会保障厅", "就业补助资金", "43050100000000000001",
                    BANK_CODE, date(2026, 12, 1), transfers)
    )  # fmt: skip
    drop_file(bank.outbox, f"{batch_id}.xml", xml)

    def complete(reports: list[BankReport]) -> bool:
        entries = {(e.end_to_end_id, e.status) for r in reports for e in r.entries}
        return {(f"F-{tag}-406", "returned"), (f"F-{tag}-407", "settled")} <= entries

    reports = reports_for(bank.inbox, batch_id, complete)
    (ack,) = [r for r in reports if r.kind == "pain.002"]
    assert ack.group_status == "PART"
    acked = {e.end_to_end_id: e for e in ack.entries}
    assert {k: (v.status, v.reason_code) for k, v in acked.items()} == {
        f"F-{tag}-001": ("accepted", None),
        f"F-{tag}-404": ("rejected", "AC04"),
        f"F-{tag}-405": ("rejected", "BE01"),
        f"F-{tag}-406": ("accepted", None),
    }
    booked = [
        (e.end_to_end_id, e.status, e.amount, e.reason_code) for r in reports if r.kind == "camt.054" for e in r.entries
    ]
    assert sorted(booked) == sorted(
        [
            (f"F-{tag}-001", "settled", Decimal("88.80"), None),
            (f"F-{tag}-406", "settled", Decimal("88.80"), None),
            (f"F-{tag}-406", "returned", Decimal("88.80"), "MD07"),
            (f"F-{tag}-407", "settled", Decimal("88.80"), None),
        ]
    )
    assert not list(bank.inbox.glob("*.part"))

    # The same file again under another name: the batch id is a duplicate, rejected whole, nothing credited.
    drop_file(bank.outbox, f"{batch_id}-copy.xml", xml)
    reports = reports_for(bank.inbox, batch_id, lambda rs: len([r for r in rs if r.kind == "pain.002"]) == 2)
    copies = [r for r in reports if r.kind == "pain.002" and r.group_status == "RJCT"]
    assert [(r.group_reason_code, len(r.entries)) for r in copies] == [("DU01", 5)]
    assert all(row["times_credited"] == 1 for row in bank.ledger() if row["end_to_end_id"].startswith(f"F-{tag}"))

    # A file that breaks the XSD is refused with the validator's reason.
    drop_file(
        bank.outbox, "broken.xml", xml.replace(b"<PmtMtd>TRF</PmtMtd>", b"").replace(batch_id.encode(), b"FB-BROKEN")
    )
    (refusal,) = reports_for(bank.inbox, "FB-BROKEN", bool)
    assert (refusal.group_status, refusal.group_reason_code) == ("RJCT", "FF01")
    assert "PmtMtd" in (refusal.group_reason_text or "")
