"""Money parsing: the fast path for plain two-decimal strings gives exactly what the general path gives."""

from __future__ import annotations

from decimal import Decimal

import pytest

from subsidy_contracts.money import FEN, parse_money


@pytest.mark.parametrize("text", ["1900.00", "0.00", "-0.00", "-12.50", "0.01", "1234567890123.45", "007.10"])
def test_plain_amounts_are_read_as_the_general_path_reads_them(text: str) -> None:
    value = parse_money(text)
    expected = Decimal(text).quantize(FEN)
    assert value == expected
    assert value.as_tuple() == expected.as_tuple()  # same digits and exponent, not only equal


@pytest.mark.parametrize("text", [" 1.00", "1.5", "1e3", "12345678901234.00", "12"])
def test_other_amounts_still_take_the_general_path(text: str) -> None:
    assert parse_money(text).as_tuple().exponent == -2


@pytest.mark.parametrize("bad", ["1.001", "abc", "1.00.0", 1.5, True])
def test_bad_amounts_are_still_refused(bad: object) -> None:
    with pytest.raises(ValueError, match=r"."):
        parse_money(bad)
