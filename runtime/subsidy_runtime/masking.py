"""Masking of personal numbers in logs and messages: resident IDs, bank and social-security-card accounts,
mobile numbers. Formats follow the platform rule: 4301**********1234, ****1234, 138****5678."""

from __future__ import annotations

import re
from typing import Any

_NOT_ALNUM_BEFORE = r"(?<![0-9A-Za-z\-])"
_NOT_ALNUM_AFTER = r"(?![0-9A-Za-z])"
_ID_NUMBER = re.compile(_NOT_ALNUM_BEFORE + r"(\d{4})\d{10}(\d{3}[0-9Xx])" + _NOT_ALNUM_AFTER)
_ACCOUNT = re.compile(_NOT_ALNUM_BEFORE + r"\d{8,28}(\d{4})" + _NOT_ALNUM_AFTER)
_MOBILE = re.compile(_NOT_ALNUM_BEFORE + r"(1[3-9]\d)\d{4}(\d{4})" + _NOT_ALNUM_AFTER)


def mask_id_number(value: str) -> str:
    """Resident ID (18 characters): keep the first four and the last four."""
    if len(value) != 18:
        return "*" * len(value)
    return f"{value[:4]}{'*' * 10}{value[-4:]}"


def mask_account(value: str) -> str:
    """Account or card number: keep the last four."""
    return f"****{value[-4:]}" if len(value) > 4 else "****"


def mask_mobile(value: str) -> str:
    return f"{value[:3]}****{value[-4:]}" if len(value) == 11 else "*" * len(value)


def mask_text(text: str) -> str:
    """Mask every resident ID, account-like digit run and mobile number found in free text."""
    if not any(c.isdigit() for c in text):
        return text
    text = _ID_NUMBER.sub(lambda m: f"{m.group(1)}{'*' * 10}{m.group(2)}", text)
    text = _ACCOUNT.sub(lambda m: f"****{m.group(1)}", text)
    return _MOBILE.sub(lambda m: f"{m.group(1)}****{m.group(2)}", text)


def mask_value(value: Any) -> Any:
    """Mask strings inside nested dicts, lists and tuples (structured log records)."""
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {k: mask_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(mask_value(v) for v in value)
    return value
