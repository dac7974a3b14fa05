"""Create the registry's topics on a broker: `python -m subsidy_contracts.admin ensure-topics`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, TopicAlreadyExistsError

from .topics import ALL_TOPICS


async def ensure_topics(bootstrap: str, *, replication_factor: int = 1, wait_s: float = 60.0) -> list[str]:
    """Create every missing topic; returns the names created. Existing topics are left as they are."""
    deadline = time.monotonic() + wait_s
    while True:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="subsidy-topic-admin")
        try:
            await admin.start()
            break
        except KafkaConnectionError:
            await admin.close()
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in ALL_TOPICS if t.name not in existing]
        if missing:
            new = [
                NewTopic(
                    t.name,
                    num_partitions=t.partitions,
                    replication_factor=replication_factor,
                    topic_configs={"retention.ms": str(t.retention_days * 86_400_000), **t.config},
                )
                for t in missing
            ]
            # Another process may create them between list and create.
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(new)
        return [t.name for t in missing]
    finally:
        await admin.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m subsidy_contracts.admin")
    sub = parser.add_subparsers(dest="command", required=True)
    ensure = sub.add_parser("ensure-topics", help="create the registry's topics that are missing")
    ensure.add_argument("--bootstrap", required=True)
    ensure.add_argument("--replication-factor", type=int, default=1)
    ensure.add_argument("--wait", type=float, default=60.0, help="seconds to wait for the broker")
    sub.add_parser("list", help="print the registry as 'name partitions'")
    args = parser.parse_args(argv)
    if args.command == "list":
        for t in ALL_TOPICS:
            print(t.name, t.partitions)
        return 0
    created = asyncio.run(ensure_topics(args.bootstrap, replication_factor=args.replication_factor, wait_s=args.wait))
    print(f"topics created: {len(created)}; registry holds {len(ALL_TOPICS)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
