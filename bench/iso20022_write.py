"""ISO 20022 benchmark: write N transfers as pain.001.001.09 files of F transfers each, then XSD-validate them,
and print transfers per second for each step as JSON.

    python -m bench.iso20022_write --transfers 1000000 --per-file 10000 [--out DIR] [--validate-sample 1.0]

The transfers (realistic Chinese names and bank names, amounts in yuan with fen, a few names with XML
special characters) are built before the clock starts: they stand for the rows the payments service reads
from its database. Wall-clock and CPU seconds are both reported: on a shared machine the CPU figure is the
one that says what the code costs. "write" times write_pain001 plus writing each file to disk (`.part`, then rename, as the
service does); "validate" times reading each file back and validating it against the official XSD; "read"
times read_report (XSD validation included) on a camt.054 and a pain.002 of one file's transfers, as the
bank simulator writes them. Files are written into a temporary folder (deleted afterwards) unless --out is
given.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from deploy.local.simulators import bank as simulator
from payments.iso20022 import PAIN001, CreditTransfer, PaymentFile, read_report, validate, write_pain001

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗欧阳司马"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英"
BANKS = [
    ("102551000015", "中国工商银行股份有限公司长沙分行"),
    ("103551000016", "中国农业银行股份有限公司长沙分行"),
    ("104551000017", "中国银行股份有限公司长沙分行"),
    ("105551000018", "中国建设银行股份有限公司长沙分行"),
    ("402551000019", "长沙农村商业银行股份有限公司"),
]
REMITTANCES = ["一次性吸纳就业补贴", "社会保险补贴 2026年11月", "职业技能培训补贴", "公益性岗位补贴 2026年第四季度"]


def make_transfers(count: int, seed: int = 20261130) -> list[CreditTransfer]:
    rng = random.Random(seed)
    out = []
    for i in range(count):
        bank_code, bank_name = BANKS[i % len(BANKS)]
        name = rng.choice(SURNAMES) + "".join(rng.choices(GIVEN, k=rng.randint(1, 2)))
        if i % 1000 == 0:
            name = f"{name}（A&B<劳务>公司）"  # an enterprise payee with characters XML must escape
        out.append(
            CreditTransfer(
                end_to_end_id=f"P{i:015d}-1",
                amount=Decimal(rng.randint(1, 2_000_000)).scaleb(-2),  # as read from NUMERIC(14, 2)
                creditor_name=name,
                creditor_account=f"6217{rng.randrange(10**14):014d}",
                creditor_bank_code=bank_code,
                creditor_bank_name=bank_name,
                remittance=REMITTANCES[i % len(REMITTANCES)],
            )
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transfers", type=int, default=1_000_000)
    parser.add_argument("--per-file", type=int, default=10_000)
    parser.add_argument("--out", type=Path, default=None, help="keep the files here (default: a temporary folder)")
    parser.add_argument(
        "--validate-sample", type=float, default=1.0, help="share of the files to XSD-validate (1.0: all)"
    )
    args = parser.parse_args()

    transfers = make_transfers(args.transfers)
    created_at = datetime.now(UTC)
    chunks = [transfers[i : i + args.per_file] for i in range(0, len(transfers), args.per_file)]
    with tempfile.TemporaryDirectory(prefix="iso20022-bench-") as tmp:
        out = args.out or Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        paths: list[Path] = []
        started, cpu_started = time.perf_counter(), time.process_time()
        for n, chunk in enumerate(chunks):
            message_id = f"B-20261130-{n:06d}"
            xml = write_pain001(
                PaymentFile(
                    message_id=message_id,
                    created_at=created_at,
                    initiating_party="湖南省人力资源和社会保障厅",
                    debtor_name="就业补助资金",
                    debtor_account="43050100000000000001",
                    debtor_bank_code=BANKS[0][0],
                    requested_execution_date=date(2026, 12, 1),
                    transfers=chunk,
                )
            )
            part = out / f"{message_id}.xml.part"
            part.write_bytes(xml)
            os.replace(part, out / f"{message_id}.xml")
            paths.append(out / f"{message_id}.xml")
        write_s, write_cpu_s = time.perf_counter() - started, time.process_time() - cpu_started
        written_bytes = sum(p.stat().st_size for p in paths)

        step = max(1, round(1 / args.validate_sample)) if args.validate_sample > 0 else 0
        sample = paths[::step] if step else []
        started, cpu_started = time.perf_counter(), time.process_time()
        for path in sample:
            validate(path.read_bytes(), PAIN001)
        validate_s, validate_cpu_s = time.perf_counter() - started, time.process_time() - cpu_started
        validated = sum(len(chunks[paths.index(p)]) for p in sample)

    # Reading bank answers: a camt.054 and a pain.002 of one file's transfers, as the bank simulator writes them.
    chunk = chunks[0]
    report = simulator.Report(
        report_id="BENCH-STL", stage="settle", channel="file", batch_id="B-20261130-000000", bank_code=BANKS[0][0],
        debtor_name="就业补助资金", debtor_account="43050100000000000001", declared_count=len(chunk),
        declared_sum=None,
        entries=[
            simulator.Entry(t.end_to_end_id, "settled", str(t.amount), "B-20261130-000000", t.creditor_name,
                            t.creditor_account, bank_reference=f"SIM{n:017d}")
            for n, t in enumerate(chunk)
        ],
    )  # fmt: skip
    camt054 = simulator.render_camt054(report)
    report.stage = "ack"
    for entry in report.entries:
        entry.status = "accepted"
    pain002 = simulator.render_pain002(report)
    cpu_started = time.process_time()
    read = len(read_report(camt054).entries)
    read_camt_cpu_s = time.process_time() - cpu_started
    cpu_started = time.process_time()
    read += len(read_report(pain002).entries)
    read_pain_cpu_s = time.process_time() - cpu_started
    assert read == 2 * len(chunk)

    result = {
        "benchmark": "iso20022_write",
        "transfers": len(transfers),
        "files": len(paths),
        "per_file": args.per_file,
        "megabytes_written": round(written_bytes / 1e6, 1),
        "write_seconds": round(write_s, 2),
        "write_transfers_per_s": round(len(transfers) / write_s),
        "write_cpu_seconds": round(write_cpu_s, 2),
        "write_transfers_per_cpu_s": round(len(transfers) / write_cpu_s),
        "validated_transfers": validated,
        "validate_seconds": round(validate_s, 2),
        "validate_transfers_per_s": round(validated / validate_s) if validated else None,
        "validate_cpu_seconds": round(validate_cpu_s, 2),
        "validate_transfers_per_cpu_s": round(validated / validate_cpu_s) if validated else None,
        "read_camt054_entries_per_cpu_s": round(len(chunk) / read_camt_cpu_s),
        "read_pain002_entries_per_cpu_s": round(len(chunk) / read_pain_cpu_s),
        "python": sys.version.split()[0],
        "machine": f"{platform.machine()}, {os.cpu_count()} cpus",
        "load_average_1m": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(result, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
