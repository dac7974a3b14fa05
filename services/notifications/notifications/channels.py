"""Channels behind one provider-neutral interface: hand over a batch, get one outcome per message.

Outcomes say what the dispatcher should do: accepted or duplicate (the provider has it: mark sent),
transient (try again later with backoff) or permanent (dead letter). The SMS channel speaks the HTTP batch
protocol of gateway.py; the e-mail channel speaks SMTP through aiosmtplib. The inbox needs no channel: a
message written to it is delivered.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from typing import Literal, Protocol

import aiosmtplib

from .gateway import GatewayRefusedError, SmsGateway, SmsMessage, TransientGatewayError

OutcomeStatus = Literal["accepted", "duplicate", "transient", "permanent"]


@dataclass(frozen=True)
class Outgoing:
    message_id: str  # also the provider's client message id: what makes a resend recognisable
    recipient: str
    subject: str | None
    content: str


@dataclass(frozen=True)
class Outcome:
    message_id: str
    status: OutcomeStatus
    provider_id: str | None = None
    error: str | None = None


class ChannelAdapter(Protocol):
    name: str

    async def send(self, messages: list[Outgoing]) -> list[Outcome]: ...


class SmsChannel:
    name = "sms"

    def __init__(self, gateway: SmsGateway) -> None:
        self.gateway = gateway

    async def send(self, messages: list[Outgoing]) -> list[Outcome]:
        try:
            results = await self.gateway.send_batch(
                [SmsMessage(m.message_id, m.recipient, m.content) for m in messages]
            )
        except TransientGatewayError as exc:
            return [Outcome(m.message_id, "transient", error=str(exc)) for m in messages]
        except GatewayRefusedError as exc:
            return [Outcome(m.message_id, "permanent", error=str(exc)) for m in messages]
        by_id = {r.client_msg_id: r for r in results}
        out = []
        for m in messages:
            r = by_id.get(m.message_id)
            if r is None:
                out.append(Outcome(m.message_id, "transient", error="the gateway did not answer for this message"))
            elif r.status in ("accepted", "duplicate"):
                out.append(Outcome(m.message_id, r.status, r.gateway_msg_id))  # type: ignore[arg-type]
            else:
                out.append(Outcome(m.message_id, "permanent", error=r.error or r.status))
        return out


class EmailChannel:
    """Plain-text UTF-8 mail over SMTP. The Message-ID is derived from the message id, so a resend after a
    crash carries the same id, and mail systems that de-duplicate on Message-ID deliver it once (SMTP itself
    has no idempotency: a relay that does not de-duplicate would deliver the copy)."""

    name = "email"

    def __init__(
        self, host: str, port: int, sender: str, *, concurrency: int = 20, timeout_s: float = 10.0, domain: str = ""
    ) -> None:
        self.host = host
        self.port = port
        self.sender = sender
        self.timeout_s = timeout_s
        self.domain = domain or sender.partition("@")[2] or "localhost"
        self._slots = asyncio.Semaphore(concurrency)

    def build(self, m: Outgoing) -> EmailMessage:
        mail = EmailMessage()
        mail["From"] = self.sender
        mail["To"] = m.recipient
        mail["Subject"] = m.subject or ""
        mail["Date"] = formatdate(localtime=False)
        mail["Message-ID"] = f"<{m.message_id}@{self.domain}>"
        mail.set_content(m.content, charset="utf-8")
        return mail

    async def _send_one(self, m: Outgoing) -> Outcome:
        async with self._slots:
            try:
                await aiosmtplib.send(
                    self.build(m), hostname=self.host, port=self.port, timeout=self.timeout_s, start_tls=False
                )
            except aiosmtplib.SMTPRecipientsRefused as exc:
                codes = [r.code for r in exc.recipients]
                kind: OutcomeStatus = "permanent" if all(500 <= c < 600 for c in codes) else "transient"
                return Outcome(m.message_id, kind, error=f"recipient refused: {codes}")
            except aiosmtplib.SMTPResponseException as exc:
                kind = "permanent" if 500 <= exc.code < 600 else "transient"
                return Outcome(m.message_id, kind, error=f"SMTP {exc.code}: {exc.message[:200]}")
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
                return Outcome(m.message_id, "transient", error=f"{type(exc).__name__}: {exc}")
        return Outcome(m.message_id, "accepted", f"<{m.message_id}@{self.domain}>")

    async def send(self, messages: list[Outgoing]) -> list[Outcome]:
        return list(await asyncio.gather(*(self._send_one(m) for m in messages)))
