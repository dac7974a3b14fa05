"""SMTP server for local stacks and tests (aiosmtpd): accepts mail for anyone and keeps every message.

Each accepted message is appended as one JSON line to the mailbox file (message id, sender, recipients,
subject, plain-text body, time), which tests read to check what was sent and how often. Like the mail
systems that drop a message whose Message-ID they already delivered (Gmail, Exchange), a repeated
Message-ID is accepted but not delivered again; it is logged in duplicates.jsonl beside the mailbox.
Recipients whose local part starts with "bounce" are refused with 550 (a permanent failure), those starting
with "busy" with 451 (a transient one).

    python -m deploy.local.simulators.smtp_server --port 8025 --mailbox .run/dev/mail/received.jsonl
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import time
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import orjson
from aiosmtpd.smtp import SMTP, Envelope, Session


class MailboxHandler:
    def __init__(self, mailbox: Path) -> None:
        self.mailbox = mailbox
        self.duplicates = mailbox.with_name("duplicates.jsonl")
        mailbox.parent.mkdir(parents=True, exist_ok=True)
        self.seen: set[str] = set()
        if mailbox.exists():  # a restarted server still knows what it delivered
            self.seen = {orjson.loads(line)["message_id"] for line in mailbox.read_bytes().splitlines() if line}

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        local = address.partition("@")[0].lower()
        if local.startswith("bounce"):
            return "550 5.1.1 mailbox unavailable"
        if local.startswith("busy"):
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content
        data = raw if isinstance(raw, bytes) else str(raw).encode()
        mail: Any = message_from_bytes(data, policy=policy.default)
        body = mail.get_body(preferencelist=("plain",)) if isinstance(mail, EmailMessage) else None
        record = {
            "message_id": mail.get("Message-ID"),
            "from": envelope.mail_from,
            "to": list(envelope.rcpt_tos),
            "subject": str(mail.get("Subject", "")),
            "body": body.get_content() if body is not None else "",
            "received_at": time.time(),
        }
        message_id = record["message_id"]
        if message_id and message_id in self.seen:
            with self.duplicates.open("ab") as f:
                f.write(orjson.dumps(record) + b"\n")
            return "250 Message accepted (duplicate Message-ID: not delivered again)"
        if message_id:
            self.seen.add(message_id)
        with self.mailbox.open("ab") as f:
            f.write(orjson.dumps(record) + b"\n")
        return "250 Message accepted"


async def serve(host: str, port: int, mailbox: Path) -> None:
    handler = MailboxHandler(mailbox)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="smtp.local", data_size_limit=1_048_576), host, port
    )
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    print(f"SMTP server on {host}:{port}, mailbox {mailbox}", flush=True)
    await stop.wait()
    server.close()
    await server.wait_closed()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument("--mailbox", type=Path, required=True)
    args = parser.parse_args()
    asyncio.run(serve(args.host, args.port, args.mailbox))


if __name__ == "__main__":
    main()
