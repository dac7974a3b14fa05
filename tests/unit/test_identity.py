from datetime import date

import pytest
from stdnum import luhn
from stdnum.cn import ric

from registration.domain import identity
from registration.domain.errors import InvalidField

VALID_ID = "11010519491231002X"  # the GB 11643 example number


def with_check_digit(first17: str) -> str:
    return first17 + ric.calc_check_digit(first17 + "0")  # stdnum ignores the last character


def test_valid_resident_id_gives_birth_date_and_sex() -> None:
    resident = identity.parse_resident_id(VALID_ID)
    assert resident.birth_date == date(1949, 12, 31)
    assert resident.sex == "female"
    assert resident.masked == "1101**********002X"


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        ("110105194912310021", "check digit"),
        ("11010519491231002", "18"),
        (with_check_digit("11010519491331002"), "birth date or address"),  # 31st of the 13th month
        (with_check_digit("99010519491231002"), "birth date or address"),  # no such region
    ],
)
def test_bad_resident_ids_are_refused_with_the_reason(number: str, reason: str) -> None:
    with pytest.raises(InvalidField) as err:
        identity.parse_resident_id(number)
    assert err.value.field == "id_number"
    assert reason in err.value.reason_en
    assert err.value.reason_zh


def test_birth_date_must_match_the_id() -> None:
    resident = identity.parse_resident_id(VALID_ID)
    identity.check_birth_consistent(resident, date(1949, 12, 31))
    with pytest.raises(InvalidField, match="does not match"):
        identity.check_birth_consistent(resident, date(1950, 1, 1))


def test_credit_code_check_character() -> None:
    assert identity.check_credit_code("91110000600037341L") == "91110000600037341L"
    with pytest.raises(InvalidField, match="check character"):
        identity.check_credit_code("91110000600037341M")


def test_card_number_luhn() -> None:
    good = "621700123456789012" + luhn.calc_check_digit("621700123456789012")
    assert identity.check_card_number(good) == good
    bad = good[:-1] + str((int(good[-1]) + 1) % 10)
    with pytest.raises(InvalidField, match="Luhn"):
        identity.check_card_number(bad)


@pytest.mark.parametrize("code", ["430102", "140105", "430000"])
def test_current_region_codes_pass(code: str) -> None:
    assert identity.check_region_code(code) == code


@pytest.mark.parametrize(
    ("code", "reason"), [("140102", "no longer in use"), ("990101", "does not exist"), ("43A102", "6 digits")]
)
def test_bad_region_codes_are_refused(code: str, reason: str) -> None:
    with pytest.raises(InvalidField, match=reason):
        identity.check_region_code(code)


def test_mobile_numbers() -> None:
    assert identity.check_mobile("13812345678") == "13812345678"
    with pytest.raises(InvalidField):
        identity.check_mobile("12812345678")
