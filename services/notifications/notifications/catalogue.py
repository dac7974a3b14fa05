"""The message catalogue and its Chinese templates (Jinja2, one file per kind in templates/).

Each template file defines three blocks: `sms` (one short text, the signature first), `subject` and `body`
(the e-mail, also shown in the platform's inbox). Every rendered text passes through the masking of
resident IDs and account numbers, so a template or a context value can never leak one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, Template

from subsidy_runtime.masking import mask_text


@dataclass(frozen=True)
class Kind:
    """A kind of message: its template file, its priority (lower goes first) and whether it is urgent
    (urgent SMS may be sent in quiet hours)."""

    name: str
    priority: int
    urgent: bool = False
    description: str = ""


# Payment failures first (the person must act), then money and decisions, receipts, reminders last.
KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind("payment_failed", 1, urgent=True, description="payment failed or returned, with what to do"),
        Kind("payment_arrived", 2, description="bank-confirmed credit (settled), never on dispatch"),
        Kind("payment_sent", 2, description="payment handed to the bank"),
        Kind("decision_eligible", 3, description="approved, with amount and schedule"),
        Kind("decision_public_notice", 3, description="approved subject to 公示: publication started"),
        Kind("decision_ineligible", 3, description="refused, with the reasons in plain Chinese"),
        Kind("decision_review", 3, description="sent to a caseworker, naming missing materials"),
        Kind("decision_revised", 3, description="a caseworker revised the decision"),
        Kind("public_notice_released", 3, description="公示 ended without objection: released for payment"),
        Kind("public_notice_objected", 3, description="公示 ended with an objection: under review"),
        Kind("application_received", 5, description="application received, with its reference"),
        Kind("reminder_materials_missing", 6, description="materials still missing on a case under review"),
        Kind("reminder_period_ending", 7, description="the subsidy period ends in 30 days"),
        Kind("reminder_appraisal_due", 7, description="annual appraisal due before the next yearly instalment"),
    )
}

# Plain text, not HTML: SMS and mail bodies are text/plain; escaping would mangle the text.
ENV = Environment(
    loader=PackageLoader("notifications", "templates"),
    undefined=StrictUndefined,
    autoescape=False,  # noqa: S701
    keep_trailing_newline=False,
    trim_blocks=True,
    lstrip_blocks=True,
)
BLOCKS = ("sms", "subject", "body")


@dataclass(frozen=True)
class Rendered:
    sms: str
    subject: str
    body: str


_cache: dict[str, Template] = {}
# Every number masking hides (resident ID, account, mobile) holds at least 11 digits in a row: texts without
# such a run are left as they are without scanning them character by character.
_LONG_DIGITS = re.compile(r"\d{11}")


def masked(text: str) -> str:
    return mask_text(text) if _LONG_DIGITS.search(text) else text


def template(kind: str) -> Template:
    t = _cache.get(kind)
    if t is None:
        if kind not in KINDS:
            raise KeyError(f"no message kind {kind!r}")
        t = _cache[kind] = ENV.get_template(f"{kind}.j2")
        missing = [b for b in BLOCKS if b not in t.blocks]
        if missing:
            raise ValueError(f"template {kind}.j2 lacks the blocks {missing}")
    return t


def render_block(kind: str, block: str, context: dict[str, Any]) -> str:
    t = template(kind)
    text = "".join(t.blocks[block](t.new_context(context, shared=True))).strip()
    return masked(text)


def render(kind: str, context: dict[str, Any], *, sms: bool = True, mail: bool = True) -> Rendered:
    t = template(kind)
    # shared: the context is used as it is, not merged with the environment's globals (the templates use none).
    ctx = t.new_context(context, shared=True)

    def block(name: str) -> str:
        return masked("".join(t.blocks[name](ctx)).strip())

    return Rendered(
        sms=block("sms") if sms else "",
        subject=block("subject") if mail else "",
        body=block("body") if mail else "",
    )
