"""Money on the wire: yuan with exactly two decimals (fen), carried as a JSON string, never a float."""

import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

FEN = Decimal("0.01")
MONEY_PATTERN = r"^-?\d{1,13}(\.\d{1,2})?$"


_PLAIN_FEN = re.compile(r"-?\d{1,13}\.\d\d")


def parse_money(value: Any) -> Decimal:
    """Accept a decimal string, an int or a Decimal; refuse floats and sub-fen precision."""
    if type(value) is str and _PLAIN_FEN.fullmatch(value):
        return Decimal(value)  # the usual "1128.00": already exact to the fen (what quantize would return)
    if isinstance(value, bool | float):
        raise ValueError('money must be a decimal string such as "1128.00", not a binary float')
    if isinstance(value, int):
        value = Decimal(value)
    if isinstance(value, str):
        try:
            value = Decimal(value.strip())
        except InvalidOperation as exc:
            raise ValueError(f"not a decimal amount: {value!r}") from exc
    if not isinstance(value, Decimal):
        raise ValueError(f"money must be a decimal string, got {type(value).__name__}")
    if not value.is_finite():
        raise ValueError("money must be finite")
    if value != value.quantize(FEN):
        raise ValueError(f"money has at most two decimals (fen): {value}")
    return value.quantize(FEN)


def format_money(value: Decimal) -> str:
    return f"{value.quantize(FEN):f}"


Money = Annotated[
    Decimal,
    BeforeValidator(parse_money),
    PlainSerializer(format_money, return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": MONEY_PATTERN,
            "description": "Amount in yuan with at most two decimals (fen), as a decimal string.",
            "examples": ["1128.00"],
        }
    ),
]
