"""The topic registry: every topic the platform uses, its partition count, its key and what it carries.

Topics are created from this list (auto-creation is off on the brokers), by deploy/local and by
docker-compose.yml alike, so there is one place to change a name or a partition count. Partition counts
are divisible by 1, 2, 3, 4 and 6 so that consumer groups of those sizes share the work evenly; adding
partitions later remaps keys and breaks per-key ordering, so choose them up front.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .bank import PaymentBatch, PaymentResults
from .eligibility import DecisionMade, DecisionRevised, EntitlementReleased, PublicNoticeEnded
from .envelope import Event
from .intake import IntakeResult
from .notifications import MessageSent
from .payments import PaymentInstructionCreated, PaymentStatusChanged, ReceivableOpened
from .registration import ApplicationSubmitted, ApplicationWithdrawn, PayeeAccountRegistered

SERVICES = ("registration", "eligibility", "payments", "notifications")

# An intake batch may hold 1,000 records (IntakeBatch): a few MB, more than Kafka's 1 MiB default. Failure topics
# carry a whole original record (a dead letter quotes it), so they allow more still.
INTAKE_MAX_MESSAGE_BYTES = 8 * 1024 * 1024
FAILURE_MAX_MESSAGE_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class Topic:
    name: str
    partitions: int
    key: str
    description: str
    events: tuple[type[Event], ...] = ()
    retention_days: int = 7
    config: dict[str, str] = field(default_factory=dict)

    def event_types(self) -> tuple[str, ...]:
        return tuple(e.type_name() for e in self.events)


APPLICATIONS = Topic(
    "registration.applications.v1",
    12,
    key="applicant id",
    description="Applications submitted and withdrawn.",
    events=(ApplicationSubmitted, ApplicationWithdrawn),
)
PAYEE_ACCOUNTS = Topic(
    "registration.payee-accounts.v1",
    12,
    key="owner id",
    description="Payee accounts registered for the first time (payments re-issues failed payments to them).",
    events=(PayeeAccountRegistered,),
)
INTAKE = Topic(
    "registration.intake.v1",
    12,
    key="integration id",
    description="Signed batches of intake records pushed by provincial platforms (contract: IntakeBatch).",
    retention_days=14,
    config={"max.message.bytes": str(INTAKE_MAX_MESSAGE_BYTES)},
)
INTAKE_RESULTS = Topic(
    "registration.intake-results.v1",
    12,
    key="integration id",
    description="One result per intake record: accepted, already accepted, duplicate or rejected with reasons.",
    events=(IntakeResult,),
    retention_days=14,
)
DECISIONS = Topic(
    "eligibility.decisions.v1",
    12,
    key="applicant id",
    description="Eligibility decisions with their explanation, and entitlements released for payment.",
    events=(DecisionMade, EntitlementReleased, PublicNoticeEnded, DecisionRevised),
)
PAYMENTS = Topic(
    "payments.payments.v1",
    12,
    key="applicant id",
    description="Payment instructions and their state changes.",
    events=(PaymentInstructionCreated, PaymentStatusChanged, ReceivableOpened),
)
BANK_BATCHES = Topic(
    "bank.payment-batches.v1",
    6,
    key="bank code (CNAPS)",
    description="Payment batches released to banks, with control totals (the pain.001 content).",
    events=(PaymentBatch,),
    retention_days=30,
)
BANK_RESULTS = Topic(
    "bank.payment-results.v1",
    6,
    key="bank code (CNAPS)",
    description="Per-payment results reported by banks (the pain.002 / camt.054 content).",
    events=(PaymentResults,),
    retention_days=30,
)
MESSAGES = Topic(
    "notifications.messages.v1",
    12,
    key="applicant id",
    description="Messages delivered to applicants, enterprises, guardians and proxies.",
    events=(MessageSent,),
)


def dead_letter_topic(service: str) -> Topic:
    return Topic(
        f"{service}.dead-letter.v1",
        3,
        key="original record key",
        description=f"Records {service} could not process, with the reason (contract: DeadLetter).",
        retention_days=30,
        config={"max.message.bytes": str(FAILURE_MAX_MESSAGE_BYTES)},
    )


def retry_topic(service: str) -> Topic:
    return Topic(
        f"{service}.retry.v1",
        3,
        key="original record key",
        description=f"Records {service} will try again after a delay (headers carry attempt and due time).",
        config={"max.message.bytes": str(FAILURE_MAX_MESSAGE_BYTES)},
    )


DOMAIN_TOPICS = (
    APPLICATIONS,
    PAYEE_ACCOUNTS,
    INTAKE_RESULTS,
    DECISIONS,
    PAYMENTS,
    BANK_BATCHES,
    BANK_RESULTS,
    MESSAGES,
)
FAILURE_TOPICS = tuple(t for s in SERVICES for t in (dead_letter_topic(s), retry_topic(s)))
ALL_TOPICS: tuple[Topic, ...] = (*DOMAIN_TOPICS, INTAKE, *FAILURE_TOPICS)
EVENT_CLASSES: dict[str, type[Event]] = {e.type_name(): e for t in DOMAIN_TOPICS for e in t.events}


def topic_for(event_type: str) -> Topic:
    for t in DOMAIN_TOPICS:
        if event_type in t.event_types():
            return t
    raise KeyError(f"no topic carries {event_type}")
