"""The demo: push a batch of internship-subsidy applications through the running local platform and print
what happened at every stage (./dev demo)."""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import time
from decimal import Decimal

import httpx

from . import pipeline
from .client import RegistrationClient


def _env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        sys.exit(f"{name} is not set: run through ./dev demo")
    return value


async def main(n: int, seed: int) -> int:
    reg_url = f"http://127.0.0.1:{_env('REGISTRATION_HTTP_PORT')}"
    admin_dsn = _env("ADMIN_DATABASE_URL")
    client = RegistrationClient(reg_url)
    try:
        print(f"Registering {max(1, n // 20)} host units and {n} interns, then submitting {n} applications ...")
        started = time.monotonic()
        interns, bodies = await pipeline.prepare(client, n, seed)
        submitted = await pipeline.submit_all(client, interns, bodies)
        ids = [s.application_id for s in submitted]
        counts = await pipeline.wait_complete(admin_dsn, ids, timeout_s=max(60.0, n / 20))
        elapsed = time.monotonic() - started
        sample = await client.get_application(ids[0])
    finally:
        await client.close()
    async with httpx.AsyncClient() as http:
        sms = (await http.get(f"http://127.0.0.1:{_env('SMS_GATEWAY_PORT')}/v1/sms/stats")).json()
    done = pipeline.complete(counts, n)
    outcomes = counts["decisions_by_outcome"]
    print()
    print("Demo summary")
    print("============")
    print(f"applications submitted      {counts['applications']:>8}")
    print(
        f"decisions                   {counts['decisions']:>8}   "
        + ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items()))
    )
    print(f"approved amount (yuan)      {Decimal(counts['approved_amount']):>12,.2f}")
    print(
        f"payment instructions        {counts['payment_instructions']:>8}   amount {Decimal(counts['payment_instructions_amount']):,.2f} yuan"
    )
    print(
        "  by bank status            "
        + ", ".join(
            f"{k} {v['count']} ({Decimal(v['amount']):,.2f})" for k, v in sorted(counts["payments_by_status"].items())
        )
    )
    print(
        "  bank batches              "
        + ", ".join(f"{k} {v}" for k, v in sorted(counts["bank_batches_by_channel"].items()))
        + "   (file: ISO 20022 pain.001 files; kafka: bank.payment-batches.v1)"
    )
    print(
        f"messages                    {sum(counts['messages_by_status'].values()):>8}   "
        + ", ".join(f"{k} {v}" for k, v in counts["messages_by_status"].items())
    )
    print(
        f"SMS gateway                 delivered {sms['delivered']}, duplicates refused {sms['duplicates']}, rejected {sms['rejected']}"
    )
    print(f"pipeline complete           {'yes' if done else 'NO (timed out)'} in {elapsed:.1f} s")
    print()
    print(
        f"One application: {reg_url}/v1/applications/{sample['application_id']}"
        f"  (requests signed as {client.integration_id}; keys in deploy/local/integrations.yaml)"
    )
    print(f"  status {sample['status']}, timeline: " + " → ".join(e["kind"] for e in sample["timeline"]))
    print("Metrics (Prometheus text format):")
    for svc in ("registration", "eligibility", "payments", "notifications"):
        print(f"  {svc:<14} http://127.0.0.1:{_env(svc.upper() + '_HTTP_PORT')}/metrics")
    print(
        "Payments API (funds, batches, breaks): see docs/payments.md; Prometheus: bash deploy/local/stack.sh prometheus-up"
    )
    print("Stop everything with ./dev down; logs with ./dev logs [name].")
    return 0 if done else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m deploy.local.demo.run")
    parser.add_argument("--applications", type=int, default=500)
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: a new one each run)")
    args = parser.parse_args()
    raise SystemExit(
        asyncio.run(main(args.applications, args.seed if args.seed is not None else random.randrange(10**9)))
    )
