"""ISO 20022 files exchanged with banks: pain.001.001.09 out; pain.002.001.12 and camt.054.001.08 in.

Pure: no I/O but reading the official XSD files committed in xsd/ (see xsd/NOTICE.md).
"""

from .model import (
    CAMT054,
    PAIN001,
    PAIN002,
    BankReport,
    CreditTransfer,
    InvalidMessage,
    MessageName,
    PaymentFile,
    PaymentReport,
)
from .pain001 import write_pain001
from .reports import NOT_PROVIDED, read_report
from .schemas import XSD_DIR, validate

__all__ = [
    "CAMT054",
    "NOT_PROVIDED",
    "PAIN001",
    "PAIN002",
    "XSD_DIR",
    "BankReport",
    "CreditTransfer",
    "InvalidMessage",
    "MessageName",
    "PaymentFile",
    "PaymentReport",
    "read_report",
    "validate",
    "write_pain001",
]
